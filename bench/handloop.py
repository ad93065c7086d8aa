"""The floor: a hand-written numba loop for the benchmark's two workloads, exact accounting.

No strategy objects, no trigger program, no recording: prices in, equity out. Same conventions as
ballast's default (``convention="exact"``): the portfolio starts as cash and is formed at the first
close; a rebalance lands exactly on target and pays a proportional fee f out of the portfolio,
V′ = V − f·Σ|tᵢ·V′ − xᵢ|, solved by the same fixed-point iteration. ballast's kernel is timed
against this loop; final wealth must agree to rounding.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def handloop(prices, target, mask, band, fee, capital):  # noqa: ANN001
    """Rebalance to ``target`` when ``mask[t]`` or when some |wᵢ − tᵢ| > ``band`` (band > 0)."""
    T, n = prices.shape
    units = np.zeros(n)
    x = np.empty(n)
    equity = np.empty(T)
    cash = capital
    for t in range(T):
        V = cash
        for i in range(n):
            x[i] = units[i] * prices[t, i]
            V += x[i]
        fire = t == 0 or mask[t]
        if not fire and band > 0.0:
            for i in range(n):
                if abs(x[i] / V - target[i]) > band:
                    fire = True
                    break
        if fire:
            v = V
            for _ in range(200):
                c = 0.0
                for i in range(n):
                    c += fee * abs(target[i] * v - x[i])
                nxt = V - c
                if abs(nxt - v) <= 1e-15 * V:
                    v = nxt
                    break
                v = nxt
            for i in range(n):
                units[i] = target[i] * v / prices[t, i]
            cash = 0.0
            V = v
        equity[t] = V
    return equity
