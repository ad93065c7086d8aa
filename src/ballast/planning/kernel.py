"""Compiled planners. ``project_band`` is the self-financing move to the band edge."""
from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import overload

from ballast.enums import PLAN_BAND_EDGE, PLAN_COST_AWARE, PLAN_EXECUTED
from ballast.planning.base import PlanVerdict


@njit(cache=True)
def _clip_sum(w, lo, hi, free, lam):  # noqa: ANN001
    s = 0.0
    for i in range(w.shape[0]):
        if free[i]:
            v = w[i] - lam
            if v < lo[i]:
                v = lo[i]
            elif v > hi[i]:
                v = hi[i]
            s += v
    return s


@njit(cache=True)
def _project(w, lo, hi, free, budget, out):  # noqa: ANN001
    """out[free] = clip(w − λ, lo, hi) with Σ out[free] = budget, λ by bisection.

    This is the Euclidean projection of w[free] onto {lo ≤ x ≤ hi, Σx = budget}. Returns False if
    the set is empty (budget outside [Σlo, Σhi]).
    """
    slo = 0.0
    shi = 0.0
    for i in range(w.shape[0]):
        if free[i]:
            slo += lo[i]
            shi += hi[i]
    if budget < slo - 1e-12 or budget > shi + 1e-12:
        return False
    a = -2.0
    b = 2.0
    for i in range(w.shape[0]):
        if free[i]:
            a = min(a, w[i] - hi[i] - 1.0)
            b = max(b, w[i] - lo[i] + 1.0)
    # _clip_sum is non-increasing in λ: f(a) ≥ budget ≥ f(b).
    for _ in range(200):
        m = 0.5 * (a + b)
        if _clip_sum(w, lo, hi, free, m) > budget:
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


@njit(cache=True)
def _keep_rest(w, free, scale, out, keep):  # noqa: ANN001
    """Assets not in ``free`` keep their value (weight w·scale after costs); returns their total."""
    kept = 0.0
    for i in range(w.shape[0]):
        keep[i] = not free[i]
        if keep[i]:
            out[i] = w[i] * scale
            kept += out[i]
    return kept


@njit(cache=True)
def project_band(w, target, width_abs, width_rel, scale, out, keep, quote):  # noqa: ANN001
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
    if _project(w, lo, hi, free, 1.0 - _keep_rest(w, free, scale, out, keep), out):
        return
    if quote >= 0 and not free[quote]:
        free[quote] = True
        if _project(w, lo, hi, free, 1.0 - _keep_rest(w, free, scale, out, keep), out):
            return
    for i in range(n):
        # Assets neither held nor wanted stay out: a common shift must not buy them.
        free[i] = target[i] > 0.0 or w[i] > 0.0
    if not _project(w, lo, hi, free, 1.0 - _keep_rest(w, free, scale, out, keep), out):
        for i in range(n):
            out[i] = target[i]
            keep[i] = False


@njit(cache=True)
def plan_weights(plan, w, target, scale, out, keep, costs, t, V, quote):  # noqa: ANN001
    """Post-trade weights into ``out`` for planner ``plan`` (a PlanSpec) at period ``t``, value ``V``;
    ``keep`` marks assets the planner leaves untouched (their value is kept; see `project_band`
    for ``scale``); ``quote`` is the cash asset's index or −1. Returns a PlanVerdict;
    only the cost-aware planner fills its expected cost and benefit.
    """
    # Read the fields before branching: a tuple field read inside a branch keeps numba from
    # pruning reference counting, which costs more than the plan itself.
    kind = plan.kind
    width_abs = plan.width_abs
    width_rel = plan.width_rel
    params = plan.params
    if kind == PLAN_COST_AWARE:
        for i in range(w.shape[0]):
            keep[i] = False
        return cost_aware_plan(w, target, width_abs, width_rel, params, costs, t, V, out)
    if kind == PLAN_BAND_EDGE:
        project_band(w, target, width_abs, width_rel, scale, out, keep, quote)
    else:
        for i in range(w.shape[0]):
            out[i] = target[i]
            keep[i] = False
    return PlanVerdict(PLAN_EXECUTED, 0.0, 0.0)


def cost_aware_plan(w, target, width_abs, width_rel, params, costs, t, V, out):  # noqa: ANN001
    """The cost-aware planner with its parameters ``params[0]`` = (κ, gate, quote); resolved by
    type below."""
    return _cost_aware_plan(w, target, width_abs, width_rel, params, costs, t, V, out)


@overload(cost_aware_plan, inline="always", jit_options={"cache": True})
def _cost_aware_plan_typed(w, target, width_abs, width_rel, params, costs, t, V, out):  # noqa: ANN001
    """1-D (empty) ``params`` mean the plan is not cost-aware: compile nothing for it, which
    keeps seconds of compile time out of every other strategy's first run."""
    if params.ndim == 1:
        return lambda w, target, width_abs, width_rel, params, costs, t, V, out: PlanVerdict(PLAN_EXECUTED, 0.0, 0.0)
    return lambda w, target, width_abs, width_rel, params, costs, t, V, out: _cost_aware_plan(
        w, target, width_abs, width_rel, params, costs, t, V, out)


@njit(cache=True)
def _cost_aware_plan(w, target, width_abs, width_rel, params, costs, t, V, out):  # noqa: ANN001
    return cost_aware(w, target, width_abs, width_rel, params[0, 0], params[0, 1] != 0.0,
                      np.int64(params[0, 2]), costs, t, V, out)


# At the end: cost_kernel reuses project_band from this module.
from ballast.planning.cost_kernel import cost_aware  # noqa: E402
