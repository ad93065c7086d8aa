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
def handloop(prices, target, mask, band, fee, capital):
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


@njit(cache=True)
def handloop_stats(prices, target, mask, band, fee, capital):
    """``handloop`` plus what ballast's kernel also computes at every close, written plainly:
    the pre-trade weights, the largest drift from target (mean and max) and the return of the
    always-on-target portfolio (for the tracking error), and costs paid.
    Returns (equity, costs, drift sum, drift max, Σ active return, Σ active return²)."""
    T, n = prices.shape
    units = np.zeros(n)
    x = np.empty(n)
    equity = np.empty(T)
    cash = capital
    costs = 0.0
    drift_sum = 0.0
    drift_max = 0.0
    a_sum = 0.0
    a_sq = 0.0
    v_prev = capital
    for t in range(T):
        V = cash
        for i in range(n):
            x[i] = units[i] * prices[t, i]
            V += x[i]
        dmax = 0.0
        for i in range(n):
            dmax = max(dmax, abs(x[i] / V - target[i]))
        fire = t == 0 or mask[t] or (band > 0.0 and dmax > band)
        if t > 0:
            drift_sum += dmax
            drift_max = max(drift_max, dmax)
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
            costs += V - v
            for i in range(n):
                units[i] = target[i] * v / prices[t, i]
            cash = 0.0
            V = v
        equity[t] = V
        if t > 0:
            r_target = 0.0
            for i in range(n):
                r_target += target[i] * (prices[t, i] / prices[t - 1, i] - 1.0)
            a = V / v_prev - 1.0 - r_target
            a_sum += a
            a_sq += a * a
        v_prev = V
    return equity, costs, drift_sum, drift_max, a_sum, a_sq
