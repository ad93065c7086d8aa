"""The compiled path walk: value, decide, plan, trade with exact costs — one close at a time.

Conventions (also in docs/conventions.md and on every Result):
- decisions and trades happen at the close of period t, on information up to t, from the
  pre-trade weights at that close;
- the portfolio starts as cash (``capital``) and is formed at the first close, paying costs;
- ``CONV_EXACT``: after a rebalance the weights are exactly the planned weights and the costs
  come out of the portfolio: V′ = V − Σᵢ cᵢ(|w′ᵢ·V′ − xᵢ|), solved by fixed-point iteration
  (a contraction while marginal costs are below 100 %; it converges to machine precision);
- ``CONV_BT``: bt's accounting — each trade moves (w′ᵢ − wᵢ)·V of cash and carries its own fee
  (a buy gets that amount less its fee, a sale delivers that amount plus its fee).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ballast.costs.kernel import trade_cost
from ballast.planning.base import PLAN_BAND_EDGE, PLAN_EXECUTED
from ballast.planning.constraints_kernel import apply_constraints, floor_target
from ballast.planning.kernel import plan_weights
from ballast.triggers.kernel import evaluate_program

CONV_EXACT = 0
CONV_BT = 1

# Indices into the accumulator vector returned by `simulate` (metrics.py reads them).
ACC_COSTS = 0
ACC_TURNOVER = 1  # Σ over rebalances after formation of ½·Σ|trade value| / pre-trade value
ACC_REBALANCES = 2
ACC_TRADES = 3
ACC_DRIFT_SUM = 4  # Σₜ maxᵢ |w_pre − target| over t ≥ 1
ACC_DRIFT_MAX = 5
ACC_ACTIVE_SUM = 6  # Σ (r_portfolio − r_target_portfolio), t ≥ 1
ACC_ACTIVE_SUMSQ = 7
ACC_FIRED = 8  # trigger firings, including those whose trades were all skipped
N_ACC = 9

MAX_ITER = 200
ROUNDING = 1e-12  # trades smaller than this fraction of the portfolio are rounding noise


# Inlined into the solve: a call boundary re-counts references to every array of CostArrays.
@njit(cache=True, inline="always")
def _costs_at(units, p, w, traded, w_s, x_skip, v, costs, t, quote):  # noqa: ANN001
    """Σ costs of the traded legs if the portfolio is worth ``v`` after costs."""
    c = 0.0
    for i in range(p.shape[0]):
        if traded[i] and i != quote:
            c += trade_cost(costs, i, t, w[i] / w_s * (v - x_skip) - units[i] * p[i])
    return c


@njit(cache=True, inline="always")
def _value_after_costs(units, p, w, traded, w_s, x_skip, V, costs, t, quote):  # noqa: ANN001
    """Solve V′ = V − C(V′): secant steps on g(v) = V − C(v) − v, which is piecewise smooth and
    decreasing (exact in two or three steps on piecewise-linear costs), guarded by the plain
    fixed-point step (a contraction while marginal costs stay below 100 %)."""
    v0 = V
    g0 = V - _costs_at(units, p, w, traded, w_s, x_skip, v0, costs, t, quote) - v0
    if g0 == 0.0:
        return v0
    v1 = v0 + g0  # the fixed-point step
    for _ in range(MAX_ITER):
        g1 = V - _costs_at(units, p, w, traded, w_s, x_skip, v1, costs, t, quote) - v1
        if g1 == 0.0 or abs(v1 - v0) <= 1e-15 * abs(V):
            return v1
        den = g1 - g0
        step = -g1 * (v1 - v0) / den if den != 0.0 else g1
        nxt = v1 + step
        if not (nxt == nxt) or abs(step) > abs(V):  # a bad secant: take the contraction step
            nxt = v1 + g1
        v0, g0, v1 = v1, g1, nxt
    return v1


@njit(cache=True)
def _solve_exact(units, cash, p, w_pre, w, keep, costs, t, quote, traded, hold):  # noqa: ANN001
    """Exact self-financing rebalance to weights ``w``; fills ``hold`` (new values), returns V′.

    Assets marked ``keep``, legs the planner left alone (w = w_pre) and legs below the minimum
    trade size are not traded: they keep their value and the traded assets share the rest in
    proportion to their planned weights.
    """
    n = p.shape[0]
    min_trade = costs.min_trade  # read once: a tuple field read in a loop defeats refcount pruning
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
    v_new = _value_after_costs(units, p, w, traded, w_s, x_skip, V, costs, t, quote)
    for i in range(n):
        hold[i] = w[i] / w_s * (v_new - x_skip) if traded[i] else units[i] * p[i]
    return v_new


@njit(cache=True)
def _bt_leg(costs, i, t, amount):  # noqa: ANN001
    """bt's allocate(): traded value d with d + c(d) = amount (buy) or d − c(d) = −amount (sell)."""
    a = abs(amount)
    d = a
    for _ in range(MAX_ITER):
        c = trade_cost(costs, i, t, d if amount > 0 else -d)
        nxt = a - c if amount > 0 else a + c
        if abs(nxt - d) <= 1e-15 * a:
            d = nxt
            break
        d = nxt
    return max(d, 0.0)


@njit(cache=True)
def _log_trades(book, n_tr, t, p, dv, cost):  # noqa: ANN001
    """Append this close's trades to the trade book; returns the new count.

    ``book`` is a one-element list holding a (5, capacity) array — rows t, asset, quantity,
    value, cost — that doubles when full. Growing it inside a list keeps the walk from reassigning
    arrays in its loop, which made every close about twice as slow even when nothing was logged.
    """
    n = p.shape[0]
    buf = book[0]
    if n_tr + n > buf.shape[1]:
        grown = np.empty((5, max(n_tr + n, 2 * buf.shape[1])))
        for r in range(5):  # plain loops: slice assignment costs seconds of compile time
            for k in range(n_tr):
                grown[r, k] = buf[r, k]
        buf = grown
        book[0] = buf
    for i in range(n):
        if dv[i] != 0.0:
            buf[0, n_tr] = t
            buf[1, n_tr] = i
            buf[2, n_tr] = dv[i] / p[i]
            buf[3, n_tr] = dv[i]
            buf[4, n_tr] = cost[i]
            n_tr += 1
    return n_tr


@njit(cache=True, inline="always")  # inlined into the walk: ~15 % of a 20-asset backtest
def value_and_weights(units, cash, prices, t, w):  # noqa: ANN001
    """Portfolio value at the prices of row ``t`` of ``prices``; fills ``w`` with the weights (one
    summation order for all). It reads the 2-D array: a row view made at every close costs two
    atomic reference-count updates, which were half of a sweep's time."""
    n = prices.shape[1]
    for i in range(n):  # products first, apart from the sum: this loop runs in SIMD lanes
        w[i] = units[i] * prices[t, i]
    V = cash
    for i in range(n):
        V += w[i]
    # One division, then products: n divisions per close were a third of a sweep's time.
    inv = 1.0 / V if V > 0.0 else 0.0
    for i in range(n):
        w[i] *= inv
    return V


@njit(cache=True, inline="always")
def max_abs_drift(w, targets, row):  # noqa: ANN001
    """maxᵢ |wᵢ − targets[row, i]|, in four independent lanes: one running max is a chain of
    dependent instructions that cost as much as the rest of a close (max is exact, so the lanes
    give the same number)."""
    n = w.shape[0]
    m0 = m1 = m2 = m3 = 0.0
    i = 0
    while i + 4 <= n:
        m0 = max(m0, abs(w[i] - targets[row, i]))
        m1 = max(m1, abs(w[i + 1] - targets[row, i + 1]))
        m2 = max(m2, abs(w[i + 2] - targets[row, i + 2]))
        m3 = max(m3, abs(w[i + 3] - targets[row, i + 3]))
        i += 4
    while i < n:
        m0 = max(m0, abs(w[i] - targets[row, i]))
        i += 1
    return max(max(m0, m1), max(m2, m3))


@njit(cache=True, inline="always")
def target_return(target_prev, p, p_prev):  # noqa: ANN001
    """Return of the always-on-target portfolio over one period."""
    r = 0.0
    for i in range(p.shape[0]):
        r += target_prev[i] * (p[i] / p_prev[i] - 1.0)
    return r


@njit(cache=True)
def target_returns(targets, prices):  # noqa: ANN001
    """The always-on-target portfolio's return per period (0 at t = 0). It depends on the target
    path and the prices only, so a sweep computes it once for every configuration sharing them."""
    T = prices.shape[0]
    out = np.zeros(T)
    for t in range(1, T):
        out[t] = target_return(targets[t - 1], prices[t], prices[t - 1])
    return out


@njit(cache=True)
def execute(units, cash, p, w_pre, w_new, keep, costs, t, quote, convention, dv, cost):  # noqa: ANN001
    """Trade from ``units`` (+ ``cash``) to the planned weights ``w_new`` at prices ``p``.

    Updates ``units`` in place and writes each asset's traded value (signed) and cost into ``dv``
    and ``cost``. Returns (value after, cash after, trades, total cost, traded value). Shared by
    the compiled walk, the pure-Python engine and the paper broker.
    """
    n = p.shape[0]
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
        traded = np.zeros(n, np.bool_)
        hold = np.empty(n)
        v_new = _solve_exact(units, cash, p, w_pre, w_new, keep, costs, t, quote, traded, hold)
        if v_new <= 0.0:  # nothing tradeable, or costs would exceed the portfolio
            return V, cash, 0, 0.0, 0.0
        for i in range(n):
            d = hold[i] - units[i] * p[i]
            if not traded[i] or d == 0.0:
                continue
            dv[i] = d
            if i != quote:
                cost[i] = trade_cost(costs, i, t, d)
                n_here += 1
                traded_value += abs(d)
                cost_here += cost[i]
            units[i] = hold[i] / p[i]
        return v_new, 0.0, n_here, cost_here, traded_value
    min_trade = costs.min_trade
    for i in range(n):
        amount = (w_new[i] - w_pre[i]) * V
        if keep[i] or amount == 0.0 or abs(amount) < min_trade:
            continue
        d = _bt_leg(costs, i, t, amount)
        dv[i] = d if amount > 0 else -d
        cost[i] = trade_cost(costs, i, t, dv[i])
        cash -= amount
        units[i] += dv[i] / p[i]
        n_here += 1
        traded_value += d
        cost_here += cost[i]
    v_after = cash
    for i in range(n):
        v_after += units[i] * p[i]
    return v_after, cash, n_here, cost_here, traded_value


@njit(cache=True)
def _plan(plan, costs, t, V, w_pre, target, quote, scale, w_new, keep):  # noqa: ANN001
    """The planner, then the state-dependent constraints (turnover cap, value floor).

    Returns the planner's (status PLAN_*, expected cost, benefit)."""
    status, est, benefit = plan_weights(plan, w_pre, target, scale, w_new, keep, costs, t, V, quote)
    if status == PLAN_EXECUTED and apply_constraints(plan, costs, t, V, w_pre, w_new, quote):
        for i in range(keep.shape[0]):  # constrained weights move every asset: none is untouched
            keep[i] = False
    return status, est, benefit


@njit(cache=True)
def rebalance(plan, w_pre, target, units, cash, p, costs, t, quote, convention, w_new, keep, dv, cost):  # noqa: ANN001
    """Plan, constrain, then execute; returns execute's tuple plus the plan's (status, cost, benefit).

    Under exact accounting the band-edge planner plans in post-cost weights: the value kept by
    untouched assets is a larger share after costs, so the plan is redone at scale = V/V′ until V′
    stops moving (a contraction; two or three rounds). A plan the cost gate skipped trades nothing.
    """
    n = p.shape[0]
    iterate = convention == CONV_EXACT and plan.kind == PLAN_BAND_EDGE
    V = cash
    for i in range(n):
        V += units[i] * p[i]
    traded = np.zeros(n if iterate else 0, np.bool_)
    hold = np.empty(n if iterate else 0)
    scale = 1.0
    status, est, benefit = PLAN_EXECUTED, 0.0, 0.0
    for r in range(51):  # one call site for the planner and one for the solve: both are inlined
        s_r, e_r, b_r = _plan(plan, costs, t, V, w_pre, target, quote, scale, w_new, keep)
        if r == 0:
            status, est, benefit = s_r, e_r, b_r
            if status != PLAN_EXECUTED:
                for i in range(n):
                    dv[i] = 0.0
                    cost[i] = 0.0
                return V, cash, 0, 0.0, 0.0, status, est, benefit
        if not iterate or r == 50:
            break
        v_new = _solve_exact(units, cash, p, w_pre, w_new, keep, costs, t, quote, traded, hold)
        if v_new <= 0.0:
            break
        nxt = V / v_new
        if nxt == scale:
            break
        scale = nxt
    v_after, cash_after, n_here, cost_here, traded_value = execute(
        units, cash, p, w_pre, w_new, keep, costs, t, quote, convention, dv, cost)
    return v_after, cash_after, n_here, cost_here, traded_value, status, est, benefit


@njit(cache=True)
def simulate(prices, targets, target_r, trig, plan, costs, quote, convention, capital, record):  # noqa: ANN001
    """Walk the path. Returns (equity[T], weights[T|1, N], acc[N_ACC], rebalance log, trade log).

    ``target_r`` is `target_returns(targets, prices)`, given so that a sweep computes it once per
    target path. ``trig`` is a TriggerProgram, ``plan`` a PlanSpec, ``costs`` a CostArrays:
    NamedTuples of arrays, so new fields reach the kernel without changing this signature.
    """
    T, n = prices.shape
    units = np.zeros(n)
    cash = capital
    equity = np.empty(T)
    weights = np.zeros((T if record else 1, n))
    acc = np.zeros(N_ACC)
    cap_r = T if record else 1
    reb_t = np.empty(cap_r, np.int64)
    reb_bits = np.empty(cap_r, np.int64)
    reb_trades = np.empty(cap_r, np.int64)
    reb_cost = np.empty(cap_r)
    reb_value = np.empty(cap_r)
    reb_status = np.empty(cap_r, np.int64)
    reb_est = np.empty(cap_r)
    reb_benefit = np.empty(cap_r)
    # The trade log grows as needed: allocating T·N up front cost more than a backtest's walk.
    book = [np.empty((5, min(T, 64) * n if record else 1))]
    n_reb = 0
    n_tr = 0
    w_pre = np.zeros(n)
    w_new = np.empty(n)
    keep = np.zeros(n, np.bool_)
    has_floor = plan.floor_asset >= 0
    dv = np.empty(n)
    cost = np.empty(n)
    stack = np.zeros(max(trig.program.shape[0], 1), np.bool_)
    last_t = 0
    v_prev = capital
    # The decision target is row ``row`` of ``decide``: the target path itself, or (with a value
    # floor) a one-row scratch array. Row indices instead of row views keep the per-close path free
    # of reference counting (see value_and_weights).
    floored = np.empty((1, n))
    decide = floored if has_floor else targets
    for t in range(T):
        V = value_and_weights(units, cash, prices, t, w_pre)
        row = 0 if has_floor else t
        if has_floor:
            floor_target(plan, t, V, targets[t], floored[0])
        if t == 0:
            fire = True
            bits = np.int64(0)
        else:
            fire, bits = evaluate_program(trig, t, w_pre, decide, row, last_t, prices, stack)
            dmax = max_abs_drift(w_pre, decide, row)
            acc[ACC_DRIFT_SUM] += dmax
            acc[ACC_DRIFT_MAX] = max(acc[ACC_DRIFT_MAX], dmax)
        v_after = V
        if fire and V > 0.0:
            if t > 0:
                acc[ACC_FIRED] += 1
            p = prices[t]
            v_after, cash, n_here, cost_here, traded_value, status, est, benefit = rebalance(
                plan, w_pre, decide[row], units, cash, p, costs, t, quote, convention, w_new, keep, dv, cost)
            acc[ACC_COSTS] += cost_here
            if t > 0 and n_here > 0:
                acc[ACC_REBALANCES] += 1
                acc[ACC_TRADES] += n_here
                acc[ACC_TURNOVER] += 0.5 * traded_value / V
                last_t = t
            if record:
                n_tr = _log_trades(book, n_tr, t, p, dv, cost)
                reb_t[n_reb] = t
                reb_bits[n_reb] = bits
                reb_trades[n_reb] = n_here
                reb_cost[n_reb] = cost_here
                reb_value[n_reb] = traded_value
                reb_status[n_reb] = status
                reb_est[n_reb] = est
                reb_benefit[n_reb] = benefit
                n_reb += 1
        equity[t] = v_after
        if record:
            for i in range(n):
                weights[t, i] = units[i] * prices[t, i] / v_after if v_after > 0.0 else 0.0
        if t > 0:
            r_port = v_after / v_prev - 1.0 if v_prev > 0.0 else 0.0
            a = r_port - target_r[t]
            acc[ACC_ACTIVE_SUM] += a
            acc[ACC_ACTIVE_SUMSQ] += a * a
        v_prev = v_after
    return (equity, weights, acc,
            (reb_t[:n_reb], reb_bits[:n_reb], reb_trades[:n_reb], reb_cost[:n_reb], reb_value[:n_reb],
             reb_status[:n_reb], reb_est[:n_reb], reb_benefit[:n_reb]),
            (book[0][0, :n_tr].astype(np.int64), book[0][1, :n_tr].astype(np.int64), book[0][2, :n_tr].copy(),
             book[0][3, :n_tr].copy(), book[0][4, :n_tr].copy()))
