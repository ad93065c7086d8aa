"""Loans: terms, health factor and the liquidation rules on worked examples (docs/loans.md)."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ballast.errors import InputError
from ballast.market import Market
from ballast.positions import AaveV3, EulerV2, Loan, LoanState, MakerStyle, MorphoBlue
from ballast.positions.liquidation import morpho_incentive
from ballast.yields import ConstantAPY, RateSeries

ETH = Loan(["ETH"], "USDC", ltv=0.80, liquidation_threshold=0.85, liquidation_bonus=0.05)
USD = {"USDC": 1.0}


def prices(eth: float, btc: float = 60_000.0) -> dict[str, float]:
    return {"ETH": eth, "BTC": btc, **USD}


def test_health_factor_several_collateral_assets() -> None:
    loan = Loan(
        ["ETH", "BTC"],
        "USDC",
        ltv={"ETH": 0.8, "BTC": 0.7},
        liquidation_threshold={"ETH": 0.85, "BTC": 0.75},
        liquidation_bonus=0.05,
    )
    state = LoanState((10.0, 0.5), 30_000.0)
    p = prices(2_000.0)
    expected = (10 * 2_000 * 0.85 + 0.5 * 60_000 * 0.75) / 30_000
    assert state.health_factor(loan, p) == pytest.approx(expected, rel=1e-15)
    assert state.net_value(loan, p) == pytest.approx(10 * 2_000 + 0.5 * 60_000 - 30_000, rel=1e-15)
    assert LoanState((1.0, 0.0), 0.0).health_factor(loan, p) == math.inf
    # the debt asset's price counts: a debt worth 1.01 lowers HF by 1 %
    assert state.health_factor(loan, {**p, "USDC": 1.01}) == pytest.approx(expected / 1.01, rel=1e-15)


def test_debt_accrues_the_yields_borrow_rate() -> None:
    market = Market(np.ones((366, 2)), ("ETH", "USDC"), pd.date_range("2024-01-01", periods=366, freq="D"))
    years = np.r_[0.0, np.full(365, 1 / 365)]
    loan = Loan(["ETH"], "USDC", 0.8, 0.85, borrow_rate=ConstantAPY(0.02, borrow=0.06))
    assert np.prod(loan.debt_growth(market, years)) == pytest.approx(1.06, rel=1e-12)
    assert np.prod(Loan(["ETH"], "USDC", 0.8, 0.85, borrow_rate=0.05).debt_growth(market, years)) == pytest.approx(
        1.05, rel=1e-12
    )
    series = pd.Series(0.0365, index=market.index)
    g = Loan(["ETH"], "USDC", 0.8, 0.85, borrow_rate=RateSeries(series)).debt_growth(market, years)
    assert g[1] == pytest.approx(1.0001, rel=1e-12)
    assert LoanState((1.0,), 100.0).accrue(1.5).debt == 150.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(ltv=0.85, liquidation_threshold=0.85), "liquidation_threshold of ETH (0.85) must be above its ltv"),
        (dict(ltv=0.9, liquidation_threshold=0.85), "must be above its ltv"),
        (dict(ltv=0.0, liquidation_threshold=0.85), "ltv of ETH must be a number in (0, 1]"),
        (
            dict(ltv=0.8, liquidation_threshold=0.95, liquidation_bonus=0.06),
            "liquidation_threshold × (1 + liquidation_bonus)",
        ),
        (dict(ltv=0.8, liquidation_threshold=0.85, liquidation_bonus=-0.01), "liquidation_bonus of ETH"),
        (dict(ltv=0.8, liquidation_threshold=0.85, close_factor=0.0), "close_factor of the loan"),
        (dict(ltv=0.8, liquidation_threshold=0.85, borrow_rate=-2.0), "loan: borrow_rate"),
        (dict(ltv={"BTC": 0.8}, liquidation_threshold=0.85), "ltv names 'BTC', which is not a collateral asset"),
        (dict(ltv=0.8, liquidation_threshold="x"), "liquidation_threshold of ETH must be a number"),
    ],
)
def test_bad_terms_name_the_field(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        Loan(["ETH"], "USDC", **kwargs)  # type: ignore[arg-type]


def test_bad_assets_and_prices() -> None:
    with pytest.raises(InputError, match="cannot also be collateral"):
        Loan(["ETH", "USDC"], "USDC", 0.8, 0.85)
    with pytest.raises(InputError, match="non-empty list"):
        Loan("ETH", "USDC", 0.8, 0.85)
    with pytest.raises(InputError, match="no price for the debt asset 'USDC'"):
        LoanState((1.0,), 10.0).health_factor(ETH, {"ETH": 2_000.0})
    with pytest.raises(InputError, match="price of the collateral asset 'ETH' must be positive"):
        LoanState((1.0,), 10.0).health_factor(ETH, {"ETH": 0.0, **USD})
    with pytest.raises(InputError, match="debt must be finite and ≥ 0"):
        LoanState((1.0,), -1.0)
    with pytest.raises(InputError, match="debt must be finite and ≥ 0, got '5'"):
        LoanState((1.0,), "5")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="collateral units must be finite"):
        LoanState((None,), 5.0)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="2 collateral amounts for 1"):
        LoanState((1.0, 2.0), 1.0).health_factor(ETH, prices(2_000.0))


# 10 ETH against 15,000 USDC: HF = 10·p·0.85/15,000, so HF 0.96 at p = 1,694.12 and 0.94 at 1,658.82.
def at_hf(hf: float) -> dict[str, float]:
    return prices(hf * 15_000 / (10 * 0.85))


def test_aave_close_factor_switches_below_095() -> None:
    state = LoanState((10.0,), 15_000.0)
    after, ev = AaveV3().liquidate(ETH, state, at_hf(0.96))  # type: ignore[misc]
    p = at_hf(0.96)["ETH"]
    assert ev.hf_before == pytest.approx(0.96)
    assert ev.repaid == pytest.approx(7_500.0)  # 50 %
    assert ev.seized[0] == pytest.approx(7_500 * 1.05 / p, rel=1e-14)
    assert ev.penalty == pytest.approx(375.0, rel=1e-12)
    assert after.debt == pytest.approx(7_500.0)
    assert after.collateral[0] == pytest.approx(10 - 7_500 * 1.05 / p, rel=1e-14)
    after, ev = AaveV3().liquidate(ETH, state, at_hf(0.94))  # type: ignore[misc]
    p = at_hf(0.94)["ETH"]
    assert ev.repaid == pytest.approx(15_000.0)  # 100 %
    assert ev.seized[0] == pytest.approx(15_000 * 1.05 / p, rel=1e-14)
    assert after.debt == 0.0 and ev.hf_after == math.inf
    assert AaveV3().liquidate(ETH, state, at_hf(1.0)) is None


def test_aave_full_close_factor_at_exactly_095_and_for_small_positions() -> None:
    loan = Loan(["ETH"], "USDC", 0.45, 0.5, liquidation_bonus=0.05)
    state = LoanState((1.0,), 1.0)
    _, ev = AaveV3().liquidate(loan, state, {"ETH": 1.9, **USD})  # type: ignore[misc]
    assert ev.hf_before == 0.95 and ev.repaid == 1.0  # "healthFactor > 0.95 ? 50 % : 100 %"
    _, ev = AaveV3().liquidate(loan, state, {"ETH": 1.9 * (1 + 1e-9), **USD})  # type: ignore[misc]
    assert ev.repaid == 0.5
    # v3.3: a position worth less than 2,000 USD may be liquidated in full at any HF below 1
    big = LoanState((10.0,), 15_000.0)
    _, ev = AaveV3(small_position=2_000.0).liquidate(ETH, big, at_hf(0.96))  # type: ignore[misc]
    assert ev.repaid == pytest.approx(7_500.0)
    _, ev = AaveV3(small_position=20_000.0).liquidate(ETH, big, at_hf(0.96))  # type: ignore[misc]
    assert ev.repaid == pytest.approx(15_000.0)


def test_aave_seizure_capped_by_collateral_held() -> None:
    # 10 ETH at 1,400 = 14,000 < 15,000 × 1.05: all collateral goes, repaid = 14,000/1.05.
    after, ev = AaveV3().liquidate(ETH, LoanState((10.0,), 15_000.0), prices(1_400.0))  # type: ignore[misc]
    assert ev.seized == (10.0,) and after.collateral == (0.0,)
    assert ev.repaid == pytest.approx(14_000 / 1.05, rel=1e-14)
    assert after.debt == pytest.approx(15_000 - 14_000 / 1.05, rel=1e-14)
    assert ev.penalty == pytest.approx(14_000 - 14_000 / 1.05, rel=1e-12)


def test_aave_seizes_the_largest_collateral_with_its_bonus() -> None:
    loan = Loan(["ETH", "BTC"], "USDC", 0.7, 0.75, liquidation_bonus={"ETH": 0.05, "BTC": 0.1})
    state = LoanState((1.0, 1.0), 46_000.0)  # ETH 2,000, BTC 60,000: HF = 62,000·0.75/46,000 = 1.01
    _, ev = AaveV3().liquidate(loan, state, prices(2_000.0, 59_000.0))  # type: ignore[misc]
    assert ev.repaid == pytest.approx(23_000.0)
    assert ev.seized[0] == 0.0 and ev.seized[1] == pytest.approx(23_000 * 1.1 / 59_000, rel=1e-14)


def test_euler_discount_is_the_health_score_until_the_cap() -> None:
    state = LoanState((10.0,), 15_000.0)
    # HF 0.96: discount factor 0.96 (4 % discount), the whole debt is repaid
    after, ev = EulerV2(max_discount=0.15).liquidate(ETH, state, at_hf(0.96))  # type: ignore[misc]
    p = at_hf(0.96)["ETH"]
    assert ev.repaid == pytest.approx(15_000.0)
    assert ev.seized[0] == pytest.approx(15_000 / 0.96 / p, rel=1e-13)
    assert ev.penalty == pytest.approx(15_000 / 0.96 - 15_000, rel=1e-11)
    # HF 0.80 below 1 − 0.15: the discount is capped at 15 %, and the collateral (worth 14,117.6)
    # caps the seizure: repaid = collateral value × 0.85
    p = at_hf(0.80)["ETH"]
    after, ev = EulerV2(max_discount=0.15).liquidate(ETH, state, at_hf(0.80))  # type: ignore[misc]
    assert ev.seized == (10.0,)
    assert ev.repaid == pytest.approx(10 * p * 0.85, rel=1e-14)
    # with a 5 % cap, HF 0.907 is below 1 − 0.05: the discount factor is 0.95, not the health score
    _, ev = EulerV2(max_discount=0.05).liquidate(ETH, LoanState((20.0,), 15_000.0), prices(800.0))  # type: ignore[misc]
    assert ev.hf_before == pytest.approx(20 * 800 * 0.85 / 15_000)  # 0.9067 < 0.95: capped at 5 %
    assert ev.seized[0] == pytest.approx(15_000 / 0.95 / 800, rel=1e-14)
    with pytest.raises(InputError, match="max_discount"):
        EulerV2(max_discount=1.0)


def test_morpho_incentive_factor() -> None:
    assert morpho_incentive(0.86) == pytest.approx(1 / (1 - 0.3 * 0.14), rel=1e-15)  # 1.0438
    assert morpho_incentive(0.945) == pytest.approx(1 / (1 - 0.3 * 0.055), rel=1e-15)
    assert morpho_incentive(0.3) == 1.15  # 1/(1 − 0.21) = 1.266 capped
    loan = Loan(["ETH"], "USDC", 0.8, 0.86, liquidation_bonus=0.0)
    _, ev = MorphoBlue().liquidate(loan, LoanState((10.0,), 15_000.0), prices(1_700.0))  # type: ignore[misc]
    assert ev.repaid == pytest.approx(15_000.0)
    assert ev.seized[0] == pytest.approx(15_000 * morpho_incentive(0.86) / 1_700, rel=1e-14)
    # collateral worth less than the debt: all of it goes and the rest is bad debt, written off
    after, ev = MorphoBlue().liquidate(loan, LoanState((10.0,), 15_000.0), prices(1_000.0))  # type: ignore[misc]
    assert ev.seized == (10.0,) and after.debt == 0.0
    assert ev.repaid == pytest.approx(10_000 / morpho_incentive(0.86), rel=1e-14)
    assert ev.written_off == pytest.approx(15_000 - ev.repaid, rel=1e-14)
    two = Loan(["ETH", "BTC"], "USDC", 0.8, 0.86, liquidation_bonus=0.0)
    with pytest.raises(InputError, match="one collateral asset"):
        MorphoBlue().liquidate(two, LoanState((10.0, 0.1), 15_000.0), prices(1_000.0, 10_000.0))


def test_maker_penalises_the_whole_debt() -> None:
    loan = Loan(["ETH"], "DAI", 0.6, 1 / 1.5, liquidation_bonus=0.0)  # liquidation ratio 150 %
    state = LoanState((10.0,), 15_000.0)
    after, ev = MakerStyle(penalty=0.13).liquidate(loan, state, {"ETH": 2_200.0, "DAI": 1.0})  # type: ignore[misc]
    assert ev.hf_before == pytest.approx(22_000 / 1.5 / 15_000)
    assert ev.repaid == 15_000.0 and after.debt == 0.0
    assert ev.seized[0] == pytest.approx(15_000 * 1.13 / 2_200, rel=1e-14)
    assert ev.penalty == pytest.approx(0.13 * 15_000, rel=1e-12)
    assert after.collateral[0] == pytest.approx(10 - 16_950 / 2_200, rel=1e-14)


rules = st.sampled_from(
    [AaveV3(), AaveV3(small_position=2_000.0), EulerV2(0.1), EulerV2(0.3), MorphoBlue(), MakerStyle(0.13)]
)


@settings(max_examples=300, deadline=None)
@given(
    rule=rules,
    units=st.floats(1e-6, 1e6),
    debt=st.floats(1e-6, 1e9),
    price=st.floats(1e-3, 1e6),
    lt=st.floats(0.2, 0.94),
    bonus=st.floats(0.0, 0.06),
)
def test_liquidation_invariants(rule: object, units: float, debt: float, price: float, lt: float, bonus: float) -> None:
    loan = Loan(["ETH"], "USDC", lt - 0.1, lt, liquidation_bonus=bonus)
    state = LoanState((units,), debt)
    out = rule.liquidate(loan, state, prices(price))  # type: ignore[attr-defined]
    if state.health_factor(loan, prices(price)) >= 1.0:
        assert out is None
        return
    after, ev = out
    assert 0.0 <= ev.seized[0] <= units  # never more than is held
    assert after.collateral[0] == pytest.approx(units - ev.seized[0], abs=1e-12 * units)
    assert after.debt >= 0.0 and 0.0 <= ev.repaid <= debt * (1 + 1e-12)  # debt never negative
    assert ev.penalty >= -1e-9 * debt  # the borrower never gains
    assert after.debt == pytest.approx(max(debt - ev.repaid - ev.written_off, 0.0), rel=1e-12, abs=1e-12 * debt)
