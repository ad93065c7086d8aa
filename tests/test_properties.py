"""Invariants of the engine on random markets and strategies (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ballast
from ballast.triggers import Band

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def markets(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(2, 6))
    t = draw(st.integers(3, 60))
    seed = draw(st.integers(0, 2**32 - 1))
    vol = draw(st.sampled_from([0.01, 0.05, 0.2]))
    rng = np.random.default_rng(seed)
    steps = np.exp(rng.normal(0, vol, size=(t - 1, n)))
    prices = np.vstack([np.ones(n), np.cumprod(steps, axis=0)]) * rng.uniform(0.5, 500, size=n)
    return pd.DataFrame(
        prices, index=pd.date_range("2020-01-01", periods=t, freq="D"), columns=[f"X{i}" for i in range(n)]
    )


@st.composite
def targets(draw: st.DrawFn, n: int) -> dict[str, float]:
    raw = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=n, max_size=n)))
    w = raw / raw.sum()
    w[-1] = 1.0 - w[:-1].sum()
    return {f"X{i}": float(v) for i, v in enumerate(w)}


@st.composite
def cases(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, object]]:
    df = draw(markets())
    kw: dict[str, object] = {
        "target": draw(targets(df.shape[1])),
        "fee_bps": draw(st.sampled_from([0.0, 1.0, 10.0, 100.0])),
        "fixed_cost": draw(st.sampled_from([0.0, 0.0, 3.0])),
        "capital": 10_000.0,
    }
    if draw(st.booleans()):
        kw["band"] = draw(st.floats(0.0, 0.3))
        kw["band_kind"] = draw(st.sampled_from(["absolute", "relative", "hybrid"]))
        kw["plan"] = draw(st.sampled_from(["full", "band-edge"]))
    else:
        kw["rebalance"] = draw(st.sampled_from(["daily", "weekly", 2, 7, "never"]))
    return df, kw


def rebalance_costs(r: ballast.Result) -> np.ndarray:
    c = np.zeros(len(r.equity))
    reb = r.raw.rebalances
    c[reb.t] = reb.cost
    return c


@SETTINGS
@given(cases())
def test_value_conserved_up_to_costs(case: tuple[pd.DataFrame, dict[str, object]]) -> None:
    df, kw = case
    r = ballast.backtest(df, **kw)
    eq = r.equity.to_numpy()
    w = r.weights.to_numpy()
    p = df.to_numpy()
    costs = rebalance_costs(r)
    # Each trade's cost from the strategy's fee schedule, independently of the kernel's cost code.
    trades = r.trades
    fee = float(kw["fee_bps"]) / 1e4  # type: ignore[arg-type]
    np.testing.assert_allclose(
        trades.cost,
        fee * trades.value.abs() + float(kw["fixed_cost"]),  # type: ignore[arg-type]
        rtol=1e-12,
        atol=1e-9,
    )
    per_close = np.zeros(len(eq))
    np.add.at(per_close, r.market.index.get_indexer(trades.time), trades.cost.to_numpy())
    np.testing.assert_allclose(costs, per_close, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(eq[0] + costs[0], 10_000.0, rtol=1e-12)
    grown = eq[:-1] * (w[:-1] * (p[1:] / p[:-1])).sum(axis=1)
    np.testing.assert_allclose(eq[1:] + costs[1:], grown, rtol=1e-10)
    np.testing.assert_allclose(r.metrics["total_costs"], per_close.sum(), rtol=1e-12, atol=1e-9)


@SETTINGS
@given(cases())
def test_weights_sum_to_one_and_never_negative(case: tuple[pd.DataFrame, dict[str, object]]) -> None:
    df, kw = case
    r = ballast.backtest(df, **kw)
    w = r.weights.to_numpy()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    assert (w >= -1e-15).all()
    assert (r.equity.to_numpy() > 0).all()


@SETTINGS
@given(markets(), st.data())
def test_band_edge_lands_inside_band(df: pd.DataFrame, data: st.DataObject) -> None:
    target = data.draw(targets(df.shape[1]))
    width = data.draw(st.floats(0.005, 0.3))
    kind = data.draw(st.sampled_from(["absolute", "relative", "hybrid"]))
    fee = data.draw(st.sampled_from([0.0, 10.0, 100.0]))
    r = ballast.backtest(df, target=target, band=width, band_kind=kind, plan="band-edge", fee_bps=fee)
    band = Band(width, kind=kind)
    tw = r.target_weights.to_numpy()
    w = r.weights.to_numpy()
    for t in r.raw.rebalances.t:
        hw = band.half_widths(tuple(df.columns), tw[t])
        if t == 0:
            continue
        assert (np.abs(w[t] - tw[t]) <= hw + 1e-12).all(), (t, w[t], tw[t], hw)
        np.testing.assert_allclose(w[t].sum(), 1.0, atol=1e-12)


@SETTINGS
@given(markets(), st.data())
def test_zero_costs_zero_band_is_constant_rebalanced(df: pd.DataFrame, data: st.DataObject) -> None:
    target = data.draw(targets(df.shape[1]))
    r = ballast.backtest(df, target=target, band=0.0, capital=1.0)
    w = np.array(list(target.values()))
    p = df.to_numpy()
    crp = np.concatenate([[1.0], np.cumprod((p[1:] / p[:-1]) @ w)])
    np.testing.assert_allclose(r.equity.to_numpy(), crp, rtol=1e-12)


@SETTINGS
@given(markets(), st.data())
def test_never_is_buy_and_hold(df: pd.DataFrame, data: st.DataObject) -> None:
    target = data.draw(targets(df.shape[1]))
    fee = data.draw(st.sampled_from([0.0, 25.0]))
    r = ballast.backtest(df, target=target, rebalance="never", fee_bps=fee, capital=1.0)
    w = np.array(list(target.values()))
    p = df.to_numpy()
    v0 = 1.0 / (1.0 + fee * 1e-4)
    bah = v0 * (p / p[0]) @ w
    np.testing.assert_allclose(r.equity.to_numpy(), bah, rtol=1e-12)
    np.testing.assert_allclose(r.baseline.equity.to_numpy(), bah, rtol=1e-12)
