"""Constraints: weight bounds and reserves on the path; the runway value floor and the turnover
cap in the engine (compiled and Python alike)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ballast
from ballast.market import Market
from ballast.planning import Planner
from ballast.strategy import build_strategy
from ballast.targets import Fixed
from ballast.targets.constraints import Bounds, Reserve, Runway, TurnoverLimit
from ballast.targets.risk import InverseVol, RiskParity, VolTarget
from market_support import gbm


def crash_market(T: int = 400) -> pd.DataFrame:
    """Two risky assets that lose 95 % and 80 % with noise, then half-recover; USDT is 1."""
    rng = np.random.default_rng(5)
    t = np.arange(T)
    path = np.where(t < 250, np.exp(np.log(0.05) * t / 250), 0.05 * np.exp(np.log(10) * (t - 250) / 150))
    x = path * np.exp(np.cumsum(rng.normal(0, 0.03, T)))
    y = np.sqrt(path) * np.exp(np.cumsum(rng.normal(0, 0.02, T)))
    idx = pd.date_range("2021-01-01", periods=T, freq="D")
    return pd.DataFrame({"X": 100 * x / x[0], "Y": 50 * y / y[0], "USDT": 1.0}, index=idx)


def pre_trade_value(r: ballast.Result) -> np.ndarray:
    w, eq, p = r.raw.weights, r.raw.equity, r.market.prices
    v = np.empty(len(eq))
    v[0] = r.strategy.capital
    v[1:] = (w[:-1] * eq[:-1, None] / p[:-1] * p[1:]).sum(axis=1) + eq[:-1] * (1 - w[:-1].sum(axis=1))
    return v


def test_bounds_project_onto_limits() -> None:
    m = Market.from_frame(gbm(5, 300, seed=2))
    inner = RiskParity(40)
    w = Bounds(inner, min_weight=0.1, max_weight={"A0": 0.12, "A1": 0.5}).path(m)
    assert np.all(w >= 0.1 - 1e-12) and w[:, 0].max() <= 0.12 + 1e-12
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    raw = inner.path(m)
    inside = (raw >= 0.1) & (raw <= np.array([0.12, 0.5, 1, 1, 1]))
    rows = inside.all(axis=1)
    np.testing.assert_allclose(w[rows], raw[rows], atol=1e-12)  # nothing moves when nothing binds


def test_bounds_infeasible_is_clear() -> None:
    m = Market.from_frame(gbm(4, 100))
    with pytest.raises(ValueError, match="infeasible over 4 assets: the minimums sum to 1.2"):
        Bounds(Fixed("equal"), min_weight=0.3).path(m)


def test_reserve_floor_scales_the_rest_pro_rata() -> None:
    m = Market.from_frame(gbm(4, 100))
    w = Reserve(Fixed({"A0": 0.5, "A1": 0.3, "A2": 0.15, "A3": 0.05}), "A3", 0.2).path(m)
    np.testing.assert_allclose(w[0], [0.5 * 0.8 / 0.95, 0.3 * 0.8 / 0.95, 0.15 * 0.8 / 0.95, 0.2])


@pytest.mark.parametrize("engine", ["numba", "python"])
@pytest.mark.parametrize("setup", ["full", "band-edge", "turnover", "fixed-costs", "reserve-not-quote"])
def test_runway_floor_holds_at_every_rebalance(engine: str, setup: str) -> None:
    floor = 20_000.0 * 3
    target = Runway(Fixed({"X": 0.6, "Y": 0.3, "USDT": 0.1}), "USDT", 20_000.0, 3)
    kw: dict = dict(fee_bps=25, rebalance="weekly", band=0.05)
    if setup == "band-edge":
        kw.update(plan="band-edge", rebalance="never")
    if setup == "turnover":
        target = TurnoverLimit(target, 0.05)
    if setup == "fixed-costs":
        kw.update(fixed_cost=50.0)
    cash = None if setup == "reserve-not-quote" else "USDT"  # then the reserve's own leg pays fees too
    r = ballast.backtest(
        crash_market(), build_strategy(target=target, cash=cash, capital=1_000_000.0, **kw), engine=engine
    )
    reb = r.rebalances[r.rebalances.executed]
    t_idx = r.market.index.get_indexer(reb.time)
    reserve = r.raw.weights[t_idx, 2] * r.raw.equity[t_idx]
    assert np.all(reserve >= floor), (reserve - floor).min()
    # The triggers saw the floored target: once the floor binds, it is the target.
    v = pre_trade_value(r)
    eff = r.target_weights.to_numpy()[:, 2]
    np.testing.assert_allclose(eff, np.maximum(0.1, np.minimum(1.0, floor / v)), rtol=1e-9)
    binds = eff[t_idx] > 0.1 + 1e-9
    assert binds.sum() >= 3 and (~binds).sum() >= 3, "the crash must make the floor bind, and not always"


def test_runway_larger_than_the_portfolio_holds_everything_in_reserve() -> None:
    target = Runway(Fixed({"X": 0.6, "Y": 0.3, "USDT": 0.1}), "USDT", 100_000.0, 24)
    r = ballast.backtest(crash_market(), build_strategy(target=target, cash="USDT", fee_bps=10, rebalance="weekly"))
    np.testing.assert_allclose(r.raw.weights[:, 2], 1.0, atol=1e-15)
    assert r.metrics["n_trades"] == 0


def test_turnover_cap_limits_every_rebalance() -> None:
    cap = 0.04
    target = TurnoverLimit(RiskParity(30, assets=["A0", "A1", "A2", "A3"]), cap)
    prices = gbm(5, 500, vol=0.9, seed=9)
    r = ballast.backtest(prices, build_strategy(target=target, rebalance="weekly", cash="A4"))
    v = pre_trade_value(r)
    tr = r.trades.assign(t=r.market.index.get_indexer(r.trades.time))
    per = tr.groupby("t")["value"].apply(lambda x: 0.5 * np.abs(x).sum())
    per = per[per.index > 0] / v[per.index[per.index > 0]]
    assert len(per) > 20 and per.max() <= cap * (1 + 1e-9)
    assert per.max() >= cap * (1 - 1e-9)  # the cap binds somewhere (else this test proves nothing)
    free = ballast.backtest(prices, build_strategy(target=target.inner, rebalance="weekly", cash="A4"))
    assert free.metrics["turnover"] > r.metrics["turnover"]


def test_python_engine_matches_compiled_on_constraints(crypto: pd.DataFrame) -> None:
    inner = Bounds(RiskParity(60, assets=["BTC", "ETH", "LTC", "XRP"]), max_weight=0.4)
    target = TurnoverLimit(Runway(inner, "USDT", 40_000.0, 12), 0.3)
    for kw in (
        dict(rebalance="weekly", band=0.08),
        dict(band=0.05, plan="band-edge"),
        dict(rebalance="monthly", convention="bt", min_trade=2000.0),
    ):
        s = build_strategy(target=target, fee_bps=10, cash="USDT", capital=1e6, **kw)
        a = ballast.backtest(crypto, s)
        b = ballast.backtest(crypto, s, engine="python")
        np.testing.assert_array_equal(a.equity.to_numpy(), b.equity.to_numpy())
        assert a.rebalances.reason.tolist() == b.rebalances.reason.tolist()
        pd.testing.assert_frame_equal(a.trades, b.trades)
        # Rebuilt from each engine's recorded weights, which may differ in the last bit.
        np.testing.assert_allclose(a.target_weights.to_numpy(), b.target_weights.to_numpy(), rtol=0, atol=1e-14)


def test_python_engine_matches_compiled_on_levered_vol_target(crypto: pd.DataFrame) -> None:
    inner = VolTarget(InverseVol(30, assets=["BTC", "ETH"]), 1.0, 30, max_leverage=2.0, reserve="USDT")
    s = build_strategy(target=TurnoverLimit(inner, 0.5), fee_bps=10, cash="USDT", rebalance="weekly")
    a = ballast.backtest(crypto, s)
    b = ballast.backtest(crypto, s, engine="python")
    assert a.target_weights["USDT"].min() < -0.5  # it does borrow the reserve
    np.testing.assert_array_equal(a.equity.to_numpy(), b.equity.to_numpy())
    pd.testing.assert_frame_equal(a.trades, b.trades)
    # A runway forbids borrowing the reserve: the floor wins over the leverage.
    floored = ballast.backtest(
        crypto, build_strategy(target=Runway(inner, "USDT", 10_000.0, 6), cash="USDT", rebalance="weekly")
    )
    assert floored.target_weights["USDT"].min() > 0


def test_python_only_planner_gets_the_constraints(crypto: pd.DataFrame) -> None:
    class Halfway(Planner):
        """A user planner the kernel cannot run: halfway to target."""

        def plan(self, state):
            return 0.5 * (state.weights + state.target) if state.t > 0 else state.target.copy()

    target = Runway(Fixed({"BTC": 0.7, "ETH": 0.3}), "USDT", 50_000.0, 10)
    r = ballast.backtest(crypto, build_strategy(target=target, plan=Halfway(), rebalance="monthly", cash="USDT"))
    reb = r.rebalances[r.rebalances.executed]
    t_idx = r.market.index.get_indexer(reb.time)
    reserve = r.raw.weights[t_idx, r.market.assets.index("USDT")] * r.raw.equity[t_idx]
    assert np.all(reserve >= 500_000.0 * (1 - 1e-12))


def test_one_value_floor_only() -> None:
    two = Runway(Runway(Fixed("equal"), "C", 1.0, 1.0), "C", 2.0, 1.0)
    with pytest.raises(ValueError, match="only one value floor"):
        ballast.backtest(gbm(3, 50).assign(C=1.0), build_strategy(target=two))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Runway(Fixed("equal"), "USDT", -5.0, 12), "monthly_spend must be a number > 0"),
        (lambda: Runway(Fixed("equal"), "USDT", 5.0, 0), "months must be a number > 0"),
        (lambda: TurnoverLimit(Fixed("equal"), 0.0), "max_turnover must be a number > 0"),
        (lambda: Reserve(Fixed("equal"), "USDT", 1.5), "min_weight must be a number >= 0 and <= 1"),
        (lambda: Bounds(Fixed("equal"), max_weight={"BTC": -1}), r"max_weight\[BTC\] must be"),
    ],
)
def test_bad_constraint_parameters(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
