"""Covariance of a trailing window of returns, from running power sums (compiled).

Window moments are kept as running sums (a rank-one update in and one out per period, O(N²));
the risk paths (targets/risk_kernel.py) recompute them from the window every ``L`` periods so
rounding cannot accumulate.

Estimators (``SHRINK_*`` in ballast.enums):
- none: sample covariance, ddof = 1 (pandas, bt);
- Ledoit–Wolf: scikit-learn's ``ledoit_wolf`` — biased sample covariance shrunk towards
  μ·I, μ = trace/N, with the optimal intensity of Ledoit & Wolf (2004);
- constant correlation: Ledoit & Wolf (2003) "Honey, I shrunk the sample covariance matrix" —
  biased sample covariance shrunk towards the matrix with the average sample correlation.
The fourth-moment sums the shrinkage intensities need are expanded around the window mean
(see `shrunk_covariance`), which keeps everything a running sum.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from ballast.enums import SHRINK_LEDOIT_WOLF, SHRINK_NONE


class WindowSums(NamedTuple):
    """Running power sums over the window's return rows rₖ (k in the window)."""

    rr: np.ndarray  # [N, N] Σₖ rₖᵢ rₖⱼ
    r2r: np.ndarray  # [N, N] Σₖ rₖᵢ² rₖⱼ (constant correlation only, else [1, 1])
    r3r: np.ndarray  # [N, N] Σₖ rₖᵢ³ rₖⱼ (constant correlation only, else [1, 1])
    r1: np.ndarray  # [N] Σₖ rₖᵢ
    r2: np.ndarray  # [N] Σₖ rₖᵢ²
    r3: np.ndarray  # [N] Σₖ rₖᵢ³ (constant correlation only)
    r4: np.ndarray  # [N] Σₖ rₖᵢ⁴ (constant correlation only)
    norm_r: np.ndarray  # [N] Σₖ ‖rₖ‖² rₖᵢ
    norms: np.ndarray  # [2] Σₖ ‖rₖ‖², Σₖ ‖rₖ‖⁴


@njit(cache=True)
def new_window_sums(n, fourth_cross):
    """Zero sums for N assets; ``fourth_cross``: also the N×N third/fourth cross moments."""
    m = n if fourth_cross else 1
    return WindowSums(
        np.zeros((n, n)),
        np.zeros((m, m)),
        np.zeros((m, m)),
        np.zeros(n),
        np.zeros(n),
        np.zeros(n),
        np.zeros(n),
        np.zeros(n),
        np.zeros(2),
    )


@njit(cache=True)
def add_row(r, sign, fourth_cross, sums):
    """Add (sign = 1) or remove (sign = −1) one return row from the running window sums."""
    rr, r2r, r3r, r1, r2, r3, r4, norm_r, norms = sums
    n = r.shape[0]
    sq = 0.0
    for i in range(n):
        sq += r[i] * r[i]
    norms[0] += sign * sq
    norms[1] += sign * sq * sq
    for i in range(n):
        ri = r[i]
        c1 = sign * ri
        c2 = c1 * ri
        c3 = c2 * ri
        r1[i] += c1
        r2[i] += c2
        norm_r[i] += sq * c1
        if fourth_cross:
            r3[i] += c3
            r4[i] += c3 * ri
            for j in range(n):
                rr[i, j] += c1 * r[j]
                r2r[i, j] += c2 * r[j]
                r3r[i, j] += c3 * r[j]
        else:
            for j in range(n):
                rr[i, j] += c1 * r[j]


@njit(cache=True)
def clear(sums):
    rr, r2r, r3r, r1, r2, r3, r4, norm_r, norms = sums
    rr[:] = 0.0
    r2r[:] = 0.0
    r3r[:] = 0.0
    r1[:] = 0.0
    r2[:] = 0.0
    r3[:] = 0.0
    r4[:] = 0.0
    norm_r[:] = 0.0
    norms[:] = 0.0


@njit(cache=True)
def shrunk_covariance(L, kind, sums, S):
    """Covariance estimate of the current window (``L`` rows) into ``S``; returns the shrinkage
    intensity.

    With y = r − m (m the window mean) the sums needed are expanded in raw power sums:
    Σₖ‖yₖ‖⁴ from Σ‖r‖⁴, Σ‖r‖²r, Σrrᵀ, Σr; Σₖ yᵢ⁴ and Σₖ yᵢ³yⱼ likewise (constant
    correlation).
    """
    rr, r2r, r3r, r1, r2, r3, r4, norm_r, norms = sums
    n = r1.shape[0]
    m = r1 / L
    for i in range(n):
        for j in range(n):
            S[i, j] = rr[i, j] - L * m[i] * m[j]  # Σ y yᵀ
    if kind == SHRINK_NONE:
        for i in range(n):
            for j in range(n):
                S[i, j] /= L - 1
        return 0.0
    for i in range(n):
        for j in range(n):
            S[i, j] /= L  # biased sample covariance
    # Σₖ ‖yₖ‖⁴ with ‖yₖ‖² = aₖ − 2 bₖ + c, aₖ = ‖rₖ‖², bₖ = rₖ·m, c = ‖m‖².
    c = 0.0
    m_norm_r = 0.0
    m_r1 = 0.0
    for i in range(n):
        c += m[i] * m[i]
        m_norm_r += m[i] * norm_r[i]
        m_r1 += m[i] * r1[i]
    m_rr_m = 0.0
    for i in range(n):
        for j in range(n):
            m_rr_m += m[i] * rr[i, j] * m[j]
    sum_y4 = norms[1] + 4.0 * m_rr_m + L * c * c - 4.0 * m_norm_r + 2.0 * c * norms[0] - 4.0 * c * m_r1
    fro2 = 0.0
    for i in range(n):
        for j in range(n):
            fro2 += S[i, j] * S[i, j]
    if kind == SHRINK_LEDOIT_WOLF:
        tr = 0.0
        for i in range(n):
            tr += S[i, i]
        mu = tr / n
        beta = (sum_y4 / L - fro2) / (n * L)
        delta = (fro2 - 2.0 * mu * tr + n * mu * mu) / n
        beta = min(beta, delta)
        sh = 0.0 if beta <= 0.0 else beta / delta
        for i in range(n):
            for j in range(n):
                S[i, j] *= 1.0 - sh
            S[i, i] += sh * mu
        return sh
    # Constant correlation (Ledoit & Wolf 2003).
    sd = np.empty(n)
    for i in range(n):
        sd[i] = math.sqrt(S[i, i])
    rbar = 0.0
    for i in range(n):
        for j in range(n):
            if i != j:
                rbar += S[i, j] / (sd[i] * sd[j])
    rbar /= n * (n - 1)
    pi_hat = sum_y4 / L - fro2
    rho = 0.0
    for i in range(n):
        a = m[i]
        y4 = r4[i] - 4 * a * r3[i] + 6 * a * a * r2[i] - 4 * a * a * a * r1[i] + L * a**4
        rho += y4 / L - S[i, i] * S[i, i]
    th = 0.0
    gamma = 0.0
    for i in range(n):
        a = m[i]
        for j in range(n):
            if i == j:
                continue
            b = m[j]
            y31 = (
                r3r[i, j]
                - b * r3[i]
                - 3 * a * r2r[i, j]
                + 3 * a * b * r2[i]
                + 3 * a * a * rr[i, j]
                - 3 * a * a * b * r1[i]
                - a**3 * r1[j]
                + L * a**3 * b
            )
            theta = y31 / L - S[i, i] * S[i, j]
            th += sd[j] / sd[i] * theta
            f = rbar * sd[i] * sd[j]
            gamma += (S[i, j] - f) ** 2
    rho += rbar * th
    sh = 0.0
    if gamma > 0.0:
        sh = min(1.0, max(0.0, (pi_hat - rho) / gamma / L))
    for i in range(n):
        for j in range(n):
            if i != j:
                S[i, j] = sh * rbar * sd[i] * sd[j] + (1.0 - sh) * S[i, j]
    return sh
