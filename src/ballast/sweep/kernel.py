"""The batched kernel: many configurations on the same prices in one compiled, parallel call.

Each configuration's inputs (target path, trigger program, plan, costs) are stored once per
distinct value in a *pool* per NamedTuple field, and every configuration holds an index into each
pool (see sweep/pool.py). Inside the ``prange`` loop the NamedTuples are rebuilt from those pools
and handed to the very same ``simulate`` and ``compute_metrics`` a single backtest uses, so a
sweep row is bit-for-bit the metrics of ``ballast.backtest`` with those parameters.

`rebuild` makes each NamedTuple from its pools, generated from the pools' types: a field added to
TriggerProgram, PlanSpec or CostArrays needs no change here (tests/test_sweep_batch.py checks the
round trip field by field).
"""

from __future__ import annotations

import os

# OpenMP's worker threads otherwise spin for a while after each parallel region, while Python
# builds the next call's input (a bootstrap's next resampled market, a Dask worker's next chunk);
# on a 2-core machine that spinning took a third of the CPU. Set before numba loads its OpenMP
# layer (the first parallel call); a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from typing import Any

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from ballast.costs.base import CostArrays
from ballast.engine.intrinsics import borrow, borrow_fields
from ballast.engine.metrics import compute_metrics
from ballast.engine.treasury import TreasuryBook, settle_flows
from ballast.engine.walk import simulate
from ballast.enums import N_FLOW_COLUMNS, N_METRICS
from ballast.planning.base import PlanSpec
from ballast.triggers.base import TriggerProgram


@njit(cache=True)
def take(pool, idx, length, c, f):
    """Configuration ``c``'s value of array field ``f``: its pool row, cut to its own length."""
    return pool[idx[c, f], : length[c, f]]


@njit(cache=True)
def take_scalar(pool, idx, c, f):
    return pool[idx[c, f]]


def rebuild(cls, P, idx, length, c):
    """Configuration ``c``'s NamedTuple of class ``cls`` from its field pools ``P``: a scalar
    field's pool is 1-D (`take_scalar`), an array field's has a leading axis (`take`). Compiled
    code gets the constructor generated from the pools' types below, so a field added to
    TriggerProgram, PlanSpec or CostArrays needs no change here."""
    return cls(*(P[f][idx[c, f]] if P[f].ndim == 1 else P[f][idx[c, f], : length[c, f]] for f in range(len(P))))


@overload(rebuild, inline="always")
def _rebuild(cls, P, idx, length, c):
    if not isinstance(cls, types.NamedTupleClass):
        return None
    parts = ", ".join(
        f"take_scalar(P[{f}], idx, c, {f})" if ty.ndim == 1 else f"take(P[{f}], idx, length, c, {f})"
        for f, ty in enumerate(P.types)
    )
    scope: dict[str, Any] = {"take": take, "take_scalar": take_scalar, "named": cls.instance_class}
    exec(f"def impl(cls, P, idx, length, c):\n    return named({parts})\n", scope)  # noqa: S102  (known fields)
    return scope["impl"]


@njit(parallel=True, cache=True, nogil=True)
def sweep_kernel(
    prices, tgt, target_r, trig, plan, costs, quote, convention, capital, periods_per_year, equity_out, treasury
):
    """`sweep_configs` over numba's threads (a Dask task, a bootstrap)."""
    return sweep_configs(
        prices, tgt, target_r, trig, plan, costs, quote, convention, capital, periods_per_year, equity_out, treasury
    )


@njit(cache=True, nogil=True)
def sweep_kernel_serial(
    prices, tgt, target_r, trig, plan, costs, quote, convention, capital, periods_per_year, equity_out, treasury
):
    """`sweep_configs` in the calling thread: a local sweep runs one per core on different chunks,
    which keeps every core busy while Python builds the next chunks (a parallel region's threads
    wait for each other at its end, and a core lent to Python stalls them all)."""
    return sweep_configs(
        prices, tgt, target_r, trig, plan, costs, quote, convention, capital, periods_per_year, equity_out, treasury
    )


def borrow_treasury(treasury):
    """The shared treasury inputs with their arrays borrowed (no shared reference counts across
    the parallel loop's threads); None stays None."""
    return treasury


@overload(borrow_treasury, inline="always", jit_options={"cache": True})
def _borrow_treasury_typed(treasury):
    if isinstance(treasury, (types.NoneType, types.Omitted)):
        return lambda treasury: None
    return lambda treasury: (borrow_fields(treasury[0]), borrow_fields(treasury[1]), borrow(treasury[2]))


def walk_config(prices, targets, target_r, program, plan, costs, quote, convention, capital, treasury):
    """(walk, the path the return metrics read) of one configuration; with a shared ``treasury``
    its yields and flows run as in a single backtest (`settle_flows` as `run_metrics`). Resolved
    by type: without one, the plain walk and its equity."""
    walk = simulate(prices, targets, target_r, program, plan, costs, quote, convention, capital, False)
    return walk, walk.equity


@overload(walk_config, inline="always", jit_options={"cache": True})
def _walk_config_typed(prices, targets, target_r, program, plan, costs, quote, convention, capital, treasury):
    if isinstance(treasury, (types.NoneType, types.Omitted)):

        def plain(prices, targets, target_r, program, plan, costs, quote, convention, capital, treasury):
            walk = simulate(prices, targets, target_r, program, plan, costs, quote, convention, capital, False)
            return walk, walk.equity

        return plain

    def with_treasury(prices, targets, target_r, program, plan, costs, quote, convention, capital, treasury):
        yields, flows, market_prices = treasury
        T, n = prices.shape
        book = TreasuryBook(np.zeros((T, N_FLOW_COLUMNS)), np.zeros((1, n)), np.zeros(n))
        walk = simulate(
            prices,
            targets,
            target_r,
            program,
            plan,
            costs,
            quote,
            convention,
            capital,
            False,
            yields=yields,
            flows=flows,
            treasury=book,
            trigger_prices=market_prices,
        )
        return walk, settle_flows(walk.equity, book.closes, capital, walk.acc)

    return with_treasury


@njit(cache=True, inline="always")
def sweep_configs(
    prices, tgt, target_r, trig, plan, costs, quote, convention, capital, periods_per_year, equity_out, treasury
):
    """Metrics (C × len(METRIC_NAMES)) of C configurations (a ``prange`` loop: parallel in
    `sweep_kernel`, a plain loop in `sweep_kernel_serial`).

    ``tgt``, ``trig``, ``plan``, ``costs`` are each (pools tuple, index[C, F], length[C, F]);
    ``target_r`` holds `target_returns` of each pooled target path (rows as in ``tgt``'s pool);
    ``quote``, ``convention``, ``capital`` are per-configuration vectors. Equity paths are kept
    only when asked: ``equity_out`` is C × T then, else 0 × 0. ``treasury``: None, or the
    (YieldArrays, FlowSchedule, market prices) every configuration shares when their yields only
    compound (``prices`` are then a `ScaledWalk`'s, engine/treasury.py): each configuration gets its
    own treasury book, and its metrics are those of `run_compiled`'s.
    """
    C = quote.shape[0]
    # Borrowed pools (docs/kernel-performance.md, "borrowed views"): the configurations' views of
    # the pools then cost no reference counts, which two threads would otherwise update on the
    # same shared counters. New names, not tuple items, inside the parallel loop.
    target_pool = borrow(tgt[0][0])
    t_idx, t_len = tgt[1], tgt[2]
    trig_pools = borrow_fields(trig[0])
    trig_idx, trig_len = trig[1], trig[2]
    plan_pools = borrow_fields(plan[0])
    plan_idx, plan_len = plan[1], plan[2]
    cost_pools = borrow_fields(costs[0])
    cost_idx, cost_len = costs[1], costs[2]
    # New names, not rebound arguments: a rebound argument reached the parallel loop's body as the
    # wrong array (every tracking error came out 0).
    px = borrow(prices)
    tr = borrow(target_r)
    shared = borrow_treasury(treasury)
    out = np.empty((C, N_METRICS))
    for c in prange(C):
        targets = take(target_pool, t_idx, t_len, c, 0)
        program = rebuild(TriggerProgram, trig_pools, trig_idx, trig_len, c)
        plan_c = rebuild(PlanSpec, plan_pools, plan_idx, plan_len, c)
        costs_c = rebuild(CostArrays, cost_pools, cost_idx, cost_len, c)
        walk, path = walk_config(
            px, targets, tr[t_idx[c, 0]], program, plan_c, costs_c, quote[c], convention[c], capital[c], shared
        )
        out[c] = compute_metrics(path, walk.acc, capital[c], periods_per_year)
        if equity_out.shape[0] > 0:
            equity_out[c] = walk.equity
    return out
