"""The batched kernel: many configurations on the same prices in one compiled, parallel call.

Each configuration's inputs (target path, trigger program, plan, costs) are stored once per
distinct value in a *pool* per NamedTuple field, and every configuration holds an index into each
pool (see sweep/pool.py). Inside the ``prange`` loop the NamedTuples are rebuilt from those pools
and handed to the very same ``simulate`` and ``compute_metrics`` a single backtest uses, so a
sweep row is bit-for-bit the metrics of ``ballast.backtest`` with those parameters.

The ``build_*`` functions are the one place that knows the NamedTuples' fields: a field added to
TriggerProgram, PlanSpec or CostArrays must be added here too (tests/test_sweep_batch.py checks
the round trip field by field).
"""
from __future__ import annotations

import os

# OpenMP's worker threads otherwise spin for a while after each parallel region, while Python
# builds the next call's input (a bootstrap's next resampled market, a Dask worker's next chunk);
# on a 2-core machine that spinning took a third of the CPU. Set before numba loads its OpenMP
# layer (the first parallel call); a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

from ballast.costs.base import CostArrays  # noqa: E402
from ballast.engine.intrinsics import borrow, borrow_fields  # noqa: E402
from ballast.engine.metrics import compute_metrics  # noqa: E402
from ballast.engine.walk import simulate  # noqa: E402
from ballast.enums import N_METRICS  # noqa: E402
from ballast.planning.base import PlanSpec  # noqa: E402
from ballast.triggers.base import TriggerProgram  # noqa: E402


@njit(cache=True)
def take(pool, idx, length, c, f):  # noqa: ANN001
    """Configuration ``c``'s value of array field ``f``: its pool row, cut to its own length."""
    return pool[idx[c, f], : length[c, f]]


@njit(cache=True)
def take_scalar(pool, idx, c, f):  # noqa: ANN001
    return pool[idx[c, f]]


@njit(cache=True)
def build_program(P, idx, length, c):  # noqa: ANN001, N803
    return TriggerProgram(take(P[0], idx, length, c, 0), take(P[1], idx, length, c, 1),
                          take(P[2], idx, length, c, 2), take(P[3], idx, length, c, 3),
                          take(P[4], idx, length, c, 4), take(P[5], idx, length, c, 5),
                          take(P[6], idx, length, c, 6))


@njit(cache=True)
def build_plan(P, idx, length, c):  # noqa: ANN001, N803
    return PlanSpec(take_scalar(P[0], idx, c, 0), take(P[1], idx, length, c, 1),
                    take(P[2], idx, length, c, 2), take(P[3], idx, length, c, 3),
                    take(P[4], idx, length, c, 4), take_scalar(P[5], idx, c, 5),
                    take_scalar(P[6], idx, c, 6))


@njit(cache=True)
def build_costs(P, idx, length, c):  # noqa: ANN001, N803
    return CostArrays(take(P[0], idx, length, c, 0), take(P[1], idx, length, c, 1),
                      take_scalar(P[2], idx, c, 2), take(P[3], idx, length, c, 3),
                      take(P[4], idx, length, c, 4), take(P[5], idx, length, c, 5),
                      take(P[6], idx, length, c, 6), take(P[7], idx, length, c, 7),
                      take(P[8], idx, length, c, 8))


@njit(parallel=True, cache=True, nogil=True)
def sweep_kernel(prices, tgt, target_r, trig, plan, costs, quote, convention, capital,  # noqa: ANN001
                 periods_per_year, equity_out):
    """`sweep_configs` over numba's threads (a Dask task, a bootstrap)."""
    return sweep_configs(prices, tgt, target_r, trig, plan, costs, quote, convention, capital,
                         periods_per_year, equity_out)


@njit(cache=True, nogil=True)
def sweep_kernel_serial(prices, tgt, target_r, trig, plan, costs, quote, convention, capital,  # noqa: ANN001
                        periods_per_year, equity_out):
    """`sweep_configs` in the calling thread: a local sweep runs one per core on different chunks,
    which keeps every core busy while Python builds the next chunks (a parallel region's threads
    wait for each other at its end, and a core lent to Python stalls them all)."""
    return sweep_configs(prices, tgt, target_r, trig, plan, costs, quote, convention, capital,
                         periods_per_year, equity_out)


@njit(cache=True, inline="always")
def sweep_configs(prices, tgt, target_r, trig, plan, costs, quote, convention, capital,  # noqa: ANN001
                  periods_per_year, equity_out):
    """Metrics (C × len(METRIC_NAMES)) of C configurations (a ``prange`` loop: parallel in
    `sweep_kernel`, a plain loop in `sweep_kernel_serial`).

    ``tgt``, ``trig``, ``plan``, ``costs`` are each (pools tuple, index[C, F], length[C, F]);
    ``target_r`` holds `target_returns` of each pooled target path (rows as in ``tgt``'s pool);
    ``quote``, ``convention``, ``capital`` are per-configuration vectors. Equity paths are kept
    only when asked: ``equity_out`` is C × T then, else 0 × 0.
    """
    C = quote.shape[0]
    # Tuples cannot cross into a parallel loop's body: unpack the pools here, repack per config.
    # Borrowed (see engine/intrinsics.py): the configurations' views of the pools then cost no
    # reference counts, which two threads would otherwise update on the same shared counters.
    t0 = borrow(tgt[0][0])
    t_idx, t_len = tgt[1], tgt[2]
    g0, g1, g2, g3, g4, g5, g6 = borrow_fields(trig[0])
    g_idx, g_len = trig[1], trig[2]
    p0, p1, p2, p3, p4, p5, p6 = borrow_fields(plan[0])
    p_idx, p_len = plan[1], plan[2]
    k0, k1, k2, k3, k4, k5, k6, k7, k8 = borrow_fields(costs[0])
    k_idx, k_len = costs[1], costs[2]
    # New names, not rebound arguments: a rebound argument reached the parallel loop's body as the
    # wrong array (every tracking error came out 0).
    px = borrow(prices)
    tr = borrow(target_r)
    out = np.empty((C, N_METRICS))
    for c in prange(C):
        targets = take(t0, t_idx, t_len, c, 0)
        g = build_program((g0, g1, g2, g3, g4, g5, g6), g_idx, g_len, c)
        p = build_plan((p0, p1, p2, p3, p4, p5, p6), p_idx, p_len, c)
        k = build_costs((k0, k1, k2, k3, k4, k5, k6, k7, k8), k_idx, k_len, c)
        walk = simulate(px, targets, tr[t_idx[c, 0]], g, p, k, quote[c], convention[c], capital[c], False)
        out[c] = compute_metrics(walk.equity, walk.acc, capital[c], periods_per_year)
        if equity_out.shape[0] > 0:
            equity_out[c] = walk.equity
    return out
