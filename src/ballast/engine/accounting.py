"""Trading to planned weights with exact costs: the accounting every engine and the live service share.

Conventions (also in docs/conventions.md and on every Result):
- decisions and trades happen at the close of period t, on information up to t, from the
  pre-trade weights at that close;
- the portfolio starts as cash (``capital``) and is formed at the first close, paying costs;
- ``CONV_EXACT``: after a rebalance the weights are exactly the planned weights and the costs
  come out of the portfolio: V′ = V − Σᵢ cᵢ(|w′ᵢ·V′ − xᵢ|), solved by secant steps guarded by
  the fixed-point iteration (a contraction while marginal costs are below 100 %; it converges
  to machine precision);
- ``CONV_BT``: bt's accounting — each trade moves (w′ᵢ − wᵢ)·V of cash and carries its own fee
  (a buy gets that amount less its fee, a sale delivers that amount plus its fee).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ballast.costs.kernel import plain_cost, trade_cost
from ballast.engine.records import Execution
from ballast.enums import CONV_EXACT, POOL_NONE

MAX_ITER = 200
ROUNDING = 1e-12  # trades smaller than this fraction of the portfolio are rounding noise


@njit(cache=True)
def _costs_at(units, p, share, traded, x_skip, v, costs, t, quote):
    """Σ costs of the traded legs if the portfolio is worth ``v`` after costs; traded leg i then
    holds share[i]·(v − x_skip). Out of line: pools are rare, and each inlined copy of
    `trade_cost` costs seconds of compile time (docs/kernel-performance.md, "out of line")."""
    c = 0.0
    for i in range(p.shape[0]):
        if traded[i] and i != quote:
            c += trade_cost(costs, i, t, share[i] * (v - x_skip) - units[i] * p[i])
    return c


@njit(cache=True, inline="always")
def _plain_costs_at(units, p, share, traded, x_skip, v, prop, fixed, fixed_asset, t, quote):
    """`_costs_at` when no traded leg goes through a pool, from arrays read once (see plain_cost)."""
    c = 0.0
    for i in range(p.shape[0]):
        if traded[i] and i != quote:
            c += plain_cost(prop, fixed, fixed_asset, i, t, share[i] * (v - x_skip) - units[i] * p[i])
    return c


@njit(cache=True, inline="always")
def _value_after_costs(units, p, share, traded, x_skip, V, costs, t, quote, plain):
    """Solve V′ = V − C(V′): secant steps on gap(v) = V − C(v) − v, which is piecewise smooth and
    decreasing (exact in two or three steps on piecewise-linear costs), guarded by the plain
    fixed-point step (a contraction while marginal costs stay below 100 %). The first step is
    the fixed-point step from v = V.

    ``plain``: no traded leg has a pool, so C is evaluated from three arrays read once here.
    One evaluation site per kind of C (docs/kernel-performance.md, "out of line")."""
    prop = costs.prop
    fixed = costs.fixed
    fixed_asset = costs.fixed_asset
    v = V
    v_prev = gap_prev = 0.0
    for k in range(MAX_ITER + 1):
        if plain:
            c = _plain_costs_at(units, p, share, traded, x_skip, v, prop, fixed, fixed_asset, t, quote)
        else:
            c = _costs_at(units, p, share, traded, x_skip, v, costs, t, quote)
        gap = V - c - v
        if k == 0:
            if gap == 0.0:
                return v
            v_prev, gap_prev, v = v, gap, v + gap
            continue
        if gap == 0.0 or abs(v - v_prev) <= 1e-15 * abs(V):
            return v
        den = gap - gap_prev
        step = -gap * (v - v_prev) / den if den != 0.0 else gap
        nxt = v + step
        if not (nxt == nxt) or abs(step) > abs(V):  # a bad secant: take the contraction step
            nxt = v + gap
        v_prev, gap_prev, v = v, gap, nxt
    return v


@njit(cache=True, inline="always")
def no_pool(pool_kind, traded, quote):
    """Whether no traded leg (the quote asset aside) goes through an AMM pool."""
    for i in range(traded.shape[0]):
        if traded[i] and i != quote and pool_kind[i] != POOL_NONE:
            return False
    return True


@njit(cache=True, inline="always")
def solve_exact(units, cash, p, w_pre, w, keep, costs, t, quote, traded, hold):
    """Exact self-financing rebalance to weights ``w``; fills ``hold`` (new values), returns V′
    (−1 when nothing is tradeable).

    Assets marked ``keep``, legs the planner left alone (w = w_pre) and legs below the minimum
    trade size are not traded: they keep their value and the traded assets share the rest in
    proportion to their planned weights.
    """
    n = p.shape[0]
    min_trade = costs.min_trade  # read once (docs/kernel-performance.md, "read tuple fields before branching")
    V = cash
    for i in range(n):
        V += units[i] * p[i]
    x_skip = 0.0
    w_s = 0.0
    for i in range(n):
        x = units[i] * p[i]
        d = abs(w[i] * V - x)
        if keep[i]:
            traded[i] = False
        elif i == quote:
            traded[i] = True
        else:
            # A weight already on target still gives d ≈ ulp(x) from rounding; that is no trade
            # (it would pay a fixed cost and break backtest/live agreement).
            traded[i] = d > ROUNDING * V and d >= min_trade and w[i] != w_pre[i]
        if traded[i]:
            w_s += w[i]
        else:
            x_skip += x
    if w_s <= 0.0:
        return -1.0
    for i in range(n):  # each traded asset's share of the traded value, divided once (in ``hold``)
        hold[i] = w[i] / w_s
    v_new = _value_after_costs(
        units, p, hold, traded, x_skip, V, costs, t, quote, no_pool(costs.pool_kind, traded, quote)
    )
    for i in range(n):
        hold[i] = hold[i] * (v_new - x_skip) if traded[i] else units[i] * p[i]
    return v_new


@njit(cache=True)
def _leg_costs(costs, t, quote, dv, cost):
    """cost[i] = trade_cost of each traded value dv[i] (the quote asset's leg is free)."""
    for i in range(dv.shape[0]):
        if dv[i] != 0.0 and i != quote:
            cost[i] = trade_cost(costs, i, t, dv[i])


@njit(cache=True)
def _bt_leg(costs, i, t, amount):
    """bt's allocate(): traded value d with d + c(d) = amount (buy) or d − c(d) = −amount (sell).
    Returns (signed traded value, its cost)."""
    a = abs(amount)
    d = a
    for _ in range(MAX_ITER):
        c = trade_cost(costs, i, t, d if amount > 0 else -d)
        nxt = a - c if amount > 0 else a + c
        if abs(nxt - d) <= 1e-15 * a:
            d = nxt
            break
        d = nxt
    d = max(d, 0.0)
    signed = d if amount > 0 else -d
    return signed, trade_cost(costs, i, t, signed)


@njit(cache=True)
def execute(units, cash, p, w_pre, w_new, keep, costs, t, quote, convention, dv, cost):
    """Trade from ``units`` (+ ``cash``) to the planned weights ``w_new`` at prices ``p``.

    Updates ``units`` in place and writes each asset's traded value (signed) and cost into ``dv``
    and ``cost``. Returns an `Execution`. Shared by the compiled walk, the pure-Python engine and
    the paper broker.
    """
    n = p.shape[0]
    return execute_with_scratch(
        units, cash, p, w_pre, w_new, keep, costs, t, quote, convention, dv, cost, np.empty(n, np.bool_), np.empty(n)
    )


@njit(cache=True, inline="always")
def execute_with_scratch(units, cash, p, w_pre, w_new, keep, costs, t, quote, convention, dv, cost, traded, hold):
    """`execute` with the solve's scratch arrays from the caller: the walk allocates them once."""
    n = p.shape[0]
    prop = costs.prop  # read once, before any branch (docs/kernel-performance.md, "plain_cost")
    fixed = costs.fixed
    fixed_asset = costs.fixed_asset
    pool_kind = costs.pool_kind
    V = cash
    for i in range(n):
        V += units[i] * p[i]
    n_here = 0
    cost_here = 0.0
    traded_value = 0.0
    for i in range(n):
        dv[i] = 0.0
        cost[i] = 0.0
    if convention == CONV_EXACT:
        v_new = solve_exact(units, cash, p, w_pre, w_new, keep, costs, t, quote, traded, hold)
        if v_new <= 0.0:  # nothing tradeable, or costs would exceed the portfolio
            return Execution(V, cash, 0, 0.0, 0.0)
        for i in range(n):
            d = hold[i] - units[i] * p[i]
            if not traded[i] or d == 0.0:
                continue
            dv[i] = d
            traded_value += abs(d)  # every leg, the cash leg too: turnover is ½·Σ|trade| / value
            if i != quote:
                n_here += 1
            units[i] = hold[i] / p[i]
        if no_pool(pool_kind, traded, quote):
            for i in range(n):
                if dv[i] != 0.0 and i != quote:
                    cost[i] = plain_cost(prop, fixed, fixed_asset, i, t, dv[i])
        else:
            _leg_costs(costs, t, quote, dv, cost)
        for i in range(n):
            cost_here += cost[i]
        return Execution(v_new, 0.0, n_here, cost_here, traded_value)
    min_trade = costs.min_trade
    for i in range(n):
        amount = (w_new[i] - w_pre[i]) * V
        if keep[i] or amount == 0.0 or abs(amount) < min_trade:
            continue
        dv[i], cost[i] = _bt_leg(costs, i, t, amount)
        cash -= amount
        units[i] += dv[i] / p[i]
        n_here += 1
        traded_value += abs(dv[i])
        cost_here += cost[i]
    v_after = cash
    for i in range(n):
        v_after += units[i] * p[i]
    return Execution(v_after, cash, n_here, cost_here, traded_value)
