"""A hand-tuned numba loop for the W1 band sweep: the floor ballast's batched kernel is held to.

Equal weights, absolute band on |wᵢ − 1/N|, full rebalance, proportional fee with the same exact
self-financing accounting as ballast (fixed point of V′ = V − f·Σ|w·V′ − xᵢ|); it returns only
final wealth and turnover, and keeps nothing else — the least work the sweep can be.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def band_sweep(prices, bands, fee, capital):
    T, n = prices.shape
    C = bands.shape[0]
    out = np.empty((C, 2))
    w = 1.0 / n
    for c in prange(C):
        band = bands[c]
        units = np.zeros(n)
        x = np.empty(n)
        cash = capital
        turnover = 0.0
        V = cash
        for t in range(T):
            V = cash
            for i in range(n):
                x[i] = units[i] * prices[t, i]
                V += x[i]
            fire = t == 0
            if not fire:
                lim = band * V
                for i in range(n):
                    if abs(x[i] - w * V) > lim:
                        fire = True
                        break
            if fire:
                v_new = V
                for _ in range(200):
                    cost = 0.0
                    for i in range(n):
                        cost += abs(w * v_new - x[i])
                    nxt = V - fee * cost
                    if abs(nxt - v_new) <= 1e-15 * V:
                        v_new = nxt
                        break
                    v_new = nxt
                if t > 0:
                    traded = 0.0
                    for i in range(n):
                        traded += abs(w * v_new - x[i])
                    turnover += 0.5 * traded / V
                for i in range(n):
                    units[i] = w * v_new / prices[t, i]
                cash = 0.0
                V = v_new
        out[c, 0] = V / capital
        out[c, 1] = turnover
    return out
