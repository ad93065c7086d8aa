"""Flows: schedules, routing at a close (cash, pro rata, cash-flow rebalancing, shortfalls),
and the metrics with flows (TWR, IRR against scipy's root finder, runway against the annuity)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from ballast.costs import Costs, FixedPerTrade, Proportional
from ballast.costs.base import compile_costs
from ballast.enums import FLOW_PAID, FLOW_SHORTFALL, ROUTE_CASH, ROUTE_PRO_RATA, ROUTE_REBALANCE
from ballast.errors import InputError
from ballast.flows import (
    Dated,
    Flows,
    Recurring,
    SpendingRule,
    irr,
    money_weighted_return,
    parse_spend,
    runway_months,
    time_weighted_return,
)
from ballast.flows.kernel import _apply_one, apply_flows
from ballast.market import Market

ASSETS = ("ETH", "BTC", "USDC")


def market(days: int = 90) -> Market:
    idx = pd.date_range("2021-01-15", periods=days, freq="D")
    prices = np.column_stack([np.linspace(1000, 2000, days), np.linspace(30000, 20000, days), np.ones(days)])
    return Market(prices, ASSETS, idx)


def test_recurring_pays_at_the_first_close_of_each_month() -> None:
    m = market()
    s = Flows(Recurring(-50_000, "monthly")).encode(m, "USDC")
    rows = np.flatnonzero(s.units[:, 2])
    assert list(m.index[rows].strftime("%Y-%m-%d")) == ["2021-02-01", "2021-03-01", "2021-04-01"]
    assert np.all(s.units[rows, 2] == -50_000) and s.units[:, :2].sum() == 0
    assert list(s.active[rows]) == [1, 2, 3] and np.count_nonzero(s.active) == 3 and s.routing == ROUTE_CASH


def test_recurring_window_and_parse_spend() -> None:
    m = market()
    s = Flows(Recurring(10, "weekly", "ETH", start="2021-02-01", end="2021-02-28")).encode(m, "USDC")
    assert np.count_nonzero(s.units[:, 0]) == 4
    f = parse_spend("50_000 per month in USDC")
    assert (f.amount, f.every, f.asset) == (-50_000, "monthly", "USDC")
    g = parse_spend("1,200/week")
    assert (g.amount, g.every, g.asset) == (-1200, "weekly", None)
    assert parse_spend("-50000/month").amount == -50_000
    with pytest.raises(InputError, match="spend '50k': expected AMOUNT/PERIOD"):
        parse_spend("50k")


def test_spending_rule_is_a_share_of_nav() -> None:
    s = Flows(SpendingRule(0.04), routing="pro-rata").encode(market(), "USDC")
    assert np.count_nonzero(s.nav[:, 2]) == 3
    assert s.nav[s.nav != 0] == pytest.approx(-0.04 / 12)
    with pytest.raises(InputError, match="rate must be within"):
        SpendingRule(1.5)


def test_dated_table_lands_on_the_first_close_on_or_after_its_date() -> None:
    m = Market(
        market().prices[:5],
        ASSETS,
        pd.DatetimeIndex(["2021-01-01", "2021-01-04", "2021-01-05", "2021-01-06", "2021-01-08"]),
    )
    table = pd.DataFrame(
        {"date": ["2021-01-02", "2021-01-06", "2021-01-06"], "asset": ["USDC", "ETH", None], "amount": [-10, 2, 5]}
    )
    s = Flows(Dated(table)).encode(m, "USDC")
    assert s.units[1, 2] == -10 and s.units[3, 0] == 2 and s.units[3, 2] == 5


def test_flow_dated_outside_the_prices_is_an_error_naming_row_and_field() -> None:
    table = pd.DataFrame({"date": ["2021-02-01", "2025-01-01"], "asset": ["USDC", "USDC"], "amount": [1, 2]})
    with pytest.raises(
        InputError,
        match=r"flows.csv: row 2, field date: 2025-01-01 is outside the prices "
        r"\(2021-01-15 to 2021-04-14\)",
    ):
        Flows(Dated(table, "flows.csv")).encode(market(), "USDC")


def test_flow_in_an_asset_not_held_is_an_error() -> None:
    with pytest.raises(InputError, match="flow 1 .*asset 'SOL' is not one the strategy holds"):
        Flows(Recurring(-5, "monthly", "SOL")).encode(market(), "USDC")
    with pytest.raises(InputError, match="name its asset; the strategy has no cash asset"):
        Flows(Recurring(-5, "monthly")).encode(market(), None)
    with pytest.raises(InputError, match="row 1, field amount: not a number"):
        Dated(pd.DataFrame({"date": ["2021-02-01"], "amount": ["lots"]}))
    with pytest.raises(InputError, match="routing must be one of cash, pro-rata, rebalance"):
        Flows(Recurring(-5), routing="fifo")


ZERO = compile_costs(Costs(), market())
P = np.array([2000.0, 25000.0, 1.0])


def step(
    units: list[float], flow: float, routing: int, target: list[float], costs=ZERO, a: int = 2, cash: float = 0.0
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    u = np.array(units, float)
    out = _apply_one(u, cash, P, 1, a, flow, routing, np.array(target), costs, 2, np.empty(3))
    return u, out


def test_cash_routing_pays_from_the_asset_and_reports_the_shortfall() -> None:
    u, (_, paid, cost, short) = step([10, 1, 30_000], -20_000, ROUTE_CASH, [0.4, 0.4, 0.2])
    assert list(u) == [10, 1, 10_000] and paid == -20_000 and short == 0 and cost == 0
    u, (_, paid, _, short) = step([10, 1, 30_000], -50_000, ROUTE_CASH, [0.4, 0.4, 0.2])
    assert list(u) == [10, 1, 0] and paid == -30_000 and short == 20_000


def test_pro_rata_keeps_the_weights() -> None:
    u, (_, paid, cost, short) = step([10, 1, 55_000], -10_000, ROUTE_PRO_RATA, [0.4, 0.4, 0.2])
    np.testing.assert_allclose(u, np.array([10, 1, 55_000]) * 0.9, rtol=1e-15)
    assert (paid, cost, short) == (-10_000, 0.0, 0.0)


def test_cash_flow_rebalancing_sells_the_most_overweight_first() -> None:
    # V = 20k ETH + 25k BTC + 55k USDC = 100k; target 40/40/20 after a 10k withdrawal: 36k/36k/18k.
    # USDC is 37k over, the only overweight asset: it pays all of it.
    u, (_, paid, _, _) = step([10, 1, 55_000], -10_000, ROUTE_REBALANCE, [0.4, 0.4, 0.2])
    np.testing.assert_allclose(u, [10, 1, 45_000])
    # Two overweight: ETH 60k (target 36k → 24k over), USDC 15k (18k target → under); BTC 25k (over by
    # -11k). A 30k withdrawal: water-fill ETH down: 24k over → sells 24k... levels: ETH excess 24k+? below.
    u, _ = step([30, 1, 15_000], -10_000, ROUTE_REBALANCE, [0.4, 0.4, 0.2])
    # V=100k, X'=90k: targets 36k/36k/18k; excess ETH 24k, BTC -11k, USDC -3k → ETH pays all 10k.
    np.testing.assert_allclose(u, [25, 1, 15_000])


def test_cash_flow_rebalancing_water_fills_two_overweights() -> None:
    # V = 50k ETH + 35k BTC + 15k USDC; 40/40/20 after a 30k withdrawal → 28k/28k/14k; excess ETH 22k,
    # BTC 7k, USDC 1k. λ: (22 − λ) + (7 − λ) + (1 − λ) = 30 → λ = 0: everything to target.
    u, _ = step([25, 1.4, 15_000], -30_000, ROUTE_REBALANCE, [0.4, 0.4, 0.2])
    np.testing.assert_allclose(u * P, [28_000, 28_000, 14_000], rtol=1e-12)
    # A 10k withdrawal: (22 − λ) + (7 − λ) = 10 (USDC's 1k is below λ) → λ = 9.5k: ETH sells 12.5k... no:
    # ETH sells 22 − 9.5 = 12.5 > 10? Check with USDC excluded: λ = (22+7−10)/2 = 9.5 ≥ 1 ✓ → ETH 12.5k,
    # BTC −2.5k would be negative → only ETH: λ = 22 − 10 = 12 ≥ 7 ✓ → ETH sells 10k.
    u, _ = step([25, 1.4, 15_000], -10_000, ROUTE_REBALANCE, [0.4, 0.4, 0.2])
    np.testing.assert_allclose(u * P, [40_000, 35_000, 15_000], rtol=1e-12)
    # A 20k withdrawal: X' = 80k → 32k/32k/16k; excess ETH 18k, BTC 3k, USDC −1k. ETH alone: λ = −2 <
    # 3 → ETH and BTC: λ = (18 + 3 − 20)/2 = 0.5k → ETH sells 17.5k, BTC 2.5k.
    u, _ = step([25, 1.4, 15_000], -20_000, ROUTE_REBALANCE, [0.4, 0.4, 0.2])
    np.testing.assert_allclose(u * P, [32_500, 32_500, 15_000], rtol=1e-12)


def test_cash_flow_rebalancing_deposit_buys_the_most_underweight() -> None:
    # V = 50k/35k/15k, deposit 20k → X' = 120k: targets 48k/48k/24k; short: BTC 13k, USDC 9k, ETH −2k.
    # (13 − λ) + (9 − λ) = 20 → λ = 1k: BTC buys 12k, USDC 8k.
    u, (_, paid, _, _) = step([25, 1.4, 15_000], 20_000, ROUTE_REBALANCE, [0.4, 0.4, 0.2])
    np.testing.assert_allclose(u * P, [50_000, 47_000, 23_000], rtol=1e-12)
    assert paid == 20_000


def test_flows_that_exceed_everything_liquidate_and_report_the_rest() -> None:
    costs = compile_costs(Proportional(100), market())
    for routing in (ROUTE_PRO_RATA, ROUTE_REBALANCE):
        u, (cash, paid, cost, short) = step([10, 1, 55_000], -200_000, routing, [0.4, 0.4, 0.2], costs)
        assert np.all(u == 0) and cash == 0
        assert cost == pytest.approx(0.01 * 45_000)
        assert paid == pytest.approx(-(100_000 - 450)) and short == pytest.approx(200_000 - 99_550)


@settings(max_examples=200, deadline=None)
@given(
    units=st.lists(st.floats(0, 100), min_size=3, max_size=3),
    flow=st.floats(-150_000, 150_000),
    routing=st.sampled_from([ROUTE_CASH, ROUTE_PRO_RATA, ROUTE_REBALANCE]),
    w=st.lists(st.floats(0.01, 1), min_size=3, max_size=3),
    fee=st.floats(0, 300),
    fixed=st.floats(0, 50),
    a=st.integers(0, 2),
)
def test_a_flow_conserves_value_and_never_makes_a_holding_negative(units, flow, routing, w, fee, fixed, a) -> None:
    costs = compile_costs(Proportional(fee) + FixedPerTrade(fixed), market())
    u0 = np.array(units) * np.array([1.0, 0.1, 1000.0])
    target = np.array(w) / sum(w)
    u, (cash, paid, cost, short) = step(list(u0), flow, routing, list(target), costs, a)
    v0, v1 = float(u0 @ P), float(u @ P) + cash
    assert np.all(u >= 0)
    assert v1 == pytest.approx(v0 + paid - cost, rel=1e-9, abs=1e-6)
    assert short >= 0 and paid == pytest.approx(flow + short, rel=1e-9, abs=1e-6)
    assert short == 0 or flow < 0


def test_apply_flows_sums_the_assets_of_a_close_and_is_off_without_flows() -> None:
    m = market()
    s = Flows(Recurring(-1000, "monthly"), Recurring(1, "monthly", "ETH")).encode(m, "USDC")
    t = int(np.flatnonzero(s.active)[0])
    u = np.array([1.0, 0.0, 5000.0])
    paid = np.zeros((1, 3))
    closes = np.zeros((m.n_periods, 3))
    targets = np.zeros_like(m.prices)
    cash = apply_flows(u, 0.0, m.prices, t, s, targets, ZERO, 2, paid, 0, np.empty(3), closes)
    assert cash == 0.0 and u[0] == 2.0 and u[2] == 4000.0
    assert closes[t, FLOW_PAID] == pytest.approx(m.prices[t, 0] - 1000) and closes[t, FLOW_SHORTFALL] == 0
    assert paid[0, 0] == m.prices[t, 0] and paid[0, 2] == -1000
    assert apply_flows(u, 3.0, m.prices, t + 1, s, targets, ZERO, 2, paid, 0, np.empty(3), closes) == 3.0
    from ballast.flows import no_flows

    assert apply_flows(u, 3.0, m.prices, t, no_flows(), targets, ZERO, 2, paid, 0, np.empty(3), closes) == 3.0


def test_twr_ignores_flows_and_irr_matches_scipy() -> None:
    equity = np.array([100.0, 110.0, 60.5, 70.0])  # +10 %, then −50 withdrawn, +10 %, then +5 deposit
    flow = np.array([0.0, 0.0, -50.0, 3.45])
    # returns: 1.10, (60.5 + 50)/110 = 1.004545.., (70 − 3.45)/60.5 = 1.1
    assert time_weighted_return(equity, flow, 100.0) == pytest.approx(1.1 * (110.5 / 110) * 1.1 - 1, rel=1e-14)
    years = np.array([0.0, 0.5, 1.0, 2.5])
    amounts = np.array([-100.0, 0.0, 50.0, 70.0 - 3.45])
    ref = brentq(lambda r: float(np.sum(amounts * (1 + r) ** -years)), -0.99, 10, xtol=1e-15, rtol=1e-15)
    assert money_weighted_return(equity, flow, 100.0, years) == pytest.approx(ref, rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1e5), min_size=1, max_size=12), st.floats(1e3, 1e6), st.floats(0.0, 0.9))
def test_irr_equals_an_independent_root_finder(flows, start, end_share) -> None:
    amounts = np.array([-start, *flows, start * end_share])  # invested once, then paid out: one root
    years = np.cumsum(np.r_[0.0, np.full(len(amounts) - 1, 0.25)])
    npv = lambda r: float(np.sum(amounts * (1 + r) ** -years))  # noqa: E731
    lo, hi = -0.9999, 1e4
    r = irr(amounts, years)
    if npv(lo) * npv(hi) > 0:
        assert np.isnan(r)
        return
    ref = brentq(npv, lo, hi, xtol=1e-14, rtol=1e-14, maxiter=500)
    assert abs(npv(r)) <= 1e-7 * np.abs(amounts).sum()
    assert r == pytest.approx(ref, rel=1e-6, abs=1e-9)


def test_runway_is_the_annuity_length() -> None:
    n = runway_months(np.array([1_000_000.0]), np.array([50_000.0]), np.array([0.004]))[0]
    y, s = 0.004, 50_000.0
    assert s * (1 - (1 + y) ** -n) / y == pytest.approx(1_000_000.0, rel=1e-12)
    assert runway_months(np.array([600.0]), np.array([50.0]), np.array([0.0]))[0] == 12.0
    assert np.isinf(runway_months(np.array([1e6]), np.array([1000.0]), np.array([0.01]))[0])
    assert np.isinf(runway_months(np.array([1e6]), np.array([0.0]), np.array([0.0]))[0])
