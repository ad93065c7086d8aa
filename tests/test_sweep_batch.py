"""The batched kernel against single backtests (bit for bit), grids, streaming, robustness."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import ballast
from ballast.engine.metrics import METRIC_NAMES
from ballast.errors import InputError
from market_support import gbm


def single(prices: pd.DataFrame, **kw: object) -> np.ndarray:
    r = ballast.backtest(prices, **kw)
    return np.array([r.metrics[m] for m in METRIC_NAMES], dtype=np.float64)


def assert_rows_equal_backtests(prices: pd.DataFrame, table: pd.DataFrame, fixed: dict, axes: list[str]) -> None:
    for _, row in table.iterrows():
        kw = {**fixed, **{a: row[a] for a in axes}}
        kw = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in kw.items()}
        want = single(prices, **kw)
        got = row[list(METRIC_NAMES)].to_numpy(dtype=np.float64)
        assert np.array_equal(want, got, equal_nan=True), (kw, want - got)


def test_band_grid_equals_single_runs_bitwise() -> None:
    df = gbm(6, 400, 0.6, seed=3)
    bands = np.linspace(0.005, 0.2, 25)
    t = ballast.sweep(
        df,
        target="equal",
        band=bands,
        band_kind=["absolute", "relative", "hybrid"],
        plan=["full", "band-edge"],
        fee_bps=10,
    )
    assert len(t) == 25 * 3 * 2
    assert t["n_rebalances"].nunique() > 10  # the grid really spans different behaviour
    assert_rows_equal_backtests(df, t, dict(target="equal", fee_bps=10), ["band", "band_kind", "plan"])


def test_calendars_costs_conventions_equal_single_runs(crypto: pd.DataFrame) -> None:
    fixed = dict(target="BTC=0.4,ETH=0.3,USDT=0.3", cash="USDT", band=0.1)
    t = ballast.sweep(
        crypto,
        **fixed,
        rebalance=["never", "weekly", "monthly", 30],
        fee_bps=[0.0, 25.0],
        fixed_cost=[0.0, 20.0],
        min_trade=[0.0, 5000.0],
        convention=["exact", "bt"],
        cooldown=[0, 7],
    )
    assert len(t) == 4 * 2 * 2 * 2 * 2 * 2
    sample = t.iloc[::3]
    assert_rows_equal_backtests(
        crypto, sample, fixed, ["rebalance", "fee_bps", "fixed_cost", "min_trade", "convention", "cooldown"]
    )


def test_targets_and_capital_as_axes() -> None:
    df = gbm(3, 300, 0.5, seed=1)
    t = ballast.sweep(
        df, target=["equal", "A0=0.5,A1=0.3,A2=0.2"], capital=[1e4, 1e6], band=[0.02, 0.1], fee_bps=10, fixed_cost=3.0
    )
    assert_rows_equal_backtests(df, t, dict(fee_bps=10, fixed_cost=3.0), ["target", "capital", "band"])


def test_rebuild_round_trips_every_namedtuple_field() -> None:
    """The sweep rebuilds each configuration's TriggerProgram/PlanSpec/CostArrays from the pools
    (sweep/kernel.py `rebuild`, generated from the field types): every field, compiled and not."""
    from numba import njit

    from ballast.costs.base import CostArrays
    from ballast.engine.backtest import prepare, to_market
    from ballast.planning.base import PlanSpec
    from ballast.strategy import build_strategy
    from ballast.sweep.kernel import rebuild
    from ballast.sweep.pool import pool
    from ballast.triggers.base import TriggerProgram

    m = to_market(gbm(3, 60))
    preps = [
        prepare(build_strategy(band=0.05, plan="band-edge", fee_bps=3), m),
        prepare(
            build_strategy(
                rebalance="weekly", band=0.1, band_kind="relative", cooldown=2, min_trade=7.0, fixed_cost=1.0
            ),
            m,
        ),
    ]

    def compiled_rebuild(nt: type) -> object:
        return njit(lambda P, idx, length, c: rebuild(nt, P, idx, length, c))

    for field, nt in (("program", TriggerProgram), ("plan", PlanSpec), ("costs", CostArrays)):
        pooled = pool([getattr(p, field) for p in preps], nt._fields)
        compiled = compiled_rebuild(nt)
        for (c, p), use_numba in itertools.product(enumerate(preps), (False, True)):
            args = (pooled.pools, pooled.idx, pooled.length, c)
            got = compiled(*args) if use_numba else rebuild(nt, *args)
            want = getattr(p, field)
            assert type(got).__name__ == nt.__name__ and len(got) == len(nt._fields)
            for name in nt._fields:
                g, w = np.asarray(getattr(got, name)), np.asarray(getattr(want, name))
                # Trailing axes come back zero-padded to the chunk's largest (sweep/pool.py).
                assert g.ndim == w.ndim, (field, name)
                cut = g[tuple(slice(0, k) for k in w.shape)]
                assert np.array_equal(cut, w) and np.count_nonzero(g) == np.count_nonzero(cut), (field, name)


def test_product_order_zip_and_streaming(tmp_path) -> None:
    df = gbm(4, 250, seed=2)
    t = ballast.sweep(df, band=[0.02, 0.05, 0.1], fee_bps=[1, 2])
    assert t["band"].tolist() == [0.02, 0.02, 0.05, 0.05, 0.1, 0.1]
    assert t["fee_bps"].tolist() == [1, 2, 1, 2, 1, 2]
    assert t["config"].tolist() == list(range(6))
    z = ballast.sweep(df, band=[0.02, 0.05, 0.1], fee_bps=[1, 2, 3], zip=True)
    assert list(zip(z["band"], z["fee_bps"], strict=True)) == [(0.02, 1), (0.05, 2), (0.1, 3)]
    big = ballast.sweep(
        df, band=np.linspace(0.01, 0.3, 40), rebalance=["never", "monthly"], chunk_size=7, out=tmp_path / "r.parquet"
    )
    back = pd.read_parquet(big)
    whole = ballast.sweep(df, band=np.linspace(0.01, 0.3, 40), rebalance=["never", "monthly"])
    pd.testing.assert_frame_equal(back, whole, check_dtype=False)


def test_axis_errors_name_the_axis() -> None:
    df = gbm(3, 100)
    with pytest.raises(ValueError, match=r"sweep axis band\[1\] = -0.1"):
        ballast.sweep(df, band=[0.1, -0.1])
    with pytest.raises(ValueError, match="'cash' cannot be a sweep axis"):
        ballast.sweep(df, band=0.1, cash=["A0", "A1"])
    with pytest.raises(ValueError, match="same length"):
        ballast.sweep(df, band=[0.1, 0.2], fee_bps=[1, 2, 3], zip=True)
    with pytest.raises(ValueError, match="has no values"):
        ballast.sweep(df, band=[])
    with pytest.raises(InputError, match="unknown asset"):
        ballast.sweep(df, target=["A0=0.5,ZZ=0.5"], band=0.1)
    # A local sweep checks the axes while its first chunk computes: a bad value in a later chunk
    # is still reported by axis, and before any row.
    with pytest.raises(ValueError, match=r"sweep axis band\[300\] = -0.1"):
        ballast.sweep(df, band=[*np.linspace(0.01, 0.2, 300), -0.1], chunk_size=100)


def test_interrupt_keeps_finished_rows(tmp_path) -> None:
    from ballast.sweep.runner import ParquetSink, execute, prepare_sweep

    df = gbm(3, 200)
    market, job = prepare_sweep(df, dict(band=np.linspace(0.01, 0.2, 30)), False, {})
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        if done >= 20:
            raise KeyboardInterrupt

    sink = ParquetSink(tmp_path / "part.parquet")
    with pytest.raises(KeyboardInterrupt):
        execute(market, job, sink, chunk_size=10, progress=progress)
    kept = pd.read_parquet(tmp_path / "part.parquet")
    # The two chunks that finished first (two workers: not always the first two), in grid order.
    configs = kept["config"].tolist()
    assert len(configs) == 20 and configs == sorted(set(configs))
    assert {c // 10 for c in configs} <= {0, 1, 2} and all(configs.count(c) == 1 for c in configs)
    full = ballast.sweep(df, band=np.linspace(0.01, 0.2, 30))
    pd.testing.assert_frame_equal(kept, full.iloc[configs].reset_index(drop=True), check_dtype=False)


def test_bootstrap_reproducible_from_seed() -> None:
    df = gbm(4, 300, seed=5)
    kw = dict(band=[0.02, 0.08], rebalance=["never", "monthly"], fee_bps=10, bootstrap=15, block=10)
    a = ballast.sweep(df, seed=7, **kw)
    b = ballast.sweep(df, seed=7, chunk_size=1, **kw)  # chunking does not change the draws
    c = ballast.sweep(df, seed=8, **kw)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["final_wealth_median"], c["final_wealth_median"])
    assert (a["final_wealth_p5"] <= a["final_wealth_median"]).all()
    assert (a["final_wealth_median"] <= a["final_wealth_p95"]).all()
    # The real-path metrics are the plain sweep's.
    plain = ballast.sweep(df, band=[0.02, 0.08], rebalance=["never", "monthly"], fee_bps=10)
    pd.testing.assert_frame_equal(a[plain.columns], plain)


def test_bootstrap_paths_are_blocks_of_real_returns() -> None:
    from ballast.engine.backtest import to_market
    from ballast.sweep.robust import bootstrap_market

    m = to_market(gbm(3, 101, seed=9))
    p = bootstrap_market(m, 10, 42, 3)
    assert np.array_equal(p.prices[0], m.prices[0]) and p.prices.shape == m.prices.shape
    real = m.prices[1:] / m.prices[:-1]
    drawn = p.prices[1:] / p.prices[:-1]
    # Every drawn row is one of the real return rows, and they come in runs of consecutive rows.
    rows = [int(np.argmin(np.abs(real - d).sum(axis=1))) for d in drawn]
    assert np.allclose(drawn, real[rows], rtol=1e-12)
    assert all(rows[i + 1] == rows[i] + 1 for i in range(99) if (i + 1) % 10)
    assert np.array_equal(bootstrap_market(m, 10, 42, 3).prices, p.prices)
    assert not np.array_equal(bootstrap_market(m, 10, 42, 4).prices, p.prices)
    with pytest.raises(ValueError, match="longer than"):
        bootstrap_market(m, 500, 0, 0)


def test_walk_forward_chooses_on_train_and_reports_test() -> None:
    from ballast.engine.backtest import to_market

    df = gbm(4, 700, seed=11)
    ppy = to_market(df).periods_per_year  # windows keep the whole history's periods per year
    bands = [0.01, 0.03, 0.06, 0.12]
    for metric, pick in (("sharpe", np.nanargmax), ("tracking_error", np.nanargmin)):
        wf = ballast.walk_forward(df, train=250, test=150, metric=metric, band=bands, fee_bps=10)
        assert len(wf) == 3  # training windows start at 0, 150, 300 (300 + 400 = 700)
        for _, row in wf.iterrows():
            a = df.index.get_loc(row["train_start"])
            b = df.index.get_loc(row["test_start"])
            c = df.index.get_loc(row["test_end"]) + 1
            assert b - a == 250 and c - b == 150
            train = ballast.sweep(df.iloc[a:b], band=bands, fee_bps=10, periods_per_year=ppy)
            assert row["band"] == bands[int(pick(train[metric]))]
            assert row[f"train_{metric}"] == train[metric].max() if metric == "sharpe" else train[metric].min()
            want = single(df.iloc[b:c], band=row["band"], fee_bps=10, periods_per_year=ppy)
            assert np.array_equal(want, row[list(METRIC_NAMES)].to_numpy(np.float64), equal_nan=True)


def test_paths_only_when_asked_and_equal_to_backtests() -> None:
    df = gbm(5, 300, seed=12)
    table, equity = ballast.sweep(df, band=[0.02, 0.1], plan=["full", "band-edge"], fee_bps=10, paths=True)
    assert equity.shape == (300, 4) and (equity.index == df.index).all()
    assert table.equals(ballast.sweep(df, band=[0.02, 0.1], plan=["full", "band-edge"], fee_bps=10))
    for _, row in table.iterrows():
        r = ballast.backtest(df, band=row["band"], plan=row["plan"], fee_bps=10)
        assert np.array_equal(r.equity.to_numpy(), equity[row["config"]].to_numpy())
    with pytest.raises(ValueError, match="cannot be combined"):
        ballast.sweep(df, band=[0.02, 0.1], paths=True, bootstrap=3)


def test_risk_targets_and_volatility_triggers_equal_single_runs() -> None:
    from ballast.targets.risk import InverseVol

    df = gbm(4, 500, 0.5, seed=17)
    targets = [InverseVol(40), InverseVol(120), "equal"]
    t = ballast.sweep(df, target=targets, vol_thresholds=[[0.3, 0.6], [0.45]], tracking_error=[0.01, 0.03], fee_bps=10)
    assert len(t) == 3 * 2 * 2
    for _, row in t.iterrows():
        i, rest = divmod(int(row["config"]), 4)
        kw = dict(
            target=targets[i],
            vol_thresholds=[[0.3, 0.6], [0.45]][rest // 2],
            tracking_error=[0.01, 0.03][rest % 2],
            fee_bps=10,
        )
        want = single(df, **kw)
        assert np.array_equal(want, row[list(METRIC_NAMES)].to_numpy(np.float64), equal_nan=True), kw
    assert t["n_rebalances"].nunique() > 3
    # A flat list for a sequence keyword is one value, not an axis.
    one = ballast.sweep(df, vol_thresholds=[0.3, 0.6], band=[0.05, 0.1])
    assert list(one.columns[:3]) == ["config", "band", "final_wealth"]


def test_configurations_with_and_without_series_leaves_share_a_chunk() -> None:
    """A volatility-regime leaf carries a per-period series and a calendar a per-period mask;
    configurations without them carry empty ones. One chunk holds both (padded, sweep/pool.py)."""
    df = gbm(4, 300, 0.5, seed=23)
    t = ballast.sweep(df, vol_change=[None, 0.5], rebalance=["never", "monthly"], band=[0.03, 0.1], fee_bps=10)
    assert len(t) == 8
    for _, row in t.iterrows():
        kw = dict(
            vol_change=None if np.isnan(row["vol_change"]) else float(row["vol_change"]),
            rebalance=row["rebalance"],
            band=float(row["band"]),
            fee_bps=10,
        )
        assert np.array_equal(single(df, **kw), row[list(METRIC_NAMES)].to_numpy(np.float64), equal_nan=True), kw


def test_target_constraints_reach_the_sweep() -> None:
    """A target's turnover cap and value floor live in the plan: a sweep must carry them too
    (it once compiled the planner alone, and a binding cap changed nothing in the sweep)."""
    from ballast.strategy import parse_target
    from ballast.targets.constraints import Runway, TurnoverLimit

    df = gbm(4, 300, 0.5, seed=5).assign(USD=1.0)
    capped = TurnoverLimit(parse_target("equal"), 0.003)
    floored = Runway(parse_target("A0=0.3,A1=0.3,A2=0.3,USD=0.1"), "USD", 150_000.0, 3)
    t = ballast.sweep(df, target=[capped, floored, "equal"], band=[0.02, 0.1], fee_bps=10, cash="USD")
    for _, row in t.iterrows():
        i, j = divmod(int(row["config"]), 2)
        kw = dict(target=[capped, floored, "equal"][i], band=[0.02, 0.1][j], fee_bps=10, cash="USD")
        assert np.array_equal(single(df, **kw), row[list(METRIC_NAMES)].to_numpy(np.float64), equal_nan=True), kw
    # The cap binds: the capped strategy rebalances more often than the uncapped one, in smaller steps.
    assert t["n_rebalances"].iloc[0] > t["n_rebalances"].iloc[4]


def test_parallel_and_serial_kernels_agree() -> None:
    """A local sweep runs chunks in the one-thread kernel; Dask tasks, bootstraps and walk-forward
    test windows in the parallel one. Every metric must agree (the parallel one once lost the
    target returns and reported a tracking error of 0)."""
    from ballast.sweep import batch
    from ballast.sweep.runner import prepare_sweep

    df = gbm(4, 300, 0.6, seed=3)
    bands = [0.01, 0.03, 0.1]
    market, _ = prepare_sweep(df, dict(band=bands, fee_bps=10), False, {})
    configs = [dict(band=b) for b in bands]
    parallel = batch.run_configs(market, dict(fee_bps=10), configs)
    with ThreadPoolExecutor(1, initializer=batch.use_serial_kernel) as pool:
        serial = pool.submit(batch.run_configs, market, dict(fee_bps=10), configs).result()
    assert np.array_equal(parallel, serial, equal_nan=True)
    assert (parallel[:, list(METRIC_NAMES).index("tracking_error")] > 0).all()
    local = ballast.sweep(df, band=bands, fee_bps=10)
    assert np.array_equal(local[list(METRIC_NAMES)].to_numpy(np.float64), parallel, equal_nan=True)


def test_cost_aware_next_to_other_planners_equals_single_runs() -> None:
    """Only a cost-aware plan has parameters (a 2-D params field; the others' is 1-D and empty,
    which compiles no cost-aware code into their walk). One chunk mixing both is padded and must
    still equal single backtests bit for bit."""
    df = gbm(4, 300, 0.6, seed=12)
    t = ballast.sweep(
        df, target="equal", band=[0.02, 0.08], plan=["full", "cost-aware", "band-edge"], fee_bps=25, fixed_cost=2.0
    )
    assert_rows_equal_backtests(df, t, dict(target="equal", fee_bps=25, fixed_cost=2.0), ["band", "plan"])
    by_plan = t.groupby("plan")["n_trades"].sum()
    assert by_plan["cost-aware"] != by_plan["full"]  # the cost-aware plan really ran
