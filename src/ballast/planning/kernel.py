"""Compiled planners: `plan_weights` dispatches on the plan kind (band edge: planning/band_kernel.py;
cost-aware: planning/cost_kernel.py)."""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import overload

from ballast.enums import PLAN_BAND_EDGE, PLAN_COST_AWARE, PLAN_EXECUTED
from ballast.planning.band_kernel import project_band
from ballast.planning.base import PlanVerdict
from ballast.planning.cost_kernel import cost_aware


@njit(cache=True)
def plan_weights(plan, w, target, scale, out, keep, costs, t, V, quote):
    """Post-trade weights into ``out`` for planner ``plan`` (a PlanSpec) at period ``t``, value ``V``;
    ``keep`` marks assets the planner leaves untouched (their value is kept; see `project_band`
    for ``scale``); ``quote`` is the cash asset's index or −1. Returns a PlanVerdict;
    only the cost-aware planner fills its expected cost and benefit.
    """
    # Fields first (docs/kernel-performance.md, "read tuple fields before branching").
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


def cost_aware_plan(w, target, width_abs, width_rel, params, costs, t, V, out):
    """The cost-aware planner with its parameters ``params[0]`` = (κ, gate, quote); resolved by
    type below."""
    return _cost_aware_plan(w, target, width_abs, width_rel, params, costs, t, V, out)


@overload(cost_aware_plan, inline="always", jit_options={"cache": True})
def _cost_aware_plan_typed(w, target, width_abs, width_rel, params, costs, t, V, out):
    """1-D (empty) ``params`` mean the plan is not cost-aware: compile nothing for it, which
    keeps seconds of compile time out of every other strategy's first run."""
    if params.ndim == 1:
        return lambda w, target, width_abs, width_rel, params, costs, t, V, out: PlanVerdict(PLAN_EXECUTED, 0.0, 0.0)
    return lambda w, target, width_abs, width_rel, params, costs, t, V, out: _cost_aware_plan(
        w, target, width_abs, width_rel, params, costs, t, V, out
    )


@njit(cache=True)
def _cost_aware_plan(w, target, width_abs, width_rel, params, costs, t, V, out):
    return cost_aware(
        w, target, width_abs, width_rel, params[0, 0], params[0, 1] != 0.0, np.int64(params[0, 2]), costs, t, V, out
    )
