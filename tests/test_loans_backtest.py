"""Loans in the backtest: the compiled loan step against the Python rules and band, and the walk."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ballast.engine.backtest import backtest
from ballast.engine.loans import new_loan_book
from ballast.enums import EV_COLLATERAL, EV_DEBT, EV_HF_AFTER, EV_KIND, EVENT_LIQUIDATION, LT_EVENTS
from ballast.errors import InputError
from ballast.market import Market
from ballast.positions import AaveV3, EulerV2, HealthBand, Loan, LoanState, MakerStyle, MorphoBlue, apply_move
from ballast.positions.encode import LoanPosition, Loans
from ballast.positions.kernel import loans_close
from ballast.strategy import build_strategy

ASSETS = ("ETH", "WBTC", "USDC")
RULES = [AaveV3(), AaveV3(small_position=2_000.0), EulerV2(0.2), EulerV2(0.05), MakerStyle(0.13)]


def market(rows: list[list[float]]) -> Market:
    return Market(np.array(rows, dtype=np.float64), ASSETS, pd.RangeIndex(len(rows)), 365.0)


def kernel_step(pos: LoanPosition, units: dict[str, float], owed: float, row: list[float], fee=0.0, gas=0.0, t=1):
    """One close of the compiled loan step on a two-close market whose close ``t`` is ``row``; returns
    (units by asset, owed, event rows)."""
    m = market([row, row])
    arrays = Loans(pos).encode(m)
    arrays.owed[0] = owed
    u = np.array([units.get(a, 0.0) for a in ASSETS])
    u[ASSETS.index(pos.loan.debt)] -= owed  # the debt is a negative holding of the debt asset
    book = new_loan_book(2, 1, arrays.collateral.shape[1], True)
    n = len(ASSETS)
    loans_close(u, m.prices, t, np.full(n, fee), np.zeros(n), np.full(2, gas), np.zeros((2, n)), arrays, *book)
    after = dict(zip(ASSETS, u.tolist(), strict=True))
    after[pos.loan.debt] += arrays.owed[0]
    return after, float(arrays.owed[0]), book.events[: int(book.totals[LT_EVENTS])]


def python_liquidations(rule, loan: Loan, state: LoanState, prices: dict[str, float]) -> tuple[LoanState, int]:
    n = 0
    while (out := rule.liquidate(loan, state, prices)) is not None and n < 64:
        new, _ = out
        if new.debt == state.debt:
            break
        state, n = new, n + 1
    return state, n


LOAN2 = Loan(["ETH", "WBTC"], "USDC", ltv={"ETH": 0.8, "WBTC": 0.7}, liquidation_threshold={"ETH": 0.85, "WBTC": 0.75})
LOAN1 = Loan(["ETH"], "USDC", ltv=0.8, liquidation_threshold=0.85, liquidation_bonus=0.05)


@pytest.mark.parametrize(("eth", "repaid", "seized"), [(1_694.12, 7_500.0, 7_875.0), (1_658.82, 15_000.0, 15_750.0)])
def test_compiled_aave_switches_close_factor_between_096_and_094(eth: float, repaid: float, seized: float) -> None:
    """The worked example of docs/loans.md: 10 ETH against 15,000 USDC, LT 0.85, bonus 5 %."""
    after, owed, ev = kernel_step(LoanPosition(LOAN1, AaveV3()), {"ETH": 10.0}, 15_000.0, [eth, 1.0, 1.0])
    first = ev[0]
    assert first[EV_KIND] == EVENT_LIQUIDATION
    assert -first[EV_DEBT] == pytest.approx(repaid, rel=1e-12)
    assert -first[EV_COLLATERAL] * eth == pytest.approx(seized, rel=1e-12)


@settings(max_examples=150, deadline=None)
@given(
    rule=st.sampled_from(RULES),
    eth=st.floats(0.1, 20.0),
    wbtc=st.floats(0.0, 1.0),
    debt=st.floats(1_000.0, 60_000.0),
    p_eth=st.floats(300.0, 4_000.0),
    p_usdc=st.floats(0.95, 1.05),
)
def test_compiled_rules_equal_the_python_rules(rule, eth, wbtc, debt, p_eth, p_usdc) -> None:
    """Every call of the rule while HF < 1, compiled and in Python: same units left, same debt; the
    debt never goes negative and the collateral never below zero."""
    prices = {"ETH": p_eth, "WBTC": 30_000.0, "USDC": p_usdc}
    row = [prices[a] for a in ASSETS]
    after, owed, _ = kernel_step(LoanPosition(LOAN2, rule), {"ETH": eth, "WBTC": wbtc}, debt, row)
    state, _ = python_liquidations(rule, LOAN2, LoanState((eth, wbtc), debt), prices)
    assert owed == pytest.approx(state.debt, rel=1e-9, abs=1e-9)
    assert after["ETH"] == pytest.approx(state.collateral[0], rel=1e-9, abs=1e-12)
    assert after["WBTC"] == pytest.approx(state.collateral[1], rel=1e-9, abs=1e-12)
    assert owed >= 0.0 and after["ETH"] >= 0.0 and after["WBTC"] >= 0.0
    assert after["ETH"] <= eth and after["WBTC"] <= wbtc


@settings(max_examples=60, deadline=None)
@given(units=st.floats(0.5, 20.0), debt=st.floats(500.0, 30_000.0), p=st.floats(200.0, 3_000.0))
def test_compiled_morpho_equals_python(units: float, debt: float, p: float) -> None:
    after, owed, _ = kernel_step(LoanPosition(LOAN1, MorphoBlue()), {"ETH": units}, debt, [p, 1.0, 1.0])
    state, _ = python_liquidations(MorphoBlue(), LOAN1, LoanState((units,), debt), {"ETH": p, "WBTC": 1.0, "USDC": 1.0})
    assert owed == pytest.approx(state.debt, rel=1e-9, abs=1e-9)
    assert after["ETH"] == pytest.approx(state.collateral[0], rel=1e-9, abs=1e-12)


BAND = HealthBand(repay_below=1.5, repay_to=1.7, boost_above=2.3, boost_to=2.0, min_debt_change=100.0)


@settings(max_examples=150, deadline=None)
@given(
    eth=st.floats(1.0, 20.0),
    wbtc=st.floats(0.0, 0.5),
    debt=st.floats(1_000.0, 40_000.0),
    p_eth=st.floats(500.0, 5_000.0),
    fee=st.floats(0.0, 0.01),
    gas=st.floats(0.0, 200.0),
)
def test_compiled_band_equals_health_band_plan_and_lands_on_target(eth, wbtc, debt, p_eth, fee, gas) -> None:
    prices = {"ETH": p_eth, "WBTC": 30_000.0, "USDC": 1.0}
    state = LoanState((eth, wbtc), debt)
    if state.health_factor(LOAN2, prices) < 1.0:
        return
    pos = LoanPosition(LOAN2, AaveV3(), BAND)
    after, owed, ev = kernel_step(pos, {"ETH": eth, "WBTC": wbtc}, debt, [prices[a] for a in ASSETS], fee, gas)
    move = BAND.plan(LOAN2, state, prices, fee, gas)
    if move is None:
        assert len(ev) == 0 and owed == debt
        return
    expected = apply_move(state, move)
    assert owed == pytest.approx(expected.debt, rel=1e-12)
    assert (after["ETH"], after["WBTC"]) == pytest.approx(expected.collateral, rel=1e-12)
    if ev[0][EV_HF_AFTER] != move.hf_after:
        assert ev[0][EV_HF_AFTER] == pytest.approx(move.hf_after, rel=1e-12)
    hf = LoanState((after["ETH"], after["WBTC"]), owed).health_factor(LOAN2, prices)
    if after["ETH"] > 0 and (after["WBTC"] == wbtc or move.kind == "boost"):  # not sold out: on target
        assert hf == pytest.approx(BAND.boost_to if move.kind == "boost" else BAND.repay_to, rel=1e-9)
        # idempotent: the next step at the same prices does nothing
        again_units, again_owed, again = kernel_step(
            pos, {"ETH": after["ETH"], "WBTC": after["WBTC"]}, owed, [prices[a] for a in ASSETS], fee, gas
        )
        assert len(again) == 0 and again_owed == owed


# --- the walk -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crypto() -> pd.DataFrame:
    from ballast.data.loaders import load_prices

    return load_prices("crypto", assets=["ETH", "BTC"]).assign(USDC=1.0)


def strategy(loans: Loans | None, **kw: object):
    s = build_strategy(target="ETH=0.8,BTC=0.1,USDC=0.1", cash="USDC", fee_bps=30, fixed_cost=15, **kw)
    return replace(s, loans=loans)


ETH_LOAN = Loan(["ETH"], "USDC", ltv=0.80, liquidation_threshold=0.83, liquidation_bonus=0.05, borrow_rate=0.05)


def test_a_loan_without_debt_is_bit_identical_to_plain_holdings(crypto: pd.DataFrame) -> None:
    repay_only = HealthBand(repay_below=1.3, repay_to=1.6, min_debt_change=0.0)
    plain = backtest(crypto, strategy(None, rebalance="monthly"))
    with_loan = backtest(crypto, strategy(Loans(LoanPosition(ETH_LOAN, AaveV3(), repay_only)), rebalance="monthly"))
    assert np.array_equal(plain.raw.equity, with_loan.raw.equity)
    assert np.array_equal(plain.raw.weights, with_loan.raw.weights)
    assert with_loan.metrics["n_repays"] == 0 and with_loan.metrics["borrow_paid"] == 0.0
    assert math.isinf(with_loan.metrics["min_health_factor"])


def test_both_engines_agree_to_the_bit_with_a_levered_loan(crypto: pd.DataFrame) -> None:
    loans = Loans(LoanPosition(ETH_LOAN, AaveV3(), BAND, open_health=2.0))
    s = strategy(loans, rebalance="quarterly")
    a, b = backtest(crypto, s, engine="numba"), backtest(crypto, s, engine="python")
    assert np.array_equal(a.raw.equity, b.raw.equity)
    assert np.array_equal(a.raw.loans.hf, b.raw.loans.hf)
    assert a.metrics == b.metrics
    assert a.metrics["n_boosts"] > 0 and a.metrics["n_repays"] > 0 and a.metrics["borrow_paid"] > 0


def test_the_walk_values_collateral_as_held_and_debt_as_negative_holding(crypto: pd.DataFrame) -> None:
    window = crypto.loc["2021-01-01":"2021-02-15"]  # ETH rose: no liquidation, no band
    plain = backtest(window, strategy(None, rebalance="never"))
    r = backtest(window, strategy(Loans(LoanPosition(ETH_LOAN, AaveV3(), None, open_health=1.8)), rebalance="never"))
    events = r.loans.events
    assert list(events.kind) == ["boost"]  # opened once at close 1, then nothing
    opening = events.penalty_or_fee.iloc[0] + events.gas.iloc[0]
    # at close 1 the loan only swapped borrowed USDC for ETH: the value moved by the opening's costs
    assert r.raw.equity[1] == pytest.approx(plain.raw.equity[1] - opening, rel=1e-12)
    w = r.weights.iloc[1]
    assert w["USDC"] < 0.0 and w["ETH"] > 0.8  # levered: the debt is a negative USDC holding
    assert r.loans.health_factor.iloc[1, 0] == pytest.approx(1.8, rel=1e-12)
    # afterwards HF = LT · (ETH value) / debt, the debt growing at the borrow rate
    eth_value = r.weights["ETH"] * r.equity
    assert eth_value.iloc[-1] * 0.83 / r.loans.health_factor.iloc[-1, 0] == pytest.approx(
        events.debt_units.iloc[0] * (1.05 ** ((window.index[-1] - window.index[1]).days / 365)), rel=1e-9
    )
    assert r.metrics["loan_costs"] == pytest.approx(opening)
    assert r.metrics["total_costs"] == pytest.approx(plain.metrics["total_costs"] + opening)


def test_band_events_land_on_their_targets_and_debt_never_goes_negative(crypto: pd.DataFrame) -> None:
    r = backtest(crypto, strategy(Loans(LoanPosition(ETH_LOAN, AaveV3(), BAND, open_health=2.0)), rebalance="never"))
    ev = r.loans.events
    full = ev[(ev.kind != "liquidation")]
    targets = np.where(full.kind == "boost", 2.0, 1.7)
    assert np.allclose(full.hf_after, targets, rtol=1e-12)
    # the health factor recorded at those closes is the target too (the band acts last)
    hf = r.loans.health_factor.iloc[:, 0]
    assert np.allclose(hf.loc[full.time].to_numpy(), targets, rtol=1e-9)
    assert (r.raw.loans.hf[1:] > 1.0).all() or r.metrics["n_liquidations"] > 0


def test_2020_03_12_liquidates_below_the_bound_from_the_data_and_not_above(crypto: pd.DataFrame) -> None:
    """ETH's fall close to close on 2020-03-12: a loan whose HF on 2020-03-11 was below what the fall
    implies is liquidated even with a daily repay band (it acts at closes only); one above it is not."""
    window = crypto.loc["2020-03-10":"2020-03-12"]
    fall = window.loc["2020-03-12", "ETH"] / window.loc["2020-03-11", "ETH"]
    growth = 1.05 ** (1 / 365)  # one day of the 5 % borrow rate
    bound = growth / fall  # HF on 03-11 at which HF on 03-12 is exactly 1
    assert 1.6 < bound < 1.8  # a 42 % fall
    daily = HealthBand(repay_below=1.1, repay_to=1.2)
    for hf, liquidated in [(bound * 0.99, True), (bound * 1.01, False)]:
        s = replace(
            build_strategy(target="ETH=1", cash="USDC", rebalance="never"),
            loans=Loans(LoanPosition(ETH_LOAN, AaveV3(), daily, open_health=hf)),
        )
        r = backtest(window, s)
        assert r.loans.health_factor.iloc[1, 0] == pytest.approx(hf, rel=1e-12)  # opened on 03-11
        kinds = r.loans.events.kind.tolist()
        assert ("liquidation" in kinds) is liquidated
        assert (r.metrics["n_liquidations"] > 0) is liquidated


def test_liquidations_are_checked_at_the_low_when_lows_are_given(crypto: pd.DataFrame) -> None:
    window = crypto.loc["2021-01-01":"2021-01-05"]
    lows = window[["ETH"]] * 0.5  # an intraday wick to half the close on every day
    pos = LoanPosition(ETH_LOAN, AaveV3(), None, open_health=1.5)
    s = build_strategy(target="ETH=1", cash="USDC", rebalance="never")
    at_close = backtest(window, replace(s, loans=Loans(pos)))
    at_low = backtest(window, replace(s, loans=Loans(pos, lows=lows)))
    assert at_close.metrics["n_liquidations"] == 0
    assert at_low.metrics["n_liquidations"] > 0
    assert at_low.metrics["min_health_factor"] < 1.0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Loan(["ETH"], "USDC", ltv=0.85, liquidation_threshold=0.85), "must be above its ltv"),
        (lambda: HealthBand(repay_below=1.5, repay_to=1.5), r"repay_to \(1.5\) must be above repay_below"),
        (lambda: LoanPosition(LOAN1, AaveV3(), None, open_health=0.9), "open_health must be a health factor"),
        (lambda: Loans(LoanPosition(LOAN1), LoanPosition(LOAN2)), "ETH is collateral of loans 1 and 2"),
    ],
)
def test_bad_loan_input_is_a_clear_error(make, message: str) -> None:
    with pytest.raises(InputError, match=message):
        make()


def test_a_debt_asset_without_a_price_is_a_clear_error(crypto: pd.DataFrame) -> None:
    loan = Loan(["ETH"], "DAI", ltv=0.8, liquidation_threshold=0.85)
    s = replace(build_strategy(target="ETH=1", cash="USDC"), loans=Loans(LoanPosition(loan)))
    with pytest.raises(InputError, match="unknown asset.*'DAI'"):  # the loan's assets are loaded with the target's
        backtest(crypto, s)
    m = Market.from_frame(crypto)
    with pytest.raises(InputError, match="loan 1: no price for the debt asset 'DAI'"):
        Loans(LoanPosition(loan)).encode(m)


def test_a_repay_target_the_fee_cannot_reach_is_refused(crypto: pd.DataFrame) -> None:
    band = HealthBand(repay_below=1.001, repay_to=1.002)  # γ·1.002 < LT needs a fee above 17 %: fine
    tight = Loan(["ETH"], "USDC", ltv=0.8, liquidation_threshold=0.95, liquidation_bonus=0.04)
    s = replace(
        build_strategy(target="ETH=1", cash="USDC", fee_bps=600), loans=Loans(LoanPosition(tight, AaveV3(), band))
    )
    with pytest.raises(InputError, match="cannot raise HF to repay_to"):
        backtest(crypto, s)


def test_a_debt_asset_with_a_yield_source_is_refused(crypto: pd.DataFrame) -> None:
    s = replace(build_strategy(target="ETH=1", cash="USDC", yields="USDC=0.04"), loans=Loans(LoanPosition(ETH_LOAN)))
    with pytest.raises(InputError, match="charged twice"):
        backtest(crypto, s)


@settings(max_examples=60, deadline=None)
@given(
    rule=st.sampled_from([*RULES, MorphoBlue()]),
    moves=st.lists(st.floats(-0.6, 0.4), min_size=5, max_size=40),
    open_health=st.floats(1.05, 3.0),
    with_band=st.booleans(),
    fee=st.floats(0.0, 0.01),
    gas=st.floats(0.0, 50.0),
)
def test_over_a_path_debt_never_goes_negative_and_seizures_never_exceed_holdings(
    rule, moves, open_health, with_band, fee, gas
) -> None:
    """The compiled step close after close on a path with crashes: what is owed stays ≥ 0, holdings of
    collateral stay ≥ 0, every seizure is at most what was held, and the debt asset's holding moves
    exactly with what is owed (the wallet's USDC is untouched by liquidations and accrual)."""
    eth = 2_000.0 * np.cumprod([1.0, *(1.0 + np.array(moves))])
    rows = [[p, 30_000.0, 1.0] for p in eth]
    m = market(rows)
    band = HealthBand(1.3, 1.5, 2.5, 2.0) if with_band else None
    arrays = Loans(LoanPosition(LOAN1, rule, band, open_health=open_health)).encode(m)
    units = np.array([10.0, 0.0, 5_000.0])
    book = new_loan_book(len(rows), 1, 1, True)
    n = len(ASSETS)
    for t in range(len(rows)):
        before = units.copy()
        owed_before = arrays.owed[0]
        start = int(book.totals[LT_EVENTS])
        loans_close(
            units,
            m.prices,
            t,
            np.full(n, fee),
            np.zeros(n),
            np.full(len(rows), gas),
            np.zeros((len(rows), n)),
            arrays,
            *book,
        )
        assert arrays.owed[0] >= 0.0 and units[0] >= 0.0
        wallet_before, wallet_after = before[2] + owed_before, units[2] + arrays.owed[0]
        rows_t = book.events[start : int(book.totals[LT_EVENTS])]
        liquidations = rows_t[rows_t[:, EV_KIND] == EVENT_LIQUIDATION]
        assert -liquidations[:, EV_COLLATERAL].sum() <= before[0] * (1 + 1e-12)
        if len(rows_t) == len(liquidations):  # no band move: the wallet's debt asset did not change
            assert wallet_after == pytest.approx(wallet_before, rel=1e-9, abs=1e-6)


def test_two_loans_on_one_debt_asset_agree_on_both_engines(crypto: pd.DataFrame) -> None:
    btc = Loan(["BTC"], "USDC", ltv=0.7, liquidation_threshold=0.75, liquidation_bonus=0.1, borrow_rate=0.03)
    loans = Loans(
        LoanPosition(ETH_LOAN, EulerV2(0.1), BAND, open_health=2.0),
        LoanPosition(btc, MakerStyle(0.13), HealthBand(1.4, 1.6), open_health=1.7),
    )
    s = strategy(loans, rebalance="never")
    window = crypto.loc["2019-06-01":"2021-06-01"]
    a, b = backtest(window, s), backtest(window, s, engine="python")
    assert np.array_equal(a.raw.equity, b.raw.equity) and a.metrics == b.metrics
    assert list(a.loans.health_factor.columns) == ["ETH/USDC", "BTC/USDC"]
    assert set(a.loans.events.loan) == {"ETH/USDC", "BTC/USDC"}
    # the debt asset's holding is the wallet less both debts: value = Σ holdings at their prices
    hf = a.loans.health_factor.iloc[1]
    assert hf["ETH/USDC"] == pytest.approx(2.0, rel=1e-12) and hf["BTC/USDC"] == pytest.approx(1.7, rel=1e-12)
