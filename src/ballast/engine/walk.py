"""The compiled path walk: value, decide, plan, trade with exact costs — one close at a time.

The accounting (engine/accounting.py) and the valuation (engine/valuation.py) are the walk's
two halves; this module strings them together with the trigger program and the planner, and
records what happened. Speed idioms are named in docs/kernel-performance.md.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from ballast.engine.accounting import execute_with_scratch, solve_exact
from ballast.engine.hedge import hedge_adjust, hedge_settle
from ballast.engine.intrinsics import borrow, borrow_fields
from ballast.engine.liquidity_kernel import liquidity_close
from ballast.engine.loans import loan_close, loan_inputs
from ballast.engine.records import Execution, RebalanceLog, StepResult, TradeLog, WalkResult
from ballast.engine.treasury import treasury_close, treasury_inputs
from ballast.engine.valuation import held_assets, max_abs_drift, value_and_weights_held
from ballast.enums import (
    ACC_ACTIVE_SUM,
    ACC_ACTIVE_SUMSQ,
    ACC_COSTS,
    ACC_DRIFT_MAX,
    ACC_DRIFT_SUM,
    ACC_FIRED,
    ACC_REBALANCES,
    ACC_TRADES,
    ACC_TURNOVER,
    CONV_EXACT,
    N_ACC,
    PLAN_BAND_EDGE,
    PLAN_EXECUTED,
    PLAN_FULL,
)
from ballast.planning.base import PlanVerdict
from ballast.planning.constraints_kernel import apply_constraints, floor_target
from ballast.planning.kernel import plan_weights
from ballast.triggers.kernel import evaluate_program

MAX_SCALE_ROUNDS = 50  # band-edge plans redone at the post-cost scale (two or three in practice)


@njit(cache=True)
def log_trades(book, n_tr, t, p, dv, cost):
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


def store_row(out, rows, t, row):
    """``out[rows[t]] = row`` when ``rows[t]`` ≥ 0; nothing at all when ``out`` is None (resolved
    by type: not compiled)."""
    if out is not None and rows[t] >= 0:
        out[rows[t]] = row


@overload(store_row, inline="always", jit_options={"cache": True})
def _store_row_typed(out, rows, t, row):
    if isinstance(out, (types.NoneType, types.Omitted)):
        return lambda out, rows, t, row: None

    def impl(out, rows, t, row):
        r = rows[t]
        if r >= 0:
            for i in range(row.shape[0]):
                out[r, i] = row[i]

    return impl


def either(given, default):
    """``given`` (borrowed), or ``default`` when it is None (resolved by type)."""
    return default if given is None else given


@overload(either, inline="always", jit_options={"cache": True})
def _either_typed(given, default):
    if isinstance(given, (types.NoneType, types.Omitted)):
        return lambda given, default: default
    return lambda given, default: borrow(given)


@njit(cache=True, inline="always")
def plan_constrained(plan, costs, t, V, w_pre, target, quote, scale, w_new, keep, forming):
    """The planner, then the state-dependent constraints (turnover cap, value floor).

    ``forming``: nothing is held yet, so every planner forms the portfolio at the target (a
    band-edge plan would stop at the band's edge and start the comparison with buy-and-hold from
    another point; docs/conventions.md). Returns the planner's PlanVerdict."""
    kind = plan.kind  # scalar fields first (docs/kernel-performance.md, "read tuple fields before branching")
    constrained = plan.max_turnover > 0.0 or plan.floor_asset >= 0
    if kind == PLAN_FULL or forming:
        # The common case without calls: each call passes ~15 arrays, and numba counts a
        # reference to every one of them on the way in and out (most of a rebalance's time).
        for i in range(keep.shape[0]):
            w_new[i] = target[i]
            keep[i] = False
        if not constrained:
            return PlanVerdict(PLAN_EXECUTED, 0.0, 0.0)
        verdict = PlanVerdict(PLAN_EXECUTED, 0.0, 0.0)
    else:
        verdict = plan_weights(plan, w_pre, target, scale, w_new, keep, costs, t, V, quote)
    if verdict.status == PLAN_EXECUTED and constrained and apply_constraints(plan, costs, t, V, w_pre, w_new, quote):
        for i in range(keep.shape[0]):  # constrained weights move every asset: none is untouched
            keep[i] = False
    return verdict


@njit(cache=True)
def rebalance(plan, w_pre, target, units, cash, p, costs, t, quote, convention, w_new, keep, dv, cost):
    """Plan, constrain, then execute; returns a StepResult. The step the Python engine and the
    live service share with the walk (see `rebalance_with_scratch`)."""
    n = p.shape[0]
    return rebalance_with_scratch(
        plan,
        w_pre,
        target,
        units,
        cash,
        p,
        costs,
        t,
        quote,
        convention,
        w_new,
        keep,
        dv,
        cost,
        np.empty(n, np.bool_),
        np.empty(n),
    )


@njit(cache=True)
def rebalance_with_scratch(
    plan, w_pre, target, units, cash, p, costs, t, quote, convention, w_new, keep, dv, cost, traded, hold
):
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
    verdict = PlanVerdict(PLAN_EXECUTED, 0.0, 0.0)
    for r in range(MAX_SCALE_ROUNDS + 1):  # one call site for the planner and one for the solve: both inlined
        round_verdict = plan_constrained(plan, costs, t, V, w_pre, target, quote, scale, w_new, keep, forming)
        if r == 0:
            verdict = round_verdict
            if verdict.status != PLAN_EXECUTED:
                for i in range(n):
                    dv[i] = 0.0
                    cost[i] = 0.0
                return StepResult(verdict, Execution(V, cash, 0, 0.0, 0.0))
        if not iterate or r == MAX_SCALE_ROUNDS:
            break
        v_new = solve_exact(units, cash, p, w_pre, w_new, keep, costs, t, quote, traded, hold)
        if v_new <= 0.0:
            break
        nxt = V / v_new
        if nxt == scale:
            break
        scale = nxt
    done = execute_with_scratch(units, cash, p, w_pre, w_new, keep, costs, t, quote, convention, dv, cost, traded, hold)
    return StepResult(verdict, done)


@njit(cache=True, nogil=True)  # sweeps run configurations one by one in threads
def simulate(
    prices,
    targets,
    target_r,
    trig,
    plan,
    costs,
    quote,
    convention,
    capital,
    record,
    yields=None,
    flows=None,
    treasury=None,
    loans=None,
    loan_book=None,
    hedge=None,
    hedge_book=None,
    liquidity=None,
    lp_book=None,
    pre_out=None,
    pre_rows=None,
    trigger_prices=None,
):
    """Walk the path; returns a WalkResult (logs and weights only when ``record``).

    ``target_r`` is `target_returns(targets, prices)`, given so that a sweep computes it once per
    target path. ``trig`` is a TriggerProgram, ``plan`` a PlanSpec, ``costs`` a CostArrays:
    NamedTuples of arrays, so new fields reach the kernel without changing this signature.
    ``yields`` (YieldArrays), ``flows`` (FlowSchedule) and ``treasury`` (TreasuryBook, written here):
    accrual and flows before each close's valuation (engine/treasury.py); omitted, none of it
    is compiled. ``loans`` (LoanArrays) and ``loan_book`` (LoanBook, written here): accrual,
    liquidations and the health band after them (engine/loans.py). ``hedge`` (HedgeArrays) and
    ``hedge_book`` (HedgeBook, written here): a delta hedge settled before each close's valuation
    and re-hedged after its rebalance (engine/hedge.py).
    ``liquidity`` (LiquidityArrays) and ``lp_book`` (LiquidityBook, written here): a
    concentrated-liquidity position moved, paid and reset before the valuation (engine/liquidity_kernel.py);
    omitted, none of it is compiled. ``pre_out`` (K × N, optional): row ``pre_rows[t]`` gets the
    pre-trade weights of close t (when ≥ 0), which a report cannot rebuild from the post-trade
    weights alone once flows, loans, hedges or positions move units between closes (engine/treasury.py,
    `pre_record`). ``trigger_prices`` (T × N, optional): the market's prices for the triggers when
    ``prices`` are a `ScaledWalk`'s (engine/treasury.py); omitted, the triggers read ``prices``.
    """
    # Borrowed views of the inputs (docs/kernel-performance.md, "borrowed views").
    prices = borrow(prices)
    trig_prices = either(trigger_prices, prices)
    targets = borrow(targets)
    target_r = borrow(target_r)
    trig = borrow_fields(trig)
    plan = borrow_fields(plan)
    costs = borrow_fields(costs)
    t_yields, t_flows, t_book = treasury_inputs(yields, flows, treasury)
    l_loans, l_book = loan_inputs(loans, loan_book)
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
    # of reference counting (see value_and_weights_held).
    floored = np.empty((1, n))
    decide = floored if has_floor else targets
    for t in range(T):
        cash, n_held = treasury_close(
            units, cash, prices, t, targets, costs, quote, t_yields, t_flows, t_book, held, n_held
        )
        n_held = loan_close(units, prices, t, costs, l_loans, l_book, held, n_held)
        n_held = liquidity_close(units, cash, prices, t, costs, liquidity, lp_book, held, n_held)
        n_held = hedge_settle(units, prices, t, quote, hedge, hedge_book, held, n_held)
        V, inv_V = value_and_weights_held(units, cash, prices, t, w_pre, held, n_held)
        store_row(pre_out, pre_rows, t, w_pre)
        row = 0 if has_floor else t
        if has_floor:
            floor_target(plan, t, V, targets[t], floored[0])
        if t == 0:
            fire = True
            bits = np.int64(0)
        else:
            fire, bits = evaluate_program(trig, t, w_pre, decide, row, last_t, trig_prices, stack)
            dmax = max_abs_drift(w_pre, decide, row)
            drift_sum += dmax
            drift_max = max(drift_max, dmax)
        v_after = V
        if fire and V > 0.0:
            if t > 0:
                acc[ACC_FIRED] += 1
            p = prices[t]
            step = rebalance_with_scratch(
                plan,
                w_pre,
                decide[row],
                units,
                cash,
                p,
                costs,
                t,
                quote,
                convention,
                w_new,
                keep,
                dv,
                cost,
                traded,
                hold,
            )
            done = step.execution
            v_after = done.value
            cash = done.cash
            acc[ACC_COSTS] += done.cost
            n_held = held_assets(units, held)
            if t > 0 and done.n_trades > 0:
                acc[ACC_REBALANCES] += 1
                acc[ACC_TRADES] += done.n_trades
                acc[ACC_TURNOVER] += 0.5 * done.traded_value / V
                last_t = t
            if record:
                n_tr = log_trades(book, n_tr, t, p, dv, cost)
                reb_t[n_reb] = t
                reb_bits[n_reb] = bits
                reb_trades[n_reb] = done.n_trades
                reb_cost[n_reb] = done.cost
                reb_value[n_reb] = done.traded_value
                reb_status[n_reb] = step.verdict.status
                reb_est[n_reb] = step.verdict.est_cost
                reb_benefit[n_reb] = step.verdict.benefit
                n_reb += 1
        v_after, n_held = hedge_adjust(units, prices, t, quote, hedge, hedge_book, held, n_held, v_after, lp_book)
        equity[t] = v_after
        # 1/v_after, for the recorded weights and the next return: a close without trades reuses
        # its weights' 1/V (n divisions per close were most of a recorded walk's time).
        inv_after = inv_V if v_after == V else (1.0 / v_after if v_after > 0.0 else 0.0)
        if record:
            for i in range(n):
                weights[t, i] = units[i] * prices[t, i] * inv_after
        if t > 0:
            r_port = v_after * inv_prev - 1.0 if v_prev > 0.0 else 0.0
            active = r_port - target_r[t]
            active_sum += active
            active_sumsq += active * active
        v_prev = v_after
        inv_prev = inv_after
    acc[ACC_DRIFT_SUM] = drift_sum
    acc[ACC_DRIFT_MAX] = drift_max
    acc[ACC_ACTIVE_SUM] = active_sum
    acc[ACC_ACTIVE_SUMSQ] = active_sumsq
    buf = book[0]
    return WalkResult(
        equity,
        weights,
        acc,
        RebalanceLog(
            reb_t[:n_reb],
            reb_bits[:n_reb],
            reb_trades[:n_reb],
            reb_cost[:n_reb],
            reb_value[:n_reb],
            reb_status[:n_reb],
            reb_est[:n_reb],
            reb_benefit[:n_reb],
        ),
        TradeLog(
            buf[0, :n_tr].astype(np.int64),
            buf[1, :n_tr].astype(np.int64),
            buf[2, :n_tr].copy(),
            buf[3, :n_tr].copy(),
            buf[4, :n_tr].copy(),
        ),
    )
