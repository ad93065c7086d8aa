"""Constraints that need the portfolio's state at the decision: value floors and turnover caps.

A `Runway` floor is a *value* (N months of spending), so its weight F/V depends on the portfolio
value V at the close — unknown when the target path is computed. The engine therefore applies it
here, from the `PlanSpec` fields ``floor_value``/``floor_asset``/``max_turnover`` (set by
`ballast.targets.constraints.with_constraints`), in both the compiled walk and the Python twin:

- `floor_target` — the target the triggers and the planner see: the floor asset raised to F/V,
  the other weights scaled down pro rata;
- `apply_constraints` — after the planner: first the turnover cap, then the floor, solved with the
  trading costs so that the floor asset holds at least F *after* the rebalance's costs.
  The floor wins over the turnover cap: a treasury must be able to pay its bills.
"""

from __future__ import annotations

from numba import njit

from ballast.costs.kernel import trade_cost

FLOOR_MARGIN = 1e-12  # relative headroom so rounding in the accounting cannot land below F


@njit(cache=True)
def raise_floor(w, a, f):
    """Raise w[a] to at least f, scaling the other weights pro rata so Σw stays 1."""
    if w[a] >= f:
        return
    rest = 1.0 - w[a]
    scale = (1.0 - f) / rest if rest != 0.0 else 0.0
    for i in range(w.shape[0]):
        w[i] = f if i == a else w[i] * scale


@njit(cache=True)
def floor_target(plan, t, V, target, out):
    """``target`` with the value floor at portfolio value V, into ``out`` (returned)."""
    for i in range(target.shape[0]):
        out[i] = target[i]
    a = plan.floor_asset
    if a >= 0 and V > 0.0 and plan.floor_value[t] > 0.0:
        raise_floor(out, a, min(1.0, plan.floor_value[t] / V))
    return out


@njit(cache=True)
def apply_constraints(plan, costs, t, V, w_pre, w_new, quote):
    """Constrain the planned weights ``w_new`` in place (turnover cap, then value floor); returns
    whether anything changed.

    Turnover cap (t > 0): if ½Σ|w_new − w_pre| exceeds ``max_turnover``, move only that fraction
    of the way: w_pre + s·(w_new − w_pre), which keeps Σw = 1 and w ≥ 0.

    Value floor: the post-trade value V′ solves V′ = V − Σᵢ cᵢ(|wᵢV′ − xᵢ|) (the engine's exact
    self-financing equation, xᵢ = w_preᵢ·V), and the floor asset needs w_a ≥ F/V′. Both are
    solved together by fixed-point iteration on V′ with the same ``trade_cost`` the engine
    charges, so the floor holds after costs (to the accounting's rounding, covered by a 1e-12
    margin). If V′ < F everything goes to the floor asset.
    """
    n = w_new.shape[0]
    changed = False
    cap = plan.max_turnover  # fields read up front (see plan_weights)
    a = plan.floor_asset
    floor_value = plan.floor_value
    if t > 0 and cap > 0.0:
        tv = 0.0
        for i in range(n):
            tv += abs(w_new[i] - w_pre[i])
        tv *= 0.5
        if tv > cap:
            s = cap / tv
            for i in range(n):
                w_new[i] = w_pre[i] + s * (w_new[i] - w_pre[i])
            changed = True
    if a < 0 or V <= 0.0:
        return changed
    F = floor_value[t]
    if F <= 0.0:
        return changed
    base = w_new.copy()
    v1 = V
    for _ in range(200):
        f = min(1.0, F / v1 * (1.0 + FLOOR_MARGIN))
        for i in range(n):
            w_new[i] = base[i]
        raise_floor(w_new, a, f)
        c = 0.0
        for i in range(n):
            if i != quote:
                c += trade_cost(costs, i, t, abs(w_new[i] * v1 - w_pre[i] * V))
        v2 = V - c
        if v2 <= 0.0 or abs(v2 - v1) <= 1e-15 * V:
            break
        v1 = v2
    return changed or w_new[a] != base[a]
