"""The compiled evaluation of a `TriggerProgram` (see triggers/base.py)."""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import overload

from ballast.enums import (
    LEAF_BAND,
    LEAF_MASK,
    LEAF_NEVER,
    LEAF_TRACKING_ERROR,
    LEAF_VOL_REGIME,
    OP_ALL,
    OP_ANY,
    OP_COOLDOWN,
    OP_LEAF,
)
from ballast.triggers.volatility import tracking_error, vol_regime_fires


@njit(cache=True, inline="always")
def leaf_fires(trig, leaf, t, w, targets, row, prices, last_t):
    """Leaf ``leaf`` of the TriggerProgram ``trig`` at the close of t, from pre-trade weights ``w`` and the target
    ``targets[row]`` (a row index, not a view: see engine/valuation.py)."""
    # Fields first (docs/kernel-performance.md, "read tuple fields before branching").
    kind = trig.kind
    mask = trig.mask
    series = trig.series
    width_abs = trig.width_abs
    width_rel = trig.width_rel
    params = trig.params
    k = kind[leaf]
    if k == LEAF_NEVER:
        return False
    if k == LEAF_MASK:
        return mask[leaf, t]
    if k == LEAF_BAND:
        # No early exit: most closes check every asset anyway, and a loop without one runs in
        # SIMD lanes.
        out = False
        for i in range(w.shape[0]):
            out |= abs(w[i] - targets[row, i]) > max(width_abs[leaf, i], width_rel[leaf, i] * targets[row, i])
        return out
    if k >= LEAF_VOL_REGIME:
        return risk_leaf_fires(k, leaf, t, w, targets, row, prices, last_t, series, params)
    return False


def risk_leaf_fires(k, leaf, t, w, targets, row, prices, last_t, series, params):
    """Series-driven leaves (volatility regime, tracking error); resolved by type below."""
    return _risk_leaf_fires(k, leaf, t, w, targets, row, prices, last_t, series, params)


@overload(risk_leaf_fires, inline="always", jit_options={"cache": True})
def _risk_leaf_fires_typed(k, leaf, t, w, targets, row, prices, last_t, series, params):
    """A 1-D (empty) series means the program has no such leaf: compile nothing for them, so
    the per-close code of ordinary strategies stays small."""
    if series.ndim == 1:
        return lambda k, leaf, t, w, targets, row, prices, last_t, series, params: False
    return lambda k, leaf, t, w, targets, row, prices, last_t, series, params: _risk_leaf_fires(
        k, leaf, t, w, targets, row, prices, last_t, series, params
    )


@njit(cache=True)
def _risk_leaf_fires(k, leaf, t, w, targets, row, prices, last_t, series, params):
    """The volatility-regime and tracking-error leaves, kept out of line: their array slices in
    the per-close function made every close ~3x slower even when no such leaf exists."""
    if k == LEAF_VOL_REGIME:
        return vol_regime_fires(series[leaf], params[leaf], t, last_t)
    if k == LEAF_TRACKING_ERROR:
        L = int(params[leaf, 1])
        if t < L:
            return False
        return tracking_error(prices, t, L, w, targets[row], params[leaf, 2]) > params[leaf, 0]
    return False


@njit(cache=True, inline="always")
def evaluate_program(trig, t, w, targets, row, last_t, prices, stack):
    """Run the reverse-Polish program; returns (fires, bitmask of true leaves)."""
    bits = np.int64(0)
    sp = 0
    program = trig.program  # read once (see leaf_fires)
    for p in range(program.shape[0]):
        op = program[p, 0]
        arg = program[p, 1]
        if op == OP_LEAF:
            v = leaf_fires(trig, arg, t, w, targets, row, prices, last_t)
            if v:
                bits |= np.int64(1) << np.int64(arg)
            stack[sp] = v
            sp += 1
        elif op == OP_ANY or op == OP_ALL:
            acc = op == OP_ALL
            for _ in range(arg):
                sp -= 1
                if op == OP_ANY:
                    acc = acc or stack[sp]
                else:
                    acc = acc and stack[sp]
            stack[sp] = acc
            sp += 1
        elif op == OP_COOLDOWN:
            stack[sp - 1] = stack[sp - 1] and (t - last_t >= arg)
    return stack[0], bits
