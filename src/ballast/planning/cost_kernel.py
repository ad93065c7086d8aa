"""The compiled cost-aware planner: tracking error to target plus expected cost, inside the bands.

Problem, in weights (Δᵢ = w′ᵢ − w⁰ᵢ, V the portfolio value, κ the risk aversion):

    minimise   κ·Σ (w′ᵢ − τᵢ)²  +  Σ cᵢ(Δᵢ·V)/V
    subject to Σ w′ᵢ = 1,  w′ᵢ inside band i,  w′ᵢ between w⁰ᵢ and τᵢ (never trade past the target).

The convex part replaces each cᵢ by pᵢ|Δᵢ| + qᵢΔᵢ² (pᵢ: proportional fee + pool fee; qᵢ: the
pool's price impact, the secant through the full trade to target), which is separable, so the
exact minimiser is w′ᵢ(μ) per asset in closed form and the budget multiplier μ is found by
safeguarded false position on the piecewise-linear Σw′(μ) — O(N) per step, no solver.

The fixed cost per trade (gas, commissions) is not convex. It is handled by elimination — every
trade whose first-order benefit (its Lagrangian improvement at the optimal μ) is below its fixed
cost is dropped, worst first, and the problem re-solved with that asset frozen, until every
remaining trade pays for itself — followed by a local search that flips one asset at a time
between frozen and free and keeps the flip when the exact value improves. Assets outside their
band are never frozen: the bands are hard constraints.

Of the plan after elimination, the convex plan before it and Full (the target itself), the one
with the best exact value — benefit κ·V·(Σ(w⁰ − τ)² − Σ(w′ − τ)²) minus exact expected cost — is
kept, so the heuristic is never worse than either. The "worth it" gate then compares it with doing
nothing: if every weight is already inside its band and the benefit is below the cost, the
rebalance is skipped (status PLAN_SKIPPED) and the record carries both numbers.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ballast.costs.kernel import trade_cost, trade_cost_parts
from ballast.enums import PLAN_EXECUTED, PLAN_SKIPPED
from ballast.planning.band_kernel import project_band
from ballast.planning.base import PlanVerdict

EPS_CURV = 1e-6  # curvature added where there is none, so the minimiser is unique and well posed


@njit(cache=True)
def _argmin_asset(w0, tau, kappa, p, q, lo, hi, mu):
    """Minimiser over [lo, hi] of κ(w − τ)² + p|w − w0| + q(w − w0)² + μ·w (convex, 1-D)."""
    a = kappa + q
    up = (kappa * tau + q * w0 - 0.5 * (p + mu)) / a
    if up > w0:
        w = up
    else:
        dn = (kappa * tau + q * w0 + 0.5 * (p - mu)) / a
        w = dn if dn < w0 else w0
    if w < lo:
        return lo
    if w > hi:
        return hi
    return w


@njit(cache=True)
def _total(w0, tau, kappa, p, q, lo, hi, mu):
    s = 0.0
    for i in range(w0.shape[0]):
        s += _argmin_asset(w0[i], tau[i], kappa, p[i], q[i], lo[i], hi[i], mu)
    return s


@njit(cache=True)
def solve_convex(w0, tau, kappa, p, q, lo, hi, out):
    """The convex part for boxes [lo, hi]; returns μ (nan if Σw′ = 1 is infeasible)."""
    n = w0.shape[0]
    slo = 0.0
    shi = 0.0
    big = 1.0
    for i in range(n):
        slo += lo[i]
        shi += hi[i]
        big = max(big, 4.0 * (kappa + q[i]) + 2.0 * p[i] + 4.0)
    if slo > 1.0 + 1e-12 or shi < 1.0 - 1e-12:
        return np.nan
    # Σw′(μ) is non-increasing and piecewise linear in μ: false position lands on the root once
    # both ends share a linear piece; every third step bisects, so the bracket always shrinks.
    a = -big
    b = big
    sa = _total(w0, tau, kappa, p, q, lo, hi, a)
    sb = _total(w0, tau, kappa, p, q, lo, hi, b)
    mu = 0.5 * (a + b)
    for k in range(300):
        if k % 3 == 2 or sa == sb:
            m = 0.5 * (a + b)
        else:
            m = a + (sa - 1.0) * (b - a) / (sa - sb)
            if not (a < m < b):
                m = 0.5 * (a + b)
        sm = _total(w0, tau, kappa, p, q, lo, hi, m)
        mu = m
        if sm == 1.0:
            break
        if sm > 1.0:
            a, sa = m, sm
        else:
            b, sb = m, sm
        if b - a <= 1e-15 * max(1.0, abs(m)):
            mu = 0.5 * (a + b)
            break
    s = 0.0
    for i in range(n):
        out[i] = _argmin_asset(w0[i], tau[i], kappa, p[i], q[i], lo[i], hi[i], mu)
        s += out[i]
    # Put the bisection's last rounding on one asset with room, so Σw′ = 1 exactly.
    err = 1.0 - s
    if err != 0.0:
        for i in range(n):
            if lo[i] < hi[i] and out[i] + err >= lo[i] and out[i] + err <= hi[i] and out[i] != w0[i]:
                out[i] += err
                break
    return mu


@njit(cache=True)
def _lagrangian(w, w0, tau, kappa, p, q, mu):
    d = w - w0
    return kappa * (w - tau) ** 2 + p * abs(d) + q * d * d + mu * w


@njit(cache=True)
def _boxes(frozen, band_lo, band_hi, w0, tau, lo, hi):
    """Each weight's range: its current value if frozen, else inside its band and between the
    current weight and the target."""
    for i in range(w0.shape[0]):
        if frozen[i]:
            lo[i] = w0[i]
            hi[i] = w0[i]
        else:
            lo[i] = max(band_lo[i], min(w0[i], tau[i]))
            hi[i] = min(band_hi[i], max(w0[i], tau[i]))


@njit(cache=True)
def _price_plan(out, w0, tau, kappa, quote, costs, t, V):
    """(exact expected cost, benefit κ·V·(Σ(w⁰ − τ)² − Σ(w′ − τ)²), number of trades) of a plan."""
    cost = 0.0
    before = 0.0
    after = 0.0
    n_trades = 0
    for i in range(w0.shape[0]):
        before += (w0[i] - tau[i]) ** 2
        after += (out[i] - tau[i]) ** 2
        if i != quote and out[i] != w0[i]:
            cost += trade_cost(costs, i, t, (out[i] - w0[i]) * V)
            n_trades += 1
    return cost, kappa * V * (before - after), n_trades


@njit(cache=True)
def cost_aware(w0, tau, width_abs, width_rel, kappa, gate, quote, costs, t, V, out):
    """Plan post-trade weights into ``out``; returns a PlanVerdict (expected cost and benefit in currency)."""
    n = w0.shape[0]
    band_lo = np.empty(n)
    band_hi = np.empty(n)
    lo = np.empty(n)
    hi = np.empty(n)
    p = np.zeros(n)
    q = np.zeros(n)
    fixed = np.zeros(n)
    must = np.zeros(n, np.bool_)
    frozen = np.zeros(n, np.bool_)
    keep = np.zeros(n, np.bool_)
    total = 0.0
    for i in range(n):
        total += w0[i]
    all_in = total > 1.0 - 1e-9  # value outside the assets (forming the portfolio) forces a trade
    free_costs = kappa == 0.0
    for i in range(n):
        h = max(width_abs[i], width_rel[i] * tau[i])
        band_lo[i] = max(tau[i] - h, 0.0)
        band_hi[i] = min(tau[i] + h, 1.0)
        must[i] = w0[i] < band_lo[i] or w0[i] > band_hi[i]
        if must[i]:
            all_in = False
        if i != quote and V > 0.0:
            full = (tau[i] - w0[i]) * V
            p[i] = costs.prop[i] + (costs.pool_fee[i] if costs.pool_kind[i] != 0 else 0.0)
            if full != 0.0:
                var, fx = trade_cost_parts(costs, i, t, full)
                d = abs(tau[i] - w0[i])
                excess = var - p[i] * abs(full)  # the impact part; rounding noise is not impact
                q[i] = excess / V / (d * d) if excess > 1e-9 * var else 0.0
                fixed[i] = fx / V
                if not (np.isfinite(q[i]) and np.isfinite(fixed[i])):  # the pool cannot take the trade
                    q[i] = 1e12  # trade as little as the bands allow
                    fixed[i] = 0.0
        if p[i] != 0.0 or q[i] != 0.0 or fixed[i] != 0.0:
            free_costs = False
        if kappa + q[i] < EPS_CURV:
            q[i] = EPS_CURV
    if free_costs:
        # Nothing to trade off: the cheapest in-band point is not unique, so take BandEdge's.
        project_band(w0, tau, width_abs, width_rel, 1.0, out, np.zeros(n, np.bool_), quote)
        return PlanVerdict(PLAN_EXECUTED, 0.0, 0.0)
    last = -1
    first = np.empty(n)
    for _ in range(2 * n + 1):
        _boxes(frozen, band_lo, band_hi, w0, tau, lo, hi)
        mu = solve_convex(w0, tau, kappa, p, q, lo, hi, out)
        if last < 0:  # the convex plan, before any trade was dropped for its fixed cost
            first[:] = out
        if np.isnan(mu):  # only after a freeze: undo it and never try that asset again
            frozen[last] = False
            keep[last] = True
            continue
        worst = -1
        worst_net = 0.0
        for i in range(n):
            if frozen[i] or keep[i] or must[i] or i == quote or out[i] == w0[i] or fixed[i] == 0.0:
                continue
            gain = _lagrangian(w0[i], w0[i], tau[i], kappa, p[i], q[i], mu) - _lagrangian(
                out[i], w0[i], tau[i], kappa, p[i], q[i], mu
            )
            net = gain - fixed[i]
            if net < worst_net:
                worst_net = net
                worst = i
        if worst < 0:
            break
        frozen[worst] = True
        last = worst
    # Local search on exact values: flip one asset between frozen and free at a time, keep the
    # flip if benefit − cost improves (two sweeps).
    cost, benefit, n_trades = _price_plan(out, w0, tau, kappa, quote, costs, t, V)
    trial = np.empty(n)
    cand = np.zeros(n, np.bool_)
    for j in range(n):
        # Frozen assets may come back; traded ones are worth testing only when their fixed cost is
        # a sizeable part of their first-order gain (elsewhere dropping them cannot pay), and no
        # flip is tried whose effect would be below a millionth of the plan's value.
        if must[j] or j == quote or fixed[j] == 0.0 or w0[j] == tau[j]:
            continue
        gain = _lagrangian(w0[j], w0[j], tau[j], kappa, p[j], q[j], mu) - _lagrangian(
            out[j], w0[j], tau[j], kappa, p[j], q[j], mu
        )
        material = (fixed[j] + abs(gain)) * V >= 1e-6 * abs(benefit - cost)
        cand[j] = material and (frozen[j] or gain < 10.0 * fixed[j])
    for _ in range(2):
        better = False
        for j in range(n):
            if not cand[j]:
                continue
            frozen[j] = not frozen[j]
            _boxes(frozen, band_lo, band_hi, w0, tau, lo, hi)
            if not np.isnan(solve_convex(w0, tau, kappa, p, q, lo, hi, trial)):
                c, b, k = _price_plan(trial, w0, tau, kappa, quote, costs, t, V)
                if b - c > benefit - cost + 1e-12 * V:
                    out[:] = trial
                    cost, benefit, n_trades = c, b, k
                    better = True
                    continue
            frozen[j] = not frozen[j]
        if not better:
            break
    # Keep the best of three in-band plans by exact value (benefit − cost): the plan after
    # elimination and search, the convex plan before it, and Full (the target itself).
    c1, b1, n1 = _price_plan(first, w0, tau, kappa, quote, costs, t, V)
    c2, b2, n2 = _price_plan(tau, w0, tau, kappa, quote, costs, t, V)
    if b1 - c1 > benefit - cost:
        out[:] = first
        cost, benefit, n_trades = c1, b1, n1
    if b2 - c2 >= benefit - cost and n2 > 0:  # ties go to the target itself
        out[:] = tau
        cost, benefit, n_trades = c2, b2, n2
    if gate and all_in and (benefit < cost or n_trades == 0):
        if n_trades == 0:  # say what the best plan that trades would have cost and brought
            cost, benefit = (c1, b1) if n1 > 0 and (n2 == 0 or b1 - c1 >= b2 - c2) else (c2, b2)
        for i in range(n):
            out[i] = w0[i]
        return PlanVerdict(PLAN_SKIPPED, cost, benefit)
    return PlanVerdict(PLAN_EXECUTED, cost, benefit)
