"""The band-edge move, compiled: out-of-band assets back to their band edge, self-financing.

Used by the band-edge planner (planning/kernel.py) and as the feasible set of the cost-aware
planner (planning/cost_kernel.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ballast.numerics.projection import project_to_budget


@njit(cache=True)
def _keep_rest(w, free, scale, out, keep):
    """Assets not in ``free`` keep their value (weight w·scale after costs); returns their total."""
    kept = 0.0
    for i in range(w.shape[0]):
        keep[i] = not free[i]
        if keep[i]:
            out[i] = w[i] * scale
            kept += out[i]
    return kept


@njit(cache=True)
def project_band(w, target, width_abs, width_rel, scale, out, keep, quote):
    """Move the out-of-band assets back to the band, self-financing.

    1. Assets outside their band [tᵢ − hᵢ, tᵢ + hᵢ] ∩ [0, 1] (hᵢ = max(absᵢ, relᵢ·tᵢ)) are the
       only ones traded: their weights are projected onto their bands with their total fixed by
       what the untouched assets keep (what is sold of one pays for what is bought of another).
    2. If that is infeasible (e.g. a single drifted asset, or all drifted ones overweight), the
       cash/quote asset (``quote`` ≥ 0) joins them: the excess goes to, or comes from, cash.
    3. If still infeasible, every asset held or targeted joins: the projection of w onto
       {inside all bands, Σw = 1}. Assets already inside move by a common shift and never leave
       their band.

    Untouched assets keep their value, so their weight after costs is wᵢ·``scale`` with
    scale = V / V′ (≥ 1, the engine iterates it to the post-cost value); ``keep`` marks them.
    Weights in ``out`` are post-cost weights: they sum to one and lie inside every band.
    """
    n = w.shape[0]
    lo = np.empty(n)
    hi = np.empty(n)
    free = np.zeros(n, np.bool_)
    for i in range(n):
        h = max(width_abs[i], width_rel[i] * target[i])
        lo[i] = max(target[i] - h, 0.0)
        hi[i] = min(target[i] + h, 1.0)
        # An untouched asset's weight grows to w·scale after costs: it must still fit its band.
        free[i] = w[i] < lo[i] or w[i] * scale > hi[i] or abs(w[i] - target[i]) > h
    if project_to_budget(w, lo, hi, free, 1.0 - _keep_rest(w, free, scale, out, keep), out):
        return
    if quote >= 0 and not free[quote]:
        free[quote] = True
        if project_to_budget(w, lo, hi, free, 1.0 - _keep_rest(w, free, scale, out, keep), out):
            return
    for i in range(n):
        # Assets neither held nor wanted stay out: a common shift must not buy them.
        free[i] = target[i] > 0.0 or w[i] > 0.0
    if not project_to_budget(w, lo, hi, free, 1.0 - _keep_rest(w, free, scale, out, keep), out):
        for i in range(n):
            out[i] = target[i]
            keep[i] = False
