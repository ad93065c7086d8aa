"""The shortcuts taken for speed keep their contracts (see bench/RESULTS.md, "What was changed")."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import ballast
from ballast.data.loaders import load_prices
from ballast.market import Market
from ballast.triggers.calendar import calendar_mask
from ballast.yields import ConstantAPY
from market_support import gbm


def test_growing_trade_log_matches_python_engine() -> None:
    """Daily rebalancing of 30 assets: 30 trades a close, far beyond the kernel's first trade-log
    allocation, so it grows several times; every trade must still be the Python engine's."""
    prices = gbm(n_assets=30, n_periods=300, seed=3)
    kw = dict(target="equal", rebalance="daily", fee_bps=10)
    a = ballast.backtest(prices, **kw)
    b = ballast.backtest(prices, engine="python", **kw)
    assert len(a.trades) > 64 * 30 * 2
    np.testing.assert_array_equal(a.equity.to_numpy(), b.equity.to_numpy())
    pd.testing.assert_frame_equal(a.trades, b.trades)
    assert a.trades.groupby("time").size().eq(30).iloc[1:].all()


def test_loader_neither_aliases_nor_modifies_the_callers_frame() -> None:
    prices = gbm(n_assets=3, n_periods=20)
    before = prices.copy()
    out = load_prices(prices)
    pd.testing.assert_frame_equal(prices, before)
    assert not np.shares_memory(out.to_numpy(), prices.to_numpy())
    prices.iloc[0, 0] = 1e9  # the caller changing its frame later changes nothing already loaded
    assert out.iloc[0, 0] == before.iloc[0, 0]


def test_loader_fast_path_keeps_types_and_names() -> None:
    idx = pd.bdate_range("2024-01-01", periods=3)
    mixed = pd.DataFrame({"A": [1, 2, 3], "B": [1.5, 2.5, 3.5]}, index=idx)  # int and float columns
    out = load_prices(mixed)
    assert out.dtypes.tolist() == [np.float64, np.float64] and out.columns.tolist() == ["A", "B"]
    numbered = pd.DataFrame({1: [1.0, 2.0, 3.0], 2: [2.0, 3.0, 4.0]}, index=idx)
    assert load_prices(numbered).columns.tolist() == ["1", "2"]


def test_market_prices_are_writeable_contiguous_copies_of_read_only_input() -> None:
    """pandas hands out read-only views; numba would compile a separate read-only kernel."""
    view = np.ones((4, 2))
    view.flags.writeable = False
    m = Market(view, ("A", "B"), pd.RangeIndex(4))
    assert m.prices.flags.writeable and m.prices.flags.c_contiguous
    m2 = Market.from_frame(load_prices(gbm(n_assets=2, n_periods=10)))
    assert m2.prices.flags.writeable and m2.prices.flags.c_contiguous


def test_calendar_masks_mark_first_close_of_each_period() -> None:
    idx = pd.DatetimeIndex(
        ["2023-12-28", "2023-12-29", "2024-01-02", "2024-01-31", "2024-02-01", "2024-03-28", "2024-04-01", "2025-01-02"]
    )
    assert calendar_mask(idx, "monthly").tolist() == [False, False, True, False, True, True, True, True]
    assert calendar_mask(idx, "quarterly").tolist() == [False, False, True, False, False, False, True, True]
    assert calendar_mask(idx, "yearly").tolist() == [False, False, True, False, False, False, False, True]


def test_drift_max_over_float_bits_is_the_float_max() -> None:
    """`max_abs_drift` takes an integer max over the bits of |w − target| (SIMD); it must be the
    exact float max, including zeros, subnormals, ties and huge values."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from ballast.engine.kernel import max_abs_drift

    finite = st.floats(allow_nan=False, allow_infinity=False, width=64)

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.tuples(finite, finite), min_size=1, max_size=40))
    def check(pairs: list[tuple[float, float]]) -> None:
        w = np.array([a for a, _ in pairs])
        t = np.array([[b for _, b in pairs]])
        with np.errstate(over="ignore"):
            want = float(np.max(np.abs(w - t[0])))
        assert max_abs_drift(w, t, 0) == want or (np.isnan(want) and np.isnan(max_abs_drift(w, t, 0)))

    check()


def test_unused_assets_do_not_change_a_single_bit() -> None:
    """Portfolio values are summed over held assets only, so a strategy gives the same equity to
    the last bit whether or not assets it never holds are in its universe (a sweep's universe is
    the union of its configurations')."""
    prices = gbm(n_assets=6, n_periods=400, seed=8)
    target = "A0=0.2,A2=0.3,A3=0.1,A5=0.4"
    kw = dict(target=target, band=0.03, fee_bps=10, plan="band-edge")
    own = ballast.backtest(prices[["A0", "A2", "A3", "A5"]], **kw)
    wide = ballast.backtest(prices, assets=list(prices.columns), **kw)
    assert list(wide.weights.columns) == list(prices.columns)
    np.testing.assert_array_equal(own.equity.to_numpy(), wide.equity.to_numpy())
    assert own.metrics == wide.metrics


def test_drawdown_with_one_division_per_high_is_exact() -> None:
    """Max drawdown evaluates 1 − low/peak once per new high; it must equal the plain running
    definition bit for bit (ties, flat stretches, a near wipe-out)."""
    from ballast.engine.metrics import METRIC_NAMES, compute_metrics

    def plain(e: np.ndarray) -> float:
        peak, mdd = e[0], 0.0
        for x in e:
            peak = max(peak, x)
            mdd = max(mdd, 1.0 - x / peak)
        return mdd

    rng = np.random.default_rng(4)
    k = list(METRIC_NAMES).index("max_drawdown")
    for i in range(500):
        e = 1e6 * np.exp(np.cumsum(rng.normal(0, rng.uniform(1e-4, 0.05), rng.integers(1, 300))))
        if i % 5 == 0:
            e = np.round(e, -4)  # ties and flat stretches
        if i % 50 == 0:
            e[len(e) // 2 :] *= 1e-12  # nearly wiped out
        assert compute_metrics(e, np.zeros(9), 1e6, 252.0)[k] == plain(e)


def test_local_sweep_is_the_same_on_one_worker_and_on_two() -> None:
    from ballast.sweep.local import LocalExecutor
    from ballast.sweep.runner import FrameSink, execute, prepare_sweep

    df = gbm(n_assets=5, n_periods=500, seed=9)
    market, job = prepare_sweep(df, dict(band=list(np.linspace(0.005, 0.2, 150)), fee_bps=10), False, {})
    one = execute(market, job, FrameSink(), LocalExecutor(threads=1))
    two = execute(market, job, FrameSink(), LocalExecutor(threads=2), chunk_size=16)
    pd.testing.assert_frame_equal(one, two)


def test_plain_cost_is_trade_cost_without_a_pool() -> None:
    """The solve prices pool-free legs with `plain_cost` from arrays read once; it must be
    `trade_cost` to the bit (fees, per-trade and per-asset fixed costs, zero, buys and sells)."""
    from ballast.costs.base import Costs, compile_costs
    from ballast.costs.kernel import plain_cost, trade_cost
    from ballast.costs.simple import FixedPerTrade, Proportional

    m = Market.from_frame(gbm(n_assets=4, n_periods=30, seed=2))
    costs = compile_costs(Costs(Proportional(7.5), FixedPerTrade(3.0)), m)
    rng = np.random.default_rng(5)
    for value in [0.0, -0.0, *rng.normal(0, 1e5, 200)]:
        i, t = int(rng.integers(4)), int(rng.integers(30))
        assert plain_cost(costs.prop, costs.fixed, costs.fixed_asset, i, t, value) == trade_cost(costs, i, t, value)


def test_a_strategy_without_pegs_loads_and_compiles_none_of_the_peg_code() -> None:
    """The depeg machinery is plain numpy run before the walk and compiles to a mask: a strategy
    without pegs imports none of it, and one with pegs gets the calendar leaf's specialisation."""
    import subprocess
    import sys

    code = (
        "import sys, ballast; from market_support import gbm; "
        "ballast.backtest(gbm(n_assets=3, n_periods=50), target='equal', band=0.05); "
        "print(sorted(m for m in sys.modules if m.startswith(('ballast.pegs', 'ballast.scenarios', "
        "'ballast.stable_reserve', 'ballast.triggers.depeg', 'ballast.targets.pegged', "
        "'ballast.planning.pegged', 'ballast.costs.psm'))))"
    )
    here = __import__("pathlib").Path(__file__).parent
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=here,
        env={**__import__("os").environ, "PYTHONPATH": f"{here.parent / 'src'}:{here}"},
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"

    from ballast.enums import LEAF_MASK
    from ballast.triggers.base import compile_trigger
    from ballast.triggers.depeg import Depeg

    m = Market.from_frame(gbm(n_assets=3, n_periods=50).rename(columns=lambda c: f"S{c}"))
    program = compile_trigger(Depeg({m.assets[0]: 1.0}), m)
    assert program is not None and program.kind[0] == LEAF_MASK and program.series.ndim == 1


def _accrue_branchy(units, prices, t, growth, borrow, payout, quote, earned, row) -> float:
    """The accrual as first written (a skip per asset not held or not growing): the reference
    the branch-free `_accrue` must equal bit for bit."""
    paid = 0.0
    for i in range(units.shape[0]):
        u = units[i]
        if u == 0.0:
            continue
        g = growth[t, i] if u > 0.0 else borrow[t, i]
        if g == 1.0:
            continue
        value = u * (g - 1.0) * prices[t, i]
        earned[row, i] += value
        if payout[i] != 0 and u > 0.0:
            paid += value
        else:
            units[i] = u * g
    if paid != 0.0 and quote >= 0:
        units[quote] += paid / prices[t, quote]
        paid = 0.0
    return paid


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 1.5, -2.25, 3.0, 1e-9, -7.0]), min_size=4, max_size=4),
    st.lists(st.sampled_from([1.0, 1.0001, 0.9999, 1.05]), min_size=4, max_size=4),
    st.lists(st.integers(0, 1), min_size=4, max_size=4),
    st.integers(-1, 3),
)
def test_branch_free_accrual_is_the_branchy_one_bit_for_bit(units, growth, payout, quote) -> None:
    """Where it is safe: every unit count (zero, long, short), growth of exactly 1 or not, payout
    flags and quote choices — an asset skipped before now adds 0·(g − 1), which changes no bit."""
    from ballast.yields.base import YieldArrays
    from ballast.yields.kernel import accrue

    g = np.vstack([np.ones(4), np.array(growth)])
    b = np.vstack([np.ones(4), np.array(growth)[::-1] + 0.01])
    pay = np.array(payout, np.int64)
    prices = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 2.5, 2.0, 5.0]])
    arrays = YieldArrays(g, b, pay, np.flatnonzero(pay).astype(np.int64))
    u_new, u_ref = np.array(units), np.array(units)
    e_new, e_ref = np.full((1, 4), 0.25), np.full((1, 4), 0.25)
    paid_new = accrue(u_new, prices, 1, arrays, quote, e_new, 0)
    paid_ref = _accrue_branchy(u_ref, prices, 1, g, b, pay, quote, e_ref, 0)
    assert paid_new == paid_ref
    np.testing.assert_array_equal(u_new, u_ref)
    np.testing.assert_array_equal(e_new, e_ref)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 1.5, 3.0, 1e-9, 7.0]), min_size=4, max_size=4),
    st.lists(st.sampled_from([1.0, 1.0001, 0.9999, 1.05]), min_size=4, max_size=4),
)
def test_unsigned_accrual_is_the_general_one_bit_for_bit(units, growth) -> None:
    """Where it is safe — no holding below zero, no payout asset (what `signed_yields` proves
    before marking yields unsigned) — the fast loop is the general one, bit for bit."""
    from ballast.yields.base import YieldArrays
    from ballast.yields.kernel import accrue

    g = np.vstack([np.ones(4), np.array(growth)])
    b = np.vstack([np.ones(4), np.array(growth)[::-1] + 0.01])
    none = np.zeros(4, np.int64)
    prices = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 2.5, 2.0, 5.0]])
    fast = YieldArrays(g, b, none, np.flatnonzero(none).astype(np.int64), signed=0)
    u_new, u_ref = np.array(units), np.array(units)
    e_new, e_ref = np.full((1, 4), 0.25), np.full((1, 4), 0.25)
    assert accrue(u_new, prices, 1, fast, 2, e_new, 0) == accrue(u_ref, prices, 1, fast._replace(signed=1), 2, e_ref, 0)
    np.testing.assert_array_equal(u_new, u_ref)
    np.testing.assert_array_equal(e_new, e_ref)


def test_yields_are_unsigned_only_when_no_holding_can_go_negative() -> None:
    """The preparation marks yields unsigned for long-only targets, and keeps them signed for a
    target that borrows (VolTarget's leverage) so that the borrow rate still applies."""
    from ballast.engine.backtest import to_market
    from ballast.engine.prepared import prepare
    from ballast.strategy import build_strategy

    prices = gbm(n_assets=3, n_periods=60, seed=3)
    prices.columns = ["A", "B", "USDC"]
    prices["USDC"] = 1.0
    m = to_market(prices)
    long_only = prepare(build_strategy(target="equal", cash="USDC", yields="A=0.05,USDC=0.04"), m)
    assert long_only.yields is not None and long_only.yields.signed == 0
    targets = long_only.targets.copy()
    targets[:, 2] = -0.5
    targets[:, 0] = 1.0
    from ballast.engine.prepared import signed_yields

    assert signed_yields(long_only.yields, targets, long_only.strategy).signed == 1


def test_held_list_follows_a_payout_into_an_empty_cash_asset() -> None:
    """The walk rebuilds its held-asset list only after a flow or a payout into an empty quote
    asset: a payout-mode yield on a portfolio that holds no USDC must still value the USDC it
    pays (both engines agree to the bit)."""
    prices = gbm(n_assets=3, n_periods=120, seed=5)
    prices.columns = ["A", "B", "USDC"]
    prices["USDC"] = 1.0
    kw = dict(
        target={"A": 0.5, "B": 0.5, "USDC": 0.0},
        rebalance="never",
        cash="USDC",
        yields={"A": ConstantAPY(0.2, "payout")},
    )
    a = ballast.backtest(prices, **kw)
    b = ballast.backtest(prices, engine="python", **kw)
    np.testing.assert_array_equal(a.equity.to_numpy(), b.equity.to_numpy())
    assert a.weights["USDC"].iloc[-1] > 0.0
