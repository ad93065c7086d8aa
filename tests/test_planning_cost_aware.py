"""CostAware: inside the bands, never dearer than Full, the documented zero-cost limits, a cvxpy
cross-check of the convex part, and the engine (compiled == Python, gate records)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ballast
from ballast.costs import ConstantProductPool, Gas, Proportional
from ballast.costs.base import CostArrays, zero_costs
from ballast.costs.kernel import trade_cost
from ballast.enums import PLAN_EXECUTED, PLAN_SKIPPED, POOL_CONSTANT_PRODUCT
from ballast.market import Market
from ballast.planning import BandEdge, CostAware
from ballast.triggers import Band
from ballast.triggers.base import TriggerState


def one_period(n: int) -> Market:
    return Market(np.ones((1, n)), tuple(f"A{i}" for i in range(n)), pd.date_range("2024-01-01", periods=1))


def costs_for(n: int, prop: np.ndarray, depth: np.ndarray | None, fixed: float) -> CostArrays:
    c = zero_costs(one_period(n))
    c = c._replace(prop=prop.astype(float), fixed=np.full(1, fixed))
    if depth is not None:
        kind = np.where(depth > 0, POOL_CONSTANT_PRODUCT, 0).astype(np.int64)
        c = c._replace(
            pool_kind=kind,
            pool_depth=depth[None, :].astype(float),
            pool_fee=np.where(depth > 0, 0.003, 0.0),
            pool_slice=np.where(depth > 0, 0.0099, 0.0),
        )
    return c


def plan(
    w0: np.ndarray,
    tau: np.ndarray,
    band: float,
    costs: CostArrays,
    V: float,
    kappa: float = 0.05,
    quote: str | None = None,
    gate: bool = True,
) -> tuple[np.ndarray, int, float, float]:
    n = len(w0)
    planner = CostAware(kappa, band=Band(band), gate=gate, cash=quote)
    state = TriggerState(one_period(n), 0, w0, tau, 0)
    o = planner.plan_costed(state, V, costs)
    return o.weights, o.status, o.cost, o.benefit


def cost_of(w_from: np.ndarray, w_to: np.ndarray, costs: CostArrays, V: float, quote: int) -> float:
    return sum(
        trade_cost(costs, i, 0, (w_to[i] - w_from[i]) * V)
        for i in range(len(w_from))
        if i != quote and w_to[i] != w_from[i]
    )


simplex = st.integers(3, 8).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n), st.lists(st.floats(0.01, 1.0), min_size=n, max_size=n)
    )
)


@settings(max_examples=300, deadline=None)
@given(
    ws=simplex,
    band=st.floats(0.01, 0.2),
    bps=st.floats(0, 50),
    depth=st.just(0.0) | st.floats(0.01, 50.0),
    fixed=st.floats(0, 0.002),
    kappa=st.floats(0.0, 2.0),
    quote=st.booleans(),
    V=st.floats(1e4, 1e9),
)
def test_inside_bands_and_never_dearer_than_full(
    ws: tuple[list[float], list[float]],
    band: float,
    bps: float,
    depth: float,
    fixed: float,
    kappa: float,
    quote: bool,
    V: float,
) -> None:
    raw_w, raw_t = map(np.array, ws)
    if raw_w.sum() == 0:
        raw_w[0] = 1.0
    w0, tau = raw_w / raw_w.sum(), raw_t / raw_t.sum()
    n = len(w0)
    costs = costs_for(n, np.full(n, bps * 1e-4), np.full(n, depth * V) if depth > 0 else None, fixed * V)
    out, status, cost, benefit = plan(w0, tau, band, costs, V, kappa, "A0" if quote else None)
    q = 0 if quote else -1
    assert out.sum() == pytest.approx(1.0, abs=1e-12)
    lo, hi = np.maximum(tau - band, 0), np.minimum(tau + band, 1)
    assert np.all(out >= lo - 1e-12) and np.all(out <= hi + 1e-12)
    # never trades past the target (unless trading is free and κ = 0: BandEdge's projection), so
    # never pays more than Full on the same state
    if kappa > 0 or bps > 0 or depth > 0 or fixed > 0:
        assert np.all((out - w0) * (tau - out) >= -1e-12)
    assert cost_of(w0, out, costs, V, q) <= cost_of(w0, tau, costs, V, q) * (1 + 1e-12) + 1e-9
    if status == PLAN_SKIPPED:
        np.testing.assert_array_equal(out, w0)
        assert cost >= benefit


@settings(max_examples=200, deadline=None)
@given(ws=simplex, band=st.floats(0.01, 0.2), kappa=st.floats(1e-3, 5.0))
def test_zero_costs_reproduce_full_and_band_edge(
    ws: tuple[list[float], list[float]], band: float, kappa: float
) -> None:
    raw_w, raw_t = map(np.array, ws)
    if raw_w.sum() == 0:
        raw_w[0] = 1.0
    w0, tau = raw_w / raw_w.sum(), raw_t / raw_t.sum()
    n = len(w0)
    free = costs_for(n, np.zeros(n), None, 0.0)
    out, status, _, _ = plan(w0, tau, band, free, 1e6, kappa)
    if status == PLAN_EXECUTED:
        np.testing.assert_allclose(out, tau, rtol=0, atol=1e-12)  # κ > 0: Full
    else:
        np.testing.assert_array_equal(w0, tau)
    out0, _, _, _ = plan(w0, tau, band, free, 1e6, 0.0)  # κ = 0: BandEdge's projection
    state = TriggerState(one_period(n), 0, w0, tau, 0)
    np.testing.assert_array_equal(out0, BandEdge(Band(band)).plan(state))


def test_matches_cvxpy_on_the_convex_part() -> None:
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(7)
    for _ in range(25):
        n = int(rng.integers(3, 12))
        w0 = rng.dirichlet(np.ones(n))
        tau = rng.dirichlet(np.ones(n))
        band, kappa, V = 0.08, float(rng.uniform(0.01, 1.0)), 1e6
        p = rng.uniform(0, 30e-4, n)
        costs = costs_for(n, p, None, 0.0)
        out, _, _, _ = plan(w0, tau, band, costs, V, kappa, gate=False)
        x = cp.Variable(n)
        lo = np.maximum(np.maximum(tau - band, 0), np.minimum(w0, tau))
        hi = np.minimum(np.minimum(tau + band, 1), np.maximum(w0, tau))
        obj = kappa * cp.sum_squares(x - tau) + p @ cp.abs(x - w0)
        prob = cp.Problem(cp.Minimize(obj), [cp.sum(x) == 1, x >= lo, x <= hi])
        prob.solve()
        mine = kappa * np.sum((out - tau) ** 2) + p @ np.abs(out - w0)
        assert mine <= prob.value + 1e-7
        np.testing.assert_allclose(out, x.value, atol=1e-4)


def true_objective(w: np.ndarray, w0: np.ndarray, tau: np.ndarray, kappa: float, costs: CostArrays, V: float) -> float:
    return kappa * np.sum((w - tau) ** 2) + cost_of(w0, w, costs, V, -1) / V


def test_fixed_cost_heuristic_near_brute_force() -> None:
    """Every subset of traded assets, solved exactly: the elimination heuristic is never worse
    than doing nothing and within a small gap of the best subset (numbers in docs/cost-study.md)."""
    from ballast.planning.cost_kernel import solve_convex

    rng = np.random.default_rng(3)
    gaps = []
    for _ in range(40):
        n = 6
        w0 = rng.dirichlet(np.ones(n) * 3)
        tau = np.full(n, 1 / n)
        kappa, V = 0.05, 1e6
        costs = costs_for(n, np.full(n, 10e-4), None, float(rng.uniform(5, 60)))
        out, status, _, _ = plan(w0, tau, 1.0, costs, V, kappa, gate=True)
        heur = true_objective(out, w0, tau, kappa, costs, V)
        best = true_objective(w0, w0, tau, kappa, costs, V)
        for k in range(1, n + 1):
            for subset in itertools.combinations(range(n), k):
                lo = w0.copy()
                hi = w0.copy()
                for i in subset:
                    lo[i], hi[i] = min(w0[i], tau[i]), max(w0[i], tau[i])
                x = np.empty(n)
                if np.isnan(solve_convex(w0, tau, kappa, np.full(n, 10e-4), np.zeros(n), lo, hi, x)):
                    continue
                best = min(best, true_objective(x, w0, tau, kappa, costs, V))
        assert heur <= true_objective(w0, w0, tau, kappa, costs, V) + 1e-15
        assert heur >= best - 1e-12
        gaps.append((heur - best) * V)
    assert np.median(gaps) <= 1.0  # currency on a 1 M portfolio


STRATEGIES = [
    dict(band=0.05, plan="cost-aware"),
    dict(rebalance="daily", band=0.05, plan=CostAware(0.2)),
    dict(rebalance="weekly", band=0.3, band_kind="relative", plan=CostAware(0.0)),
    dict(rebalance="daily", plan=CostAware(1.0, gate=False)),
]


@pytest.mark.parametrize("kw", STRATEGIES)
def test_compiled_engine_equals_python_engine(crypto: pd.DataFrame, kw: dict) -> None:
    costs = ConstantProductPool(depth=2e7) + Gas(150_000, 30.0, "ETH") + Proportional(5)
    common = dict(target="BTC=0.4,ETH=0.3,XRP=0.1,USDT=0.2", costs=costs, cash="USDT", capital=5e7, **kw)
    a = ballast.backtest(crypto, **common)
    b = ballast.backtest(crypto, engine="python", **common)
    np.testing.assert_array_equal(a.equity.to_numpy(), b.equity.to_numpy())
    assert a.rebalances.reason.tolist() == b.rebalances.reason.tolist()
    pd.testing.assert_frame_equal(a.trades, b.trades)
    assert a.metrics == b.metrics


def test_gate_records_why_a_rebalance_was_skipped(crypto: pd.DataFrame) -> None:
    costs = ConstantProductPool(depth=2e7) + Gas(150_000, 30.0, "ETH")
    r = ballast.backtest(
        crypto,
        target="BTC=0.4,ETH=0.3,USDT=0.3",
        rebalance="daily",
        band=0.05,
        plan="cost-aware",
        costs=costs,
        cash="USDT",
        capital=1e6,
    )
    skipped = r.rebalances[r.rebalances.reason.str.contains("skipped: cost")]
    assert len(skipped) > 100
    assert not skipped.executed.any() and (skipped.n_trades == 0).all()
    for text in skipped.reason.head(20):
        cost, benefit = (
            float(x.replace(",", "")) for x in text.split("skipped: cost ")[1].rstrip(")").split(" > benefit ")
        )
        assert cost >= benefit
    # every executed rebalance leaves every weight inside its band
    post = r.weights.loc[r.rebalances.time[r.rebalances.executed]].to_numpy()
    tau = np.array([0.4, 0.3, 0.3])
    assert np.all(np.abs(post - tau) <= 0.05 + 1e-3)


def test_cost_aware_plan_needs_the_portfolio_value() -> None:
    state = TriggerState(one_period(3), 0, np.full(3, 1 / 3), np.full(3, 1 / 3), 0)
    with pytest.raises(ValueError, match="needs the portfolio value"):
        CostAware().plan(state)
    with pytest.raises(ValueError, match="risk_aversion"):
        CostAware(-1)
    out = CostAware(costs=Proportional(10)).plan_at(state, 1e6)
    np.testing.assert_array_equal(out.weights, state.weights)


def test_executed_cost_never_above_full_on_the_same_state() -> None:
    """The engine's exact execution of CostAware's plan costs no more than executing Full's."""
    from ballast.costs import compile_costs
    from ballast.engine.kernel import execute

    rng = np.random.default_rng(11)
    for _ in range(500):
        n = int(rng.integers(3, 8))
        assets = tuple(f"A{i}" for i in range(n - 1)) + ("ETH",)
        p = np.exp(rng.normal(0, 2, n))
        m = Market(p[None, :], assets, pd.date_range("2024-01-01", periods=1))
        V = 10 ** rng.uniform(4, 9)
        w0, tau = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(n))
        costs = compile_costs(
            Proportional(rng.uniform(0, 50))
            + ConstantProductPool(depth=V * rng.uniform(0.05, 20))
            + Gas(150_000, rng.uniform(0, 100), "ETH"),
            m,
        )
        q = int(rng.integers(-1, n))
        planner = CostAware(rng.uniform(0, 2), band=Band(rng.uniform(0.01, 0.2)), cash=assets[q] if q >= 0 else None)
        o = planner.plan_costed(TriggerState(m, 0, w0, tau, 0), V, costs)
        paid = []
        for w in (o.weights, tau):
            dv, c = np.empty(n), np.empty(n)
            paid.append(
                execute(w0 * V / p, 0.0, p, w0, np.asarray(w, float), np.zeros(n, np.bool_), costs, 0, q, 0, dv, c).cost
            )
        assert paid[0] <= paid[1] * (1 + 1e-9) + 1e-9
