"""Compiled target paths: risk parity, minimum variance, inverse volatility, volatility scaling.

Every path function walks time once. The window at t is the ``L`` simple returns of rows
t−L+1..t (row 0 has no return), so row t never reads a price after t. Window moments are
running sums (targets/covariance_kernel.py) recomputed from the window every ``L`` periods so
rounding cannot accumulate; the refresh depends only on t, so the path computed on the first
t+1 rows is bit-for-bit the path computed on all rows, cut at t. The solvers are in
targets/solvers_kernel.py.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ballast.enums import SHRINK_CONSTANT_CORRELATION
from ballast.numerics.windows import window_portfolio_vol
from ballast.targets.covariance_kernel import add_row, clear, new_window_sums, shrunk_covariance
from ballast.targets.solvers_kernel import ERC_TOL, MINVAR_TOL, erc_solve, minvar_solve

METHOD_RISK_PARITY = 0
METHOD_MIN_VARIANCE = 1


@njit(cache=True)
def risk_path(R, L, shrink, method, lo, hi, warm, out):
    """Risk parity or minimum variance weights for every t (rows of ``out``).

    ``R`` holds the universe's simple returns (row 0 unused). Rows t < L get ``warm`` (the
    warm-up weights). Returns (−1, −1) or the (t, asset) where an asset's window variance is
    zero, which makes both problems ill-posed.
    """
    T, n = R.shape
    fourth_cross = shrink == SHRINK_CONSTANT_CORRELATION
    sums = new_window_sums(n, fourth_cross)
    r1 = sums.r1
    r2 = sums.r2
    S = np.empty((n, n))
    b = np.ones(n)
    y = np.zeros(n)
    w = warm.copy()
    started = False
    for t in range(T):
        if t >= 1:
            if t >= L and t % L == 0:
                clear(sums)
                for k in range(t - L + 1, t + 1):
                    add_row(R[k], 1.0, fourth_cross, sums)
            else:
                add_row(R[t], 1.0, fourth_cross, sums)
                if t - L >= 1:
                    add_row(R[t - L], -1.0, fourth_cross, sums)
        if t < L:
            out[t] = warm
            continue
        for i in range(n):
            var = r2[i] - r1[i] * r1[i] / L
            if not var > 1e-14 * (r2[i] + 1e-300):
                return t, i
        shrunk_covariance(L, shrink, sums, S)
        if method == METHOD_RISK_PARITY:
            if not started:
                for i in range(n):
                    y[i] = 1.0 / math.sqrt(S[i, i])
            if erc_solve(S, b, y, ERC_TOL) < 0:
                return t, -1
            tot = y.sum()
            for i in range(n):
                out[t, i] = y[i] / tot
        else:
            scale = 0.0
            for i in range(n):
                scale += S[i, i]
            if minvar_solve(S, lo, hi, w, MINVAR_TOL * scale / n) < 0:
                return t, -1
            out[t] = w
        started = True
    return -1, -1


@njit(cache=True)
def inverse_vol_path(R, L, ewma, warm, out):
    """Weights ∝ 1/σ for every t; rows t < L get ``warm``.

    rolling: σ = sample standard deviation (ddof = 1) of the window's returns (bt's
    ``WeighInvVol``). ewma: RiskMetrics zero-mean σ² ← (1−α)σ² + α r², α = 2/(L+1), seeded at
    t = L with the mean of r² over the first window. Returns (−1, −1) or (t, asset) of a zero σ.
    """
    T, n = R.shape
    var = np.zeros(n)
    alpha = 2.0 / (L + 1.0)
    for t in range(T):
        if t < L:
            out[t] = warm
            continue
        for i in range(n):
            if ewma:
                if t == L:
                    s = 0.0
                    for k in range(1, L + 1):
                        s += R[k, i] * R[k, i]
                    var[i] = s / L
                else:
                    var[i] = (1.0 - alpha) * var[i] + alpha * R[t, i] * R[t, i]
            else:
                m = 0.0
                for k in range(t - L + 1, t + 1):
                    m += R[k, i]
                m /= L
                s = 0.0
                for k in range(t - L + 1, t + 1):
                    s += (R[k, i] - m) ** 2
                var[i] = s / (L - 1)
        tot = 0.0
        for i in range(n):
            if not var[i] > 0.0:
                return t, i
            out[t, i] = 1.0 / math.sqrt(var[i])
            tot += out[t, i]
        for i in range(n):
            out[t, i] /= tot
    return -1, -1


@njit(cache=True)
def vol_scale_path(R, W, risky, L, ppy, target_vol, max_leverage, out):
    """Scale kₜ of the risky sleeve so its ex-ante annualised volatility is ``target_vol``.

    ``W`` are the inner target's weights, ``risky`` marks the non-reserve assets. k is capped so
    the gross risky exposure k·Σ risky weights stays ≤ ``max_leverage``; t < L (no estimate) gets
    k = 0, everything in the reserve.
    """
    T, n = W.shape
    w = np.zeros(n)
    for t in range(T):
        out[t] = 0.0
        if t < L:
            continue
        expo = 0.0
        for i in range(n):
            w[i] = W[t, i] if risky[i] else 0.0
            expo += w[i]
        if expo <= 0.0:
            continue
        sigma = window_portfolio_vol(R, t, L, w) * math.sqrt(ppy)
        cap = max_leverage / expo
        out[t] = cap if sigma <= 0.0 else min(target_vol / sigma, cap)
