"""HealthBand: repay and boost land exactly on the target HF after fee and gas (docs/loans.md)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ballast.errors import InputError
from ballast.positions import HealthBand, Loan, LoanState, apply_move

ETH = Loan(["ETH"], "USDC", ltv=0.80, liquidation_threshold=0.85, liquidation_bonus=0.05)
BAND = HealthBand(repay_below=1.5, repay_to=1.7, boost_above=2.3, boost_to=2.0)


def prices(eth: float) -> dict[str, float]:
    return {"ETH": eth, "BTC": 50_000.0, "USDC": 1.0}


def settle_by_hand(
    state: LoanState, kind: str, units: float, borrowed: float, p: float, fee: float, gas: float
) -> LoanState:
    """The swap done step by step, independently of the closed form: a repay sells ``units`` ETH,
    receives (1 − fee)·p·units USDC, pays gas from it and repays the rest; a boost borrows
    ``borrowed`` USDC, swaps it for (1 − fee)·borrowed of ETH, pays gas from it."""
    c, d = state.collateral[0], state.debt
    if kind == "repay":
        return LoanState((c - units,), d - ((1 - fee) * p * units - gas))
    return LoanState((c + ((1 - fee) * borrowed - gas) / p,), d + borrowed)


@pytest.mark.parametrize("fee", [0.0, 0.003, 0.01])
@pytest.mark.parametrize("gas", [0.0, 25.0, 400.0])
def test_repay_and_boost_land_on_target_after_costs(fee: float, gas: float) -> None:
    state = LoanState((10.0,), 10_000.0)
    low, high = prices(1_600.0), prices(3_200.0)  # HF 1.36 and 2.72
    repay = BAND.plan(ETH, state, low, fee, gas)
    assert repay is not None and repay.kind == "repay"
    after = settle_by_hand(state, "repay", -repay.collateral_change, 0.0, 1_600.0, fee, gas)
    assert after.health_factor(ETH, low) == pytest.approx(1.7, rel=1e-12)
    assert apply_move(state, repay).health_factor(ETH, low) == pytest.approx(1.7, rel=1e-12)
    assert repay.hf_after == pytest.approx(1.7, rel=1e-12)
    boost = BAND.plan(ETH, state, high, fee, gas)
    assert boost is not None and boost.kind == "boost"
    after = settle_by_hand(state, "boost", 0.0, boost.debt_change, 3_200.0, fee, gas)
    assert after.health_factor(ETH, high) == pytest.approx(2.0, rel=1e-12)
    assert apply_move(state, boost).health_factor(ETH, high) == pytest.approx(2.0, rel=1e-12)
    assert boost.fee_paid == pytest.approx(fee * boost.debt_change, rel=1e-12)


def test_matches_defi_savers_closed_forms() -> None:
    """DeFi Saver's simulator targets the ratio r = p·c/d and takes gas g in collateral units from
    the swap's output: boost Δdebt = (p·c − p·g − t·d)/(t − γ), repay Δcoll = (t·d + t·p·g − p·c)/(p(γt − 1)).
    Our HF is LT·r, so a target ratio t is the HF target LT·t, and LT cancels out of our forms."""
    p, c, g, fee = 2_000.0, 10.0, 0.01, 0.003
    gamma, lt = 1 - fee, ETH.thresholds["ETH"]
    band = HealthBand(1.5 * lt, 2.0 * lt, 3.0 * lt, 2.5 * lt)
    d, t = 6_000.0, 2.5  # ratio 3.33 > 3: boost to 2.5
    boost = band.plan(ETH, LoanState((c,), d), prices(p), fee, gas=p * g)
    assert boost is not None and boost.kind == "boost"
    assert boost.debt_change == pytest.approx((p * c - p * g - t * d) / (t - gamma), rel=1e-12)
    d, t = 14_000.0, 2.0  # ratio 1.43 < 1.5: repay to 2
    repay = band.plan(ETH, LoanState((c,), d), prices(p), fee, gas=p * g)
    assert repay is not None and repay.kind == "repay"
    assert -repay.collateral_change == pytest.approx((t * d + t * p * g - p * c) / (p * (gamma * t - 1)), rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    eth=st.floats(300.0, 10_000.0),
    btc_units=st.floats(0.0, 2.0),
    debt=st.floats(1_000.0, 60_000.0),
    fee=st.floats(0.0, 0.01),
    gas=st.floats(0.0, 50.0),
)
def test_moves_are_exact_and_idempotent(eth: float, btc_units: float, debt: float, fee: float, gas: float) -> None:
    loan = Loan(["ETH", "BTC"], "USDC", {"ETH": 0.8, "BTC": 0.7}, {"ETH": 0.85, "BTC": 0.75})
    state = LoanState((10.0, btc_units), debt)
    p = prices(eth)
    move = BAND.plan(loan, state, p, fee, gas, asset="ETH")
    hf = state.health_factor(loan, p)
    if BAND.repay_below <= hf <= 2.3:
        assert move is None
        return
    if move is None:  # only when the move cannot pay its gas
        return
    after = apply_move(state, move)
    assert after.debt >= 0.0 and min(after.collateral) >= 0.0
    if move.kind == "repay" and after.collateral[0] == 0.0:
        assert after.health_factor(loan, p) < 1.7  # ran out of ETH before the target
    else:
        target = 1.7 if move.kind == "repay" else 2.0
        assert after.health_factor(loan, p) == pytest.approx(target, rel=1e-9)
        assert BAND.plan(loan, after, p, fee, gas, asset="ETH") is None  # idempotent


def test_repay_from_the_reserve_first() -> None:
    band = HealthBand(1.5, 1.7, repay_from="reserve")
    state, p = LoanState((10.0,), 10_000.0), prices(1_600.0)  # HF 1.36: D − L/t = 2,000 to repay
    full = band.plan(ETH, state, p, fee=0.003, gas=20.0, reserve=5_000.0)
    assert full is not None and full.collateral_change == 0.0 and full.fee_paid == 0.0
    assert full.reserve_used == pytest.approx(2_000.0, rel=1e-12)
    assert apply_move(state, full).health_factor(ETH, p) == pytest.approx(1.7, rel=1e-12)
    part = band.plan(ETH, state, p, fee=0.003, gas=20.0, reserve=500.0)
    sold_only = BAND.plan(ETH, state, p, fee=0.003, gas=20.0)
    assert part is not None and sold_only is not None
    assert part.reserve_used == 500.0 and 0.0 > part.collateral_change > sold_only.collateral_change
    after = apply_move(state, part)
    assert after.health_factor(ETH, p) == pytest.approx(1.7, rel=1e-12)
    by_hand = LoanState(
        (10.0 + part.collateral_change,), 10_000.0 - 500.0 - (0.997 * 1_600.0 * -part.collateral_change - 20.0)
    )
    assert by_hand.health_factor(ETH, p) == pytest.approx(1.7, rel=1e-12)
    assert band.plan(ETH, state, p, fee=0.003, gas=20.0, reserve=0.0) == sold_only  # nothing held: sell
    assert band.plan(ETH, after, p, fee=0.003, gas=20.0, reserve=1e9) is None  # idempotent
    with pytest.raises(InputError, match="repay_from must be one of collateral, reserve"):
        HealthBand(1.5, 1.7, repay_from="wallet")
    with pytest.raises(InputError, match="reserve must be"):
        band.plan(ETH, state, p, reserve=-1.0)


def test_min_debt_change_skips_small_moves() -> None:
    state = LoanState((10.0,), 10_000.0)
    p = prices(1_760.0)  # HF 1.496: just below 1.5, a small repay
    move = BAND.plan(ETH, state, p, 0.003, 5.0)
    assert move is not None
    small = -move.debt_change
    strict = HealthBand(1.5, 1.7, 2.3, 2.0, min_debt_change=small * 1.01)
    assert strict.plan(ETH, state, p, 0.003, 5.0) is None
    assert HealthBand(1.5, 1.7, 2.3, 2.0, min_debt_change=small * 0.99).plan(ETH, state, p, 0.003, 5.0) == move


def test_gas_larger_than_the_swap_does_nothing() -> None:
    assert BAND.plan(ETH, LoanState((10.0,), 10_000.0), prices(3_000.0), 0.0, gas=1e9) is None


def test_repay_sells_everything_when_not_enough_collateral() -> None:
    loan = Loan(["ETH", "BTC"], "USDC", 0.7, 0.75)
    state = LoanState((0.1, 1.0), 30_000.0)  # HF = (0.1·2,000 + 50,000)·0.75/30,000 = 1.255
    move = BAND.plan(loan, state, prices(2_000.0), 0.0, 0.0, asset="ETH")
    assert move is not None and move.collateral_change == -0.1
    after = apply_move(state, move)
    assert after.collateral[0] == 0.0 and after.health_factor(loan, prices(2_000.0)) == pytest.approx(move.hf_after)
    assert move.hf_after < 1.7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1.5, 1.5, None, None), r"repay_to \(1.5\) must be above repay_below \(1.5\)"),
        ((1.5, 1.4, None, None), "repay_to"),
        ((1.0, 1.4, None, None), "repay_below must be above 1"),
        ((1.5, 1.7, 2.3, None), "both boost_above and boost_to"),
        ((1.5, 1.7, 2.0, 2.0), r"boost_above \(2\) must be above boost_to \(2\)"),
        ((1.5, 1.7, 2.3, 1.6), r"boost_to \(1.6\) must be at least repay_to"),
        ((1.5, "x", None, None), "repay_to must be a number"),
    ],
)
def test_bad_band(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(InputError, match=message):
        HealthBand(*args)  # type: ignore[arg-type]


def test_bad_costs_and_asset() -> None:
    state = LoanState((10.0,), 10_000.0)
    with pytest.raises(InputError, match="fee must be in"):
        BAND.plan(ETH, state, prices(1_000.0), fee=1.0)
    with pytest.raises(InputError, match="gas must be"):
        BAND.plan(ETH, state, prices(1_000.0), gas=-1.0)
    with pytest.raises(InputError, match="'BTC' is not a collateral asset"):
        BAND.plan(ETH, state, prices(1_000.0), asset="BTC")
    with pytest.raises(InputError, match="min_debt_change"):
        HealthBand(1.5, 1.7, min_debt_change=-1.0)
    with pytest.raises(InputError, match="cannot raise HF"):  # γ·t ≤ LT: selling makes it worse
        HealthBand(1.01, 1.02).plan(Loan(["ETH"], "USDC", 0.8, 0.9, 0.05), state, prices(1_000.0), fee=0.15)
