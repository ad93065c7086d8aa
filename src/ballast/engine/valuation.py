"""Valuing the portfolio at a close: value and weights, drift from target, the target's return.

These run at every close of the walk, so each says which idiom of docs/kernel-performance.md
makes it fast.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ballast.engine.intrinsics import bits_float, float_bits


@njit(cache=True, inline="always")
def held_assets(units, held):
    """The indices of the assets with a position, in asset order, into ``held``; returns how many."""
    m = 0
    for i in range(units.shape[0]):
        if units[i] != 0.0:
            held[m] = i
            m += 1
    return m


@njit(cache=True, inline="always")  # inlined into the walk: ~15 % of a 20-asset backtest
def value_and_weights_held(units, cash, prices, t, w, held, n_held):
    """(value, 1/value or 0) at the prices of row ``t`` of ``prices``; fills ``w`` with the weights.

    The walk keeps ``held[:n_held]`` (`held_assets`) up to date after each trade. The sum runs in
    four lanes (docs/kernel-performance.md, "four-lane sums") over the held assets only: by leaving
    out assets without a position, a strategy gives the same value to the last bit whether or not
    unused assets are in its universe (a sweep's universe is the union of its configurations').
    It reads the 2-D array by row index: a row view made at every close costs two atomic
    reference-count updates."""
    n = prices.shape[1]
    for i in range(n):  # products first, apart from the sum: this loop runs in SIMD lanes
        w[i] = units[i] * prices[t, i]
    s0 = s1 = s2 = s3 = 0.0
    k = 0
    while k + 4 <= n_held:
        s0 += w[held[k]]
        s1 += w[held[k + 1]]
        s2 += w[held[k + 2]]
        s3 += w[held[k + 3]]
        k += 4
    while k < n_held:
        s0 += w[held[k]]
        k += 1
    V = cash + ((s0 + s1) + (s2 + s3))
    # One division, then products: n divisions per close were a third of a sweep's time.
    inv = 1.0 / V if V > 0.0 else 0.0
    for i in range(n):
        w[i] *= inv
    return V, inv


@njit(cache=True)
def value_and_weights(units, cash, prices, t, w):
    """`value_and_weights_held` for callers outside the walk (the Python engine, the live service);
    returns the value only."""
    held = np.empty(units.shape[0], np.int64)
    return value_and_weights_held(units, cash, prices, t, w, held, held_assets(units, held))[0]


@njit(cache=True, inline="always")
def max_abs_drift(w, targets, row):
    """maxᵢ |wᵢ − targets[row, i]|, exactly, as an integer max over the values' bits
    (docs/kernel-performance.md, "integer max over float bits")."""
    m = np.int64(0)
    for i in range(w.shape[0]):
        b = float_bits(abs(w[i] - targets[row, i]))
        m = b if b > m else m
    return bits_float(m)


@njit(cache=True, inline="always")
def target_return(target_prev, p, p_prev):
    """Return of the always-on-target portfolio over one period."""
    r = 0.0
    for i in range(p.shape[0]):
        r += target_prev[i] * (p[i] / p_prev[i] - 1.0)
    return r


@njit(cache=True)
def target_returns(targets, prices):
    """The always-on-target portfolio's return per period (0 at t = 0). It depends on the target
    path and the prices only, so a sweep computes it once for every configuration sharing them."""
    T = prices.shape[0]
    out = np.zeros(T)
    for t in range(1, T):
        out[t] = target_return(targets[t - 1], prices[t], prices[t - 1])
    return out
