"""Applying the flows of one close, compiled: shared by the walk, the Python engine and replay.

Each asset's flow of the close is applied in asset order, at the close's prices, after the
accrual and before the decision. A withdrawal that the routed holdings cannot pay is paid as far
as they go; the rest is returned as a shortfall — holdings never go negative because of a flow.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import overload

from ballast.costs.kernel import trade_cost
from ballast.enums import FLOW_COST, FLOW_PAID, FLOW_SHORTFALL, ROUTE_CASH, ROUTE_PRO_RATA

MAX_ITER = 100
ROUNDING = 1e-12  # a residue this small a fraction of the portfolio is rounding, not a shortfall


@njit(cache=True, inline="always")  # called n times per fixed-point step: a call cost more than it
def _leg_cost(costs, t, a, quote, i, dv):
    """A flow's trade of value ``dv`` in asset ``i``: the flow's asset ``a`` and the quote asset are
    the free legs."""
    if i == a or i == quote or dv == 0.0:
        return 0.0
    return trade_cost(costs, i, t, dv)


@njit(cache=True)
def _liquidate(units, cash, p, t, a, quote, costs):
    """Sell everything to pay a flow that exceeds the portfolio; returns (value raised, costs)."""
    raised = cash
    c = 0.0
    for i in range(units.shape[0]):
        x = units[i] * p[i]
        if x > 0.0:
            ci = _leg_cost(costs, t, a, quote, i, -x)
            c += ci
            raised += x - ci
            units[i] = 0.0
    return raised, c


@njit(cache=True)
def _fill_level(d, g, s):
    """λ ≥ 0 with Σ max(dᵢ − λ, 0) = g (water-filling from the largest dᵢ down); g ≥ 0.
    ``s``: scratch of d's size (sorted in place, so a fixed-point step allocates nothing)."""
    n = s.shape[0]
    for i in range(n):
        s[i] = d[i]
    s.sort()
    acc = 0.0
    for k in range(n):  # from the largest down
        acc += s[n - 1 - k]
        lam = (acc - g) / (k + 1)
        if k + 1 == n or lam >= s[n - 2 - k]:
            return max(lam, 0.0)
    return 0.0


@njit(cache=True)
def _rebalancing_legs(units, p, target, v_assets, net, sign, delta, d, s):
    """Cash-flow rebalancing legs: with post-flow asset value X' = X + net, a deposit (sign +1)
    buys max(τᵢX' − xᵢ − λ, 0), a withdrawal (sign −1) sells max(xᵢ − τᵢX' − λ, 0): the most
    underweight (overweight) first, never past the target. ``d``, ``s``: scratch of n."""
    n = units.shape[0]
    x_new = v_assets + net
    for i in range(n):
        d[i] = sign * (target[i] * x_new - units[i] * p[i])
    lam = _fill_level(d, abs(net), s)
    for i in range(n):
        delta[i] = sign * max(d[i] - lam, 0.0)


@njit(cache=True, inline="always")
def _assets_value(units, p):
    v_assets = 0.0
    for i in range(units.shape[0]):
        v_assets += units[i] * p[i]
    return v_assets


@njit(cache=True, inline="always")
def _pay_in_place(units, cash, p, a, flow, v_assets):
    """A flow paid into or out of its own asset (cash routing), or, with nothing held yet
    (``v_assets`` 0), met by the cash. Returns what `_apply_one` does."""
    if v_assets == 0.0:
        if flow >= 0.0 or cash + flow >= 0.0:
            return cash + flow, flow, 0.0, 0.0
        return 0.0, -cash, 0.0, -(cash + flow)
    if flow >= 0.0:
        units[a] += flow / p[a]
        return cash, flow, 0.0, 0.0
    have = max(units[a], 0.0) * p[a]
    if have >= -flow:
        units[a] += flow / p[a]
        return cash, flow, 0.0, 0.0
    units[a] = min(units[a], 0.0)
    return cash, -have, 0.0, -flow - have


@njit(cache=True)
def _apply_one(units, cash, p, t, a, flow, routing, target, costs, quote, delta):
    """One flow of value ``flow`` (signed) through asset ``a``. Returns (cash, value actually
    paid in (+) or out (−), costs, shortfall ≥ 0)."""
    n = units.shape[0]
    v_assets = _assets_value(units, p)
    V = cash + v_assets
    if routing == ROUTE_CASH or v_assets == 0.0:
        return _pay_in_place(units, cash, p, a, flow, v_assets)
    # Pro rata or rebalancing: solve V' = V + flow − C(V') by fixed-point steps (the costs of
    # legs sized by V'); exact in one step without costs.
    v_new = V + flow
    c = 0.0
    d = np.empty(n) if routing != ROUTE_PRO_RATA else delta
    s = np.empty(n) if routing != ROUTE_PRO_RATA else delta
    for k in range(MAX_ITER):
        if v_new <= 0.0:
            break
        if routing == ROUTE_PRO_RATA:
            for i in range(n):
                delta[i] = units[i] * p[i] * (v_new / V - 1.0)
        else:
            net = v_new - V
            _rebalancing_legs(units, p, target, v_assets, net, 1.0 if net > 0.0 else -1.0, delta, d, s)
        c = 0.0
        for i in range(n):
            c += _leg_cost(costs, t, a, quote, i, delta[i] if i != a else 0.0)
        nxt = V + flow - c
        if abs(nxt - v_new) <= 1e-15 * abs(V) or k == MAX_ITER - 1:
            break  # ``delta`` and ``c`` are the legs sized for ``v_new``
        v_new = nxt
    if v_new <= 0.0 or V + flow - c <= 0.0:  # the flow takes more than everything: pay what a liquidation raises
        raised, c = _liquidate(units, cash, p, t, a, quote, costs)
        return 0.0, -raised, c, -flow - raised
    if flow > 0.0 and c >= flow:  # routing would cost more than the deposit: keep it where it landed
        units[a] += flow / p[a]
        return cash, flow, 0.0, 0.0
    if routing == ROUTE_PRO_RATA:
        cash = cash * (v_new / V)
    # The flow's own asset settles the books: it ends with exactly what the flow and the legs'
    # costs leave (the legs' last sizing may differ from V + flow − C by a step of a fixed cost).
    delta[a] += V + flow - c - v_new
    for i in range(n):
        if delta[i] != 0.0 and i != a:
            u = units[i] + delta[i] / p[i]
            units[i] = 0.0 if (u < 0.0 and units[i] >= 0.0) else u  # a sale never overshoots
    held = units[a]
    units[a] = held + delta[a] / p[a]
    if units[a] < 0.0 and held >= 0.0:  # the medium cannot cover the rest: that part is not paid
        unpaid = -units[a] * p[a]
        units[a] = 0.0
        if unpaid > ROUNDING * V:
            return cash, flow + unpaid, c, unpaid
    return cash, flow, c, 0.0


@njit(cache=True)
def _apply_flows(units, cash, prices, t, flows, targets, costs, quote, paid, row, delta, closes):
    """Apply close ``t``'s flows (in asset order) at ``prices[t]``, routed towards ``targets[t]``;
    ``paid[row, i]`` accumulates the value paid in asset i, ``closes[t]`` gets the close's totals
    (FLOW_* columns). Returns the cash."""
    n = units.shape[0]
    p = prices[t]
    V = cash
    for i in range(n):
        V += units[i] * p[i]
    net = cost = short = 0.0
    for a in range(n):
        f = flows.units[t, a] * p[a] + flows.nav[t, a] * V
        if f == 0.0:
            continue
        if flows.routing == ROUTE_CASH:  # the common case, without `_apply_one`'s call (~0.1 µs)
            cash, done, c, s = _pay_in_place(units, cash, p, a, f, _assets_value(units, p))
        else:
            cash, done, c, s = _apply_one(units, cash, p, t, a, f, flows.routing, targets[t], costs, quote, delta)
        paid[row, a] += done
        net += done
        cost += c
        short += s
    closes[t, FLOW_PAID] = net
    closes[t, FLOW_SHORTFALL] = short
    closes[t, FLOW_COST] = cost
    return cash


def apply_flows(units, cash, prices, t, flows, targets, costs, quote, paid, row, delta, closes):
    """`_apply_flows` at the closes with a flow; nothing for a strategy without flows (1-D empty
    ``units``). Returns the cash."""
    if flows.units.ndim == 1 or flows.active[t] == 0:
        return cash
    return _apply_flows(units, cash, prices, t, flows, targets, costs, quote, paid, row, delta, closes)


@overload(apply_flows, inline="always", jit_options={"cache": True})
def _apply_flows_typed(units, cash, prices, t, flows, targets, costs, quote, paid, row, delta, closes):
    if flows.types[0].ndim == 1:  # FlowSchedule.units
        return lambda units, cash, prices, t, flows, targets, costs, quote, paid, row, delta, closes: cash
    # Most closes have no flow: test that inline, and call out of line only when there is one.
    return lambda units, cash, prices, t, flows, targets, costs, quote, paid, row, delta, closes: (
        cash
        if flows.active[t] == 0
        else _apply_flows(units, cash, prices, t, flows, targets, costs, quote, paid, row, delta, closes)
    )


def flows_due(flows, t):
    """Whether close ``t`` has a scheduled flow (never, for a strategy without flows)."""
    return flows.units.ndim > 1 and flows.active[t] != 0


@overload(flows_due, inline="always", jit_options={"cache": True})
def _flows_due_typed(flows, t):
    if flows.types[0].ndim == 1:  # FlowSchedule.units
        return lambda flows, t: False
    return lambda flows, t: flows.active[t] != 0
