"""The compiled path walk: value, decide, plan, trade with exact costs — one close at a time.

Conventions (also in docs/conventions.md and on every Result):
- decisions and trades happen at the close of period t, on information up to t, from the
  pre-trade weights at that close;
- the portfolio starts as cash (``capital``) and is formed at the first close, at the target
  whatever the planner (`_plan`), paying costs;
- ``CONV_EXACT``: after a rebalance the weights are exactly the planned weights and the costs
  come out of the portfolio: V′ = V − Σᵢ cᵢ(|w′ᵢ·V′ − xᵢ|), solved by fixed-point iteration
  (a contraction while marginal costs are below 100 %; it converges to machine precision);
- ``CONV_BT``: bt's accounting — each trade moves (w′ᵢ − wᵢ)·V of cash and carries its own fee
  (a buy gets that amount less its fee, a sale delivers that amount plus its fee).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ballast.costs.kernel import plain_cost, trade_cost
from ballast.engine.intrinsics import bits_float, borrow, borrow_fields, float_bits
from ballast.planning.base import PLAN_BAND_EDGE, PLAN_EXECUTED, PLAN_FULL
from ballast.planning.constraints_kernel import apply_constraints, floor_target
from ballast.planning.kernel import plan_weights
from ballast.triggers.kernel import evaluate_program

CONV_EXACT = 0
CONV_BT = 1

# Indices into the accumulator vector returned by `simulate` (metrics.py reads them).
ACC_COSTS = 0
ACC_TURNOVER = 1  # Σ over rebalances after formation of ½·Σ|trade value| / pre-trade value, all legs
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


@njit(cache=True)
def _costs_at(units, p, share, traded, x_skip, v, costs, t, quote):  # noqa: ANN001
    """Σ costs of the traded legs if the portfolio is worth ``v`` after costs; traded leg i then
    holds share[i]·(v − x_skip). Out of line: pools are rare, and each inlined copy of
    `trade_cost` costs seconds of compile time."""
    c = 0.0
    for i in range(p.shape[0]):
        if traded[i] and i != quote:
            c += trade_cost(costs, i, t, share[i] * (v - x_skip) - units[i] * p[i])
    return c


@njit(cache=True, inline="always")
def _plain_costs_at(units, p, share, traded, x_skip, v, prop, fixed, fixed_asset, t, quote):  # noqa: ANN001
    """`_costs_at` when no traded leg goes through a pool, from arrays read once (see plain_cost)."""
    c = 0.0
    for i in range(p.shape[0]):
        if traded[i] and i != quote:
            c += plain_cost(prop, fixed, fixed_asset, i, t, share[i] * (v - x_skip) - units[i] * p[i])
    return c


@njit(cache=True, inline="always")
def _value_after_costs(units, p, share, traded, x_skip, V, costs, t, quote, plain):  # noqa: ANN001
    """Solve V′ = V − C(V′): secant steps on g(v) = V − C(v) − v, which is piecewise smooth and
    decreasing (exact in two or three steps on piecewise-linear costs), guarded by the plain
    fixed-point step (a contraction while marginal costs stay below 100 %). The first step is
    the fixed-point step from v = V.

    ``plain``: no traded leg has a pool, so C is evaluated from three arrays read once here.
    One evaluation site per kind of C: each inlined copy is compile time."""
    prop = costs.prop
    fixed = costs.fixed
    fixed_asset = costs.fixed_asset
    v = V
    v0 = g0 = 0.0
    for k in range(MAX_ITER + 1):
        if plain:
            c = _plain_costs_at(units, p, share, traded, x_skip, v, prop, fixed, fixed_asset, t, quote)
        else:
            c = _costs_at(units, p, share, traded, x_skip, v, costs, t, quote)
        g = V - c - v
        if k == 0:
            if g == 0.0:
                return v
            v0, g0, v = v, g, v + g
            continue
        if g == 0.0 or abs(v - v0) <= 1e-15 * abs(V):
            return v
        den = g - g0
        step = -g * (v - v0) / den if den != 0.0 else g
        nxt = v + step
        if not (nxt == nxt) or abs(step) > abs(V):  # a bad secant: take the contraction step
            nxt = v + g
        v0, g0, v = v, g, nxt
    return v


@njit(cache=True, inline="always")
def _no_pool(pool_kind, traded, quote):  # noqa: ANN001
    """Whether no traded leg (the quote asset aside) goes through an AMM pool."""
    for i in range(traded.shape[0]):
        if traded[i] and i != quote and pool_kind[i] != 0:
            return False
    return True


@njit(cache=True, inline="always")
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
    for i in range(n):  # each traded asset's share of the traded value, divided once (in ``hold``)
        hold[i] = w[i] / w_s
    v_new = _value_after_costs(units, p, hold, traded, x_skip, V, costs, t, quote,
                               _no_pool(costs.pool_kind, traded, quote))
    for i in range(n):
        hold[i] = hold[i] * (v_new - x_skip) if traded[i] else units[i] * p[i]
    return v_new


@njit(cache=True)
def _leg_costs(costs, t, quote, dv, cost):  # noqa: ANN001
    """cost[i] = trade_cost of each traded value dv[i] (the quote asset's leg is free)."""
    for i in range(dv.shape[0]):
        if dv[i] != 0.0 and i != quote:
            cost[i] = trade_cost(costs, i, t, dv[i])


@njit(cache=True)
def _bt_leg(costs, i, t, amount):  # noqa: ANN001
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


@njit(cache=True, inline="always")
def held_assets(units, held):  # noqa: ANN001
    """The indices of the assets with a position, in asset order, into ``held``; returns how many."""
    m = 0
    for i in range(units.shape[0]):
        if units[i] != 0.0:
            held[m] = i
            m += 1
    return m


@njit(cache=True, inline="always")  # inlined into the walk: ~15 % of a 20-asset backtest
def value_and_weights_held(units, cash, prices, t, w, held, n_held):  # noqa: ANN001
    """(value, 1/value or 0) at the prices of row ``t`` of ``prices``; fills ``w`` with the weights.

    The walk keeps ``held[:n_held]`` (`held_assets`) up to date after each trade. The sum runs in
    four lanes over the held assets only: one running sum is a chain of dependent additions, the
    longest in a close; and by leaving out assets without a position, a strategy gives the same
    value to the last bit whether or not unused assets are in its universe (a sweep's universe is
    the union of its configurations'). It reads the 2-D array: a row view made at every close
    costs two atomic reference-count updates."""
    n = prices.shape[1]
    for i in range(n):  # products first, apart from the sum: this loop runs in SIMD lanes
        w[i] = units[i] * prices[t, i]
    s0 = s1 = s2 = s3 = 0.0
    k = 0
    while k + 4 <= n_held:
        s0 += w[held[k]]
        s1 += w[held[k + 1]]
        s2 += w[held[k + 2]]
        s3 += w[held[k + 3]]
        k += 4
    while k < n_held:
        s0 += w[held[k]]
        k += 1
    V = cash + ((s0 + s1) + (s2 + s3))
    # One division, then products: n divisions per close were a third of a sweep's time.
    inv = 1.0 / V if V > 0.0 else 0.0
    for i in range(n):
        w[i] *= inv
    return V, inv


@njit(cache=True)
def value_and_weights(units, cash, prices, t, w):  # noqa: ANN001
    """`value_and_weights_held` for callers outside the walk (the Python engine, the live service);
    returns the value only."""
    held = np.empty(units.shape[0], np.int64)
    return value_and_weights_held(units, cash, prices, t, w, held, held_assets(units, held))[0]


@njit(cache=True, inline="always")
def max_abs_drift(w, targets, row):  # noqa: ANN001
    """maxᵢ |wᵢ − targets[row, i]|, exactly, as an integer max over the values' bits (see
    `float_bits`): a float max cannot run in SIMD lanes, and was a quarter of a close's time."""
    m = np.int64(0)
    for i in range(w.shape[0]):
        b = float_bits(abs(w[i] - targets[row, i]))
        m = b if b > m else m
    return bits_float(m)


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
    return _execute(units, cash, p, w_pre, w_new, keep, costs, t, quote, convention, dv, cost,
                    np.empty(n, np.bool_), np.empty(n))


@njit(cache=True, inline="always")
def _execute(units, cash, p, w_pre, w_new, keep, costs, t, quote, convention, dv, cost, traded, hold):  # noqa: ANN001
    """`execute` with the solve's scratch arrays from the caller: the walk allocates them once."""
    n = p.shape[0]
    prop = costs.prop  # read once, before any branch (see plain_cost)
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
        v_new = _solve_exact(units, cash, p, w_pre, w_new, keep, costs, t, quote, traded, hold)
        if v_new <= 0.0:  # nothing tradeable, or costs would exceed the portfolio
            return V, cash, 0, 0.0, 0.0
        for i in range(n):
            d = hold[i] - units[i] * p[i]
            if not traded[i] or d == 0.0:
                continue
            dv[i] = d
            traded_value += abs(d)  # every leg, the cash leg too: turnover is ½·Σ|trade| / value
            if i != quote:
                n_here += 1
            units[i] = hold[i] / p[i]
        if _no_pool(pool_kind, traded, quote):
            for i in range(n):
                if dv[i] != 0.0 and i != quote:
                    cost[i] = plain_cost(prop, fixed, fixed_asset, i, t, dv[i])
        else:
            _leg_costs(costs, t, quote, dv, cost)
        for i in range(n):
            cost_here += cost[i]
        return v_new, 0.0, n_here, cost_here, traded_value
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
    return v_after, cash, n_here, cost_here, traded_value


@njit(cache=True, inline="always")
def _plan(plan, costs, t, V, w_pre, target, quote, scale, w_new, keep, forming):  # noqa: ANN001
    """The planner, then the state-dependent constraints (turnover cap, value floor).

    ``forming``: nothing is held yet, so every planner forms the portfolio at the target (a
    band-edge plan would stop at the band's edge and start the comparison with buy-and-hold from
    another point; docs/conventions.md). Returns the planner's (status PLAN_*, expected cost, benefit)."""
    kind = plan.kind  # scalar fields first (see plan_weights)
    constrained = plan.max_turnover > 0.0 or plan.floor_asset >= 0
    if kind == PLAN_FULL or forming:
        # The common case without calls: each call passes ~15 arrays, and numba counts a
        # reference to every one of them on the way in and out (most of a rebalance's time).
        for i in range(keep.shape[0]):
            w_new[i] = target[i]
            keep[i] = False
        if not constrained:
            return PLAN_EXECUTED, 0.0, 0.0
        status, est, benefit = PLAN_EXECUTED, 0.0, 0.0
    else:
        status, est, benefit = plan_weights(plan, w_pre, target, scale, w_new, keep, costs, t, V, quote)
    if status == PLAN_EXECUTED and constrained and apply_constraints(plan, costs, t, V, w_pre, w_new, quote):
        for i in range(keep.shape[0]):  # constrained weights move every asset: none is untouched
            keep[i] = False
    return status, est, benefit


@njit(cache=True)
def rebalance(plan, w_pre, target, units, cash, p, costs, t, quote, convention, w_new, keep, dv, cost):  # noqa: ANN001
    """Plan, constrain, then execute; returns execute's tuple plus the plan's (status, cost, benefit).
    The step the Python engine and the live service share with the walk (see `_rebalance`)."""
    n = p.shape[0]
    return _rebalance(plan, w_pre, target, units, cash, p, costs, t, quote, convention, w_new, keep, dv, cost,
                      np.empty(n, np.bool_), np.empty(n))


@njit(cache=True)
def _rebalance(plan, w_pre, target, units, cash, p, costs, t, quote, convention, w_new, keep, dv, cost,  # noqa: ANN001
               traded, hold):
    """`rebalance` with the solve's scratch arrays (``traded``, ``hold``) from the caller.

    Under exact accounting the band-edge planner plans in post-cost weights: the value kept by
    untouched assets is a larger share after costs, so the plan is redone at scale = V/V′ until V′
    stops moving (a contraction; two or three rounds). A plan the cost gate skipped trades nothing.
    """
    n = p.shape[0]
    V = cash
    forming = True
    for i in range(n):
        V += units[i] * p[i]
        forming = forming and units[i] == 0.0
    iterate = convention == CONV_EXACT and plan.kind == PLAN_BAND_EDGE and not forming
    scale = 1.0
    status, est, benefit = PLAN_EXECUTED, 0.0, 0.0
    for r in range(51):  # one call site for the planner and one for the solve: both are inlined
        s_r, e_r, b_r = _plan(plan, costs, t, V, w_pre, target, quote, scale, w_new, keep, forming)
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
    v_after, cash_after, n_here, cost_here, traded_value = _execute(
        units, cash, p, w_pre, w_new, keep, costs, t, quote, convention, dv, cost, traded, hold)
    return v_after, cash_after, n_here, cost_here, traded_value, status, est, benefit


@njit(cache=True)
def simulate(prices, targets, target_r, trig, plan, costs, quote, convention, capital, record):  # noqa: ANN001
    """Walk the path. Returns (equity[T], weights[T|1, N], acc[N_ACC], rebalance log, trade log).

    ``target_r`` is `target_returns(targets, prices)`, given so that a sweep computes it once per
    target path. ``trig`` is a TriggerProgram, ``plan`` a PlanSpec, ``costs`` a CostArrays:
    NamedTuples of arrays, so new fields reach the kernel without changing this signature.
    """
    # Borrowed views of the inputs: no reference counting below (see engine/intrinsics.py).
    prices = borrow(prices)
    targets = borrow(targets)
    target_r = borrow(target_r)
    trig = borrow_fields(trig)
    plan = borrow_fields(plan)
    costs = borrow_fields(costs)
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
    traded = np.empty(n, np.bool_)
    hold = np.empty(n)
    held = np.empty(n, np.int64)
    n_held = 0
    stack = np.zeros(max(trig.program.shape[0], 1), np.bool_)
    last_t = 0
    v_prev = capital
    inv_prev = 1.0 / capital if capital > 0.0 else 0.0
    # Per-close sums in registers, stored once at the end: read-modify-writes of ``acc`` at every
    # close chained each close to the previous one's store.
    drift_sum = drift_max = active_sum = active_sumsq = 0.0
    # The decision target is row ``row`` of ``decide``: the target path itself, or (with a value
    # floor) a one-row scratch array. Row indices instead of row views keep the per-close path free
    # of reference counting (see value_and_weights).
    floored = np.empty((1, n))
    decide = floored if has_floor else targets
    for t in range(T):
        V, inv_V = value_and_weights_held(units, cash, prices, t, w_pre, held, n_held)
        row = 0 if has_floor else t
        if has_floor:
            floor_target(plan, t, V, targets[t], floored[0])
        if t == 0:
            fire = True
            bits = np.int64(0)
        else:
            fire, bits = evaluate_program(trig, t, w_pre, decide, row, last_t, prices, stack)
            dmax = max_abs_drift(w_pre, decide, row)
            drift_sum += dmax
            drift_max = max(drift_max, dmax)
        v_after = V
        if fire and V > 0.0:
            if t > 0:
                acc[ACC_FIRED] += 1
            p = prices[t]
            v_after, cash, n_here, cost_here, traded_value, status, est, benefit = _rebalance(
                plan, w_pre, decide[row], units, cash, p, costs, t, quote, convention, w_new, keep, dv, cost,
                traded, hold)
            acc[ACC_COSTS] += cost_here
            n_held = held_assets(units, held)
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
        # 1/v_after, for the recorded weights and the next return: a close without trades reuses
        # its weights' 1/V (n divisions per close were most of a recorded walk's time).
        inv_after = inv_V if v_after == V else (1.0 / v_after if v_after > 0.0 else 0.0)
        if record:
            for i in range(n):
                weights[t, i] = units[i] * prices[t, i] * inv_after
        if t > 0:
            r_port = v_after * inv_prev - 1.0 if v_prev > 0.0 else 0.0
            a = r_port - target_r[t]
            active_sum += a
            active_sumsq += a * a
        v_prev = v_after
        inv_prev = inv_after
    acc[ACC_DRIFT_SUM] = drift_sum
    acc[ACC_DRIFT_MAX] = drift_max
    acc[ACC_ACTIVE_SUM] = active_sum
    acc[ACC_ACTIVE_SUMSQ] = active_sumsq
    return (equity, weights, acc,
            (reb_t[:n_reb], reb_bits[:n_reb], reb_trades[:n_reb], reb_cost[:n_reb], reb_value[:n_reb],
             reb_status[:n_reb], reb_est[:n_reb], reb_benefit[:n_reb]),
            (book[0][0, :n_tr].astype(np.int64), book[0][1, :n_tr].astype(np.int64), book[0][2, :n_tr].copy(),
             book[0][3, :n_tr].copy(), book[0][4, :n_tr].copy()))
