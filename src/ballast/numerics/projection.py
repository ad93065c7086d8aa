"""Euclidean projection onto {lo ≤ x ≤ hi, Σx = budget}: the band-edge planner, `Bounds` and the
minimum-variance target all need it, so it lives on neutral ground."""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def _clipped_sum(w, lo, hi, free, shift):
    """Σ over free assets of clip(wᵢ − shift, loᵢ, hiᵢ): non-increasing in ``shift``."""
    s = 0.0
    for i in range(w.shape[0]):
        if free[i]:
            v = w[i] - shift
            if v < lo[i]:
                v = lo[i]
            elif v > hi[i]:
                v = hi[i]
            s += v
    return s


@njit(cache=True)
def project_to_budget(w, lo, hi, free, budget, out):
    """out[free] = clip(w − λ, lo, hi) with Σ out[free] = budget, λ by bisection.

    This is the Euclidean projection of w[free] onto {lo ≤ x ≤ hi, Σx = budget}. Returns False if
    the set is empty (budget outside [Σlo, Σhi]); ``out`` outside ``free`` is left alone.
    """
    sum_lo = 0.0
    sum_hi = 0.0
    for i in range(w.shape[0]):
        if free[i]:
            sum_lo += lo[i]
            sum_hi += hi[i]
    if budget < sum_lo - 1e-12 or budget > sum_hi + 1e-12:
        return False
    a = -2.0
    b = 2.0
    for i in range(w.shape[0]):
        if free[i]:
            a = min(a, w[i] - hi[i] - 1.0)
            b = max(b, w[i] - lo[i] + 1.0)
    # _clipped_sum is non-increasing in λ: f(a) ≥ budget ≥ f(b).
    for _ in range(200):
        m = 0.5 * (a + b)
        if _clipped_sum(w, lo, hi, free, m) > budget:
            a = m
        else:
            b = m
        if b - a < 1e-16:
            break
    lam = 0.5 * (a + b)
    for i in range(w.shape[0]):
        if free[i]:
            v = w[i] - lam
            out[i] = lo[i] if v < lo[i] else (hi[i] if v > hi[i] else v)
    # Remove the bisection's last rounding so the weights sum to the budget exactly.
    s = 0.0
    for i in range(w.shape[0]):
        if free[i]:
            s += out[i]
    err = budget - s
    if err != 0.0:
        for i in range(w.shape[0]):
            if free[i] and out[i] + err >= lo[i] and out[i] + err <= hi[i]:
                out[i] += err
                break
    return True
