"""The compiled evaluation of a `TriggerProgram` (see triggers/base.py)."""
from __future__ import annotations

import numpy as np
from numba import njit

from ballast.triggers.base import (
    LEAF_BAND, LEAF_MASK, LEAF_NEVER, OP_ALL, OP_ANY, OP_COOLDOWN, OP_LEAF,
)


@njit(cache=True)
def leaf_fires(l, t, w, target, kind, mask, series, width_abs, width_rel, params, prices, last_t):  # noqa: ANN001
    """One leaf's answer at the close of t, from pre-trade weights ``w``."""
    k = kind[l]
    if k == LEAF_NEVER:
        return False
    if k == LEAF_MASK:
        return mask[l, t]
    if k == LEAF_BAND:
        for i in range(w.shape[0]):
            hw = max(width_abs[l, i], width_rel[l, i] * target[i])
            if abs(w[i] - target[i]) > hw:
                return True
        return False
    return False


@njit(cache=True)
def evaluate_program(t, w, target, last_t, kind, mask, series, width_abs, width_rel, params,  # noqa: ANN001
                     program, prices, stack):
    """Run the reverse-Polish program; returns (fires, bitmask of true leaves)."""
    bits = np.int64(0)
    sp = 0
    for p in range(program.shape[0]):
        op = program[p, 0]
        arg = program[p, 1]
        if op == OP_LEAF:
            v = leaf_fires(arg, t, w, target, kind, mask, series, width_abs, width_rel, params, prices, last_t)
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
