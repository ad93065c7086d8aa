"""A delta hedge's two steps at a close, compiled: settle the perp, then re-hedge if the band says.

`settle` runs before the close is valued: the mark-to-market over (t−1, t] and the period's
funding move between the perp's margin and the cash asset; a margin below ``margin_topup`` of
the initial margin is restored from the cash asset when it holds enough; then the
maintenance-margin rule may liquidate. `adjust` runs after the strategy's own rebalance: it reads the exposure's delta,
checks the band and the calendar, trades (to the band's edge, or to the target on a calendar)
and pays the trade's costs from the cash asset. Both write one row of the `HedgeBook`.

The margin is accounted for inside the cash asset's holding (it is the treasury's money), so
the portfolio's value is spot + cash, and the hedge's PnL, funding and costs reach it through
the cash asset.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ballast.costs.kernel import trade_cost_parts
from ballast.enums import (
    EXPOSURE_HOLDINGS,
    EXPOSURE_POSITION,
    HC_DELTA,
    HC_FEES,
    HC_FUNDING,
    HC_HALF_WIDTH,
    HC_LIQUIDATION,
    HC_MARGIN,
    HC_PNL,
    HC_REASON,
    HC_SIZE,
    HC_SLIPPAGE,
    HC_TARGET,
    HC_TRADE,
    HEDGE_BAND,
    HEDGE_CALENDAR,
    HEDGE_LIQUIDATED,
    HEDGE_OPEN,
    PERP_ENTRY,
    PERP_MARGIN,
    PERP_OPEN,
    PERP_SIZE,
)


@njit(cache=True)
def funding_received(size, price, rate):
    """What a position of signed ``size`` receives (+) or pays (−) for one funding ``rate`` at mark
    ``price``: positive rates are paid by longs to shorts (ccxt's fundingRate convention)."""
    return -size * price * rate


@njit(cache=True)
def band_edge(hedge, target, half_width):
    """The hedge after a band check: unchanged inside [target − h, target + h], else the nearer edge."""
    if hedge > target + half_width:
        return target + half_width
    if hedge < target - half_width:
        return target - half_width
    return hedge


@njit(cache=True)
def entry_after(size, entry, trade, price):
    """The average entry price after trading ``trade`` units at ``price`` from ``size`` held at
    ``entry``: adding keeps a size-weighted average, reducing keeps the entry, crossing zero opens
    the rest at ``price``."""
    new = size + trade
    if new == 0.0:
        return 0.0
    if size == 0.0 or size * trade > 0.0:
        return (size * entry + trade * price) / new
    return entry if new * size > 0.0 else price


@njit(cache=True)
def settle(units, prices, t, quote, hedge, state, rows):
    """Mark-to-market and funding of close ``t`` into the cash asset; liquidate below maintenance."""
    size = state[PERP_SIZE]
    if t == 0 or size == 0.0:
        return
    i = hedge.instrument
    p = prices[t, i]
    pnl = size * (p - prices[t - 1, i])
    received = funding_received(size, p, hedge.funding[t])
    flow = pnl + received
    pq = prices[t, quote]
    units[quote] += flow / pq
    margin = state[PERP_MARGIN] + flow
    rows[t, HC_PNL] = pnl
    rows[t, HC_FUNDING] = -received
    initial = abs(size) * p / hedge.leverage
    if hedge.margin_topup > 0.0 and margin < hedge.margin_topup * initial and units[quote] * pq >= initial:
        margin = initial  # restored from the cash asset, which holds the margin anyway: no value moves
    if margin < hedge.maintenance * abs(size) * p:
        penalty = min(hedge.liquidation_fee * abs(size) * p, max(margin, 0.0))
        units[quote] -= penalty / pq
        rows[t, HC_LIQUIDATION] = penalty
        rows[t, HC_REASON] = HEDGE_LIQUIDATED
        state[PERP_SIZE] = 0.0
        state[PERP_ENTRY] = 0.0
        state[PERP_OPEN] = 0.0
        margin = 0.0
    state[PERP_MARGIN] = margin


@njit(cache=True)
def band_half_width(hedge, t, target, p_instrument, p_exposure, g):
    """The band's half-width in instrument units at close ``t`` for exposure gamma ``g``
    (hedging/bands.py::half_width)."""
    hw = max(hedge.band_value / p_instrument, hedge.band_rel * abs(target))
    c = hedge.ww_cost
    if c > 0.0:
        ww = abs(hedge.ratio[t]) * np.cbrt(3.0 * c * g * g * p_exposure / (2.0 * hedge.ww_risk_aversion))
        hw = max(hw, ww)
    return hw


@njit(cache=True)
def adjust(units, prices, t, quote, hedge, state, rows, position_delta, position_gamma):
    """Re-hedge after close ``t``'s rebalance if the band or the calendar says; returns the cost paid.

    ``position_delta``/``position_gamma``: the liquidity position's (read by the caller from its book)."""
    i = hedge.instrument
    e = hedge.exposure
    p = prices[t, i]
    if hedge.source == EXPOSURE_HOLDINGS:
        delta, gamma = units[e], 0.0
    elif hedge.source == EXPOSURE_POSITION:
        delta, gamma = position_delta, position_gamma
    else:
        delta, gamma = hedge.delta[t], hedge.gamma[t]
    target = -hedge.ratio[t] * delta
    hw = band_half_width(hedge, t, target, p, prices[t, e], gamma)
    size = state[PERP_SIZE]
    # Strictly outside, beyond rounding: a hedge left at the band's edge stays there.
    off = abs(size - target) - hw > 1e-12 * max(abs(size), abs(target))
    cal = hedge.calendar[t]
    bits = 0
    new = size
    if state[PERP_OPEN] == 0.0:
        if target != 0.0:
            new = target
            bits = HEDGE_OPEN
    elif (off and cal) if hedge.combine_all else (off or cal):
        bits = (HEDGE_BAND if off else 0) | (HEDGE_CALENDAR if cal else 0)
        new = target if cal else band_edge(size, target, hw)
    trade = new - size
    cost = 0.0
    if trade != 0.0:
        value = trade * p
        var, fixed = trade_cost_parts(hedge.costs, i, t, value)
        fee = hedge.costs.prop[i] * abs(value) + fixed
        rows[t, HC_FEES] = fee
        rows[t, HC_SLIPPAGE] = var + fixed - fee
        cost = var + fixed
        units[quote] -= cost / prices[t, quote]
        state[PERP_ENTRY] = entry_after(size, state[PERP_ENTRY], trade, p)
        state[PERP_SIZE] = new
        state[PERP_MARGIN] = abs(new) * p / hedge.leverage
        state[PERP_OPEN] = 1.0 if new != 0.0 else 0.0
    rows[t, HC_SIZE] = new
    rows[t, HC_TARGET] = target
    rows[t, HC_HALF_WIDTH] = hw
    rows[t, HC_DELTA] = delta
    rows[t, HC_MARGIN] = state[PERP_MARGIN]
    rows[t, HC_TRADE] = trade
    if trade != 0.0:
        rows[t, HC_REASON] = int(rows[t, HC_REASON]) | bits
    return cost
