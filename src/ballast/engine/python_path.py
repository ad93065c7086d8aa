"""The pure-Python engine: same walk, any user-defined target, trigger or planner.

It calls the objects' one-step interfaces (``Target.at``, ``Trigger.fires``, ``Planner.plan``)
and the same compiled ``execute`` for the accounting, so on built-in pieces it must agree with
the kernel to the last bit of the accounting (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ballast.costs.base import CostArrays
from ballast.engine.accounting import execute
from ballast.engine.hedge import hedge_adjust, hedge_settle, new_hedge_book
from ballast.engine.liquidity_kernel import liquidity_close
from ballast.engine.liquidity_kernel import new_book as lp_book
from ballast.engine.loans import add_loan_costs, loan_close, start_loans
from ballast.engine.prepared import Prepared
from ballast.engine.records import Execution, RebalanceLog, TradeLog
from ballast.engine.result import RawRun
from ballast.engine.treasury import flow_closes, new_book, pre_record, treasury_close
from ballast.engine.treasury_metrics import run_metrics
from ballast.engine.valuation import target_return, value_and_weights
from ballast.engine.walk import rebalance
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
    CONVENTION_CODES,
    N_ACC,
    PLAN_EXECUTED,
)
from ballast.flows import no_flows
from ballast.planning.base import PlanOutcome, PlanSpec, plan_step
from ballast.planning.constraints_kernel import apply_constraints, floor_target
from ballast.planning.full import Full
from ballast.state import TriggerState
from ballast.targets.constraints import with_constraints
from ballast.yields import no_yields


class PlannedStep(NamedTuple):
    """One rebalance stepped from Python: what was executed and the plan behind it."""

    execution: Execution
    outcome: PlanOutcome


def plan_and_execute(
    planner: object,
    spec: PlanSpec,
    builtin: bool,
    state: TriggerState,
    units: np.ndarray,
    cash: float,
    price: np.ndarray,
    costs: CostArrays,
    t: int,
    quote: int,
    convention: int,
    dv: np.ndarray,
    cost: np.ndarray,
) -> PlannedStep:
    """One rebalance: a built-in planner (``builtin``: ``spec`` is its encoding) goes through the
    kernel's own ``rebalance``; a user-defined one plans in Python (``plan_costed``), gets the
    target's constraints carried by ``spec`` and the same accounting. Mutates ``units``.

    The pure-Python engine and the live service both step through here.
    """
    n = len(units)
    keep = np.zeros(n, np.bool_)
    if builtin:
        w_new = np.empty(n)
        step = rebalance(
            spec, state.weights, state.target, units, cash, price, costs, t, quote, convention, w_new, keep, dv, cost
        )
        v = step.verdict
        return PlannedStep(step.execution, PlanOutcome(w_new, int(v.status), float(v.est_cost), float(v.benefit)))
    V = float(units @ price) + cash
    if not units.any():  # formation goes to the target, whatever the planner (as the kernel's _plan)
        outcome = PlanOutcome(np.asarray(state.target, dtype=np.float64), PLAN_EXECUTED, 0.0, 0.0)
    else:
        outcome = plan_step(planner, state, V, costs)
    if outcome.status != PLAN_EXECUTED:
        dv[:] = 0.0
        cost[:] = 0.0
        return PlannedStep(Execution(V, cash, 0, 0.0, 0.0), outcome)
    w_new = np.array(outcome.weights, dtype=np.float64)
    apply_constraints(spec, costs, t, V, state.weights, w_new, quote)
    done = execute(units, cash, price, state.weights, w_new, keep, costs, t, quote, convention, dv, cost)
    return PlannedStep(done, outcome._replace(weights=w_new))


def constraint_spec(p: Prepared) -> PlanSpec:
    """The plan encoding, or for a user-defined planner a carrier of the target's constraints."""
    m = p.market
    return p.plan if p.plan is not None else with_constraints(Full().encode(m.assets), p.strategy.target, m)


def simulate_python(p: Prepared) -> RawRun:
    """The walk of engine/walk.py in Python, through the strategy's own objects."""
    s, m = p.strategy, p.market
    spec = constraint_spec(p)
    prices = m.prices
    T, n = prices.shape
    units = np.zeros(n)
    cash = float(s.capital)
    equity = np.empty(T)
    weights = np.zeros((T, n))
    targets = np.empty((T, n))
    acc = np.zeros(N_ACC)
    reb: list[tuple[int, int, int, float, float, int, float, float]] = []
    reasons: list[str] = []
    trades: list[tuple[int, int, float, float, float]] = []
    dv = np.empty(n)
    cost = np.empty(n)
    last_t = 0
    v_prev = cash
    book = new_book(T, n, True, flow_closes(p)) if p.treasury else None
    yields, flows, held = p.yields or no_yields(), p.flows or no_flows(), np.empty(n, np.int64)
    valued = prices  # what units are valued and traded at: the market's, or a ScaledWalk's (as the walk)
    if p.scaled is not None:
        valued, yields, flows = p.scaled.prices, no_yields(), p.scaled.flows or no_flows()
    loans, lbook = start_loans(p, True)
    hbook = new_hedge_book(T) if p.hedge is not None else None
    lp = lp_book(T) if p.liquidity is not None else None
    rows, pre = pre_record(p, True)  # units move between closes: keep what decisions saw
    for t in range(T):
        price = prices[t]
        w_pre = np.empty(n)
        target = np.asarray(s.target.at(m, t), dtype=np.float64)
        targets[t] = target
        cash, _ = treasury_close(units, cash, valued, t, targets, p.costs, p.quote, yields, flows, book, held, 0)
        loan_close(units, prices, t, p.costs, loans, lbook, held, 0)
        liquidity_close(units, cash, prices, t, p.costs, p.liquidity, lp, held, 0)
        hedge_settle(units, prices, t, p.quote, p.hedge, hbook, held, 0)
        V = value_and_weights(units, cash, valued, t, w_pre)
        if pre is not None and rows is not None and rows[t] >= 0:
            pre[rows[t]] = w_pre
        state = TriggerState(m, t, w_pre, floor_target(spec, t, V, target, np.empty(n)), last_t)
        if t == 0:
            reason: str | None = "initial: form the portfolio"
        else:
            reason = s.trigger.fires(state)
            dmax = float(np.max(np.abs(w_pre - state.target)))
            acc[ACC_DRIFT_SUM] += dmax
            acc[ACC_DRIFT_MAX] = max(acc[ACC_DRIFT_MAX], dmax)
        v_after = V
        if reason is not None and V > 0:
            if t > 0:
                acc[ACC_FIRED] += 1
            done, outcome = plan_and_execute(
                s.planner,
                spec,
                p.plan is not None,
                state,
                units,
                cash,
                valued[t],
                p.costs,
                t,
                p.quote,
                CONVENTION_CODES[s.convention],
                dv,
                cost,
            )
            v_after, cash = done.value, done.cash
            acc[ACC_COSTS] += done.cost
            if t > 0 and done.n_trades > 0:
                acc[ACC_REBALANCES] += 1
                acc[ACC_TRADES] += done.n_trades
                acc[ACC_TURNOVER] += 0.5 * done.traded_value / V
                last_t = t
            trades.extend((t, i, dv[i] / price[i], dv[i], cost[i]) for i in range(n) if dv[i] != 0.0)
            reb.append(
                (t, 0, done.n_trades, done.cost, done.traded_value, outcome.status, outcome.cost, outcome.benefit)
            )
            reasons.append(reason)
        v_after, _ = hedge_adjust(units, prices, t, p.quote, p.hedge, hbook, held, 0, v_after, lp)
        equity[t] = v_after
        value_and_weights(units, cash, valued, t, weights[t])
        if t > 0:
            r_port = v_after * (1.0 / v_prev) - 1.0 if v_prev > 0 else 0.0  # as the kernel: one division per close
            a = r_port - target_return(targets[t - 1], price, prices[t - 1])
            acc[ACC_ACTIVE_SUM] += a
            acc[ACC_ACTIVE_SUMSQ] += a * a
        v_prev = v_after
    add_loan_costs(acc, lbook)
    metrics = run_metrics(p, equity, acc, book)

    def cols(rows: Sequence[tuple[float, ...]], dtypes: tuple[type, ...]) -> tuple[np.ndarray, ...]:
        return tuple(np.array([r[k] for r in rows], dtype=dt) for k, dt in enumerate(dtypes))

    return RawRun(
        equity,
        weights,
        acc,
        metrics,
        RebalanceLog(
            *cols(reb, (np.int64, np.int64, np.int64, np.float64, np.float64, np.int64, np.float64, np.float64))
        ),
        TradeLog(*cols(trades, (np.int64, np.int64, np.float64, np.float64, np.float64))),
        reasons,
        book,
        lbook,
        hbook,
        lp,
        pre,
        rows,
    )
