"""A concentrated-liquidity position at each close, for the walk and the Python engine.

The position's tokens are part of the portfolio's ``units``, so weights, drift and bands see its
real exposure. At each close the step first settles what the previous close left (the first
deposit, made at the close the portfolio was formed; or a pro-rata withdrawal when a rebalance
sold more of a token than was free), then moves the position along the pool's curve to this
close's price (the units of token0 and token1 change as traders swap against it), credits the
bar's fees in token1 while the price is in range, and resets the range when the rule says so:
withdraw, pay gas, and re-deposit ``share`` of the portfolio (at most the pair's tokens) on the
policy's new range, swapping the missing token through the strategy's pool cost models (or, for a
Charm-style policy, parking the surplus in a one-sided limit range instead of swapping).
What happened is written into a `LiquidityBook`: per close the position's value, the value of
holding the tokens of its last deposit instead, fees, the range, resets and their costs, LVR.

A strategy without a position passes nothing: `liquidity_close` is then the identity, resolved
by type, so the walk compiles none of this (as engine/treasury.py does for yields and flows).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numba import njit, types
from numba.extending import overload

from ballast.costs.kernel import trade_cost
from ballast.engine.valuation import held_assets
from ballast.positions import resets as rules
from ballast.positions import uniswap_v3 as v3
from ballast.positions.provision import (
    FEES_VOLUME,
    P_FEE,
    P_FEE_MODE,
    P_GAS,
    P_LIMIT_TICKS,
    P_PER_DAY,
    P_SHARE,
    P_SPACING,
    LiquidityArrays,
)

# One source for the math: positions/ (register_jitable, compiled into this module's functions).
amounts = v3.amounts
liquidity_for_amounts = v3.liquidity_for_amounts
decide = rules.decide
LOG_TICK = v3.LOG_TICK_BASE
MIN_TICK, MAX_TICK = v3.MIN_TICK, v3.MAX_TICK
RESET_MASK = rules.FIRED_OUT_OF_RANGE | rules.FIRED_TICK_MOVE | rules.FIRED_ELAPSED
VETO_MASK = rules.VETO_COOLDOWN | rules.VETO_TWAP | rules.VETO_GAS

# LiquidityBook.state: base range (L, log lower, log upper), limit range (same), the position's
# token amounts at the last close, the last reset, whether deposited, the tokens of holding instead.
S_L, S_LO, S_HI, S_LL, S_LLO, S_LHI, S_X, S_Y, S_LAST, S_ON, S_HOLD0, S_HOLD1 = range(12)
N_STATE = 12
# LiquidityBook.closes columns
(C_VALUE, C_HOLD, C_FEES, C_IN_RANGE, C_LOWER, C_UPPER, C_BITS, C_RESET, C_COST, C_GAS, C_LVR, C_IL, C_X, C_Y) = range(
    14
)
C_UNITS0, C_UNITS1 = 14, 15  # the portfolio's units of token0 and token1 after the step: what the decision sees
N_COLUMNS = 16
COLUMN_NAMES = (
    "value",
    "hold_value",
    "fees",
    "in_range",
    "lower",
    "upper",
    "reason_bits",
    "reset",
    "swap_cost",
    "gas",
    "lvr",
    "impermanent_loss",
    "token0",
    "token1",
    "units0",
    "units1",
)


class LiquidityBook(NamedTuple):
    """What the position did (written by the step)."""

    state: np.ndarray  # float64[N_STATE]
    closes: np.ndarray  # float64[T, N_COLUMNS]


def new_book(n_periods: int) -> LiquidityBook:
    return LiquidityBook(np.zeros(N_STATE), np.zeros((n_periods, N_COLUMNS)))


@njit(cache=True)
def _snapped(log_lo, log_hi, spacing):
    """Ticks of a range widened outward to the spacing, inside the usable ticks, as log prices."""
    lo_tick = math.floor(log_lo / LOG_TICK)
    hi_tick = math.ceil(log_hi / LOG_TICK)
    lo_tick = max((lo_tick // spacing) * spacing, -((-MIN_TICK) // spacing) * spacing)
    hi_tick = min(-((-hi_tick) // spacing) * spacing, (MAX_TICK // spacing) * spacing)
    if hi_tick <= lo_tick:
        hi_tick = lo_tick + spacing
    return lo_tick * LOG_TICK, hi_tick * LOG_TICK


@njit(cache=True)
def _position_amounts(st, P):
    x, y = amounts(st[S_L], P, math.exp(st[S_LO]), math.exp(st[S_HI]))
    if st[S_LL] > 0.0:
        lx, ly = amounts(st[S_LL], P, math.exp(st[S_LLO]), math.exp(st[S_LHI]))
        x += lx
        y += ly
    return x, y


@njit(cache=True)
def _fee(lp, t, L, P, p1):
    """Fees (currency) that liquidity L, in range, earns over bar t."""
    if lp.params[P_FEE_MODE] == FEES_VOLUME:
        return lp.flow[t] * lp.params[P_FEE] * L / (lp.pool[t] + L)
    return lp.flow[t] * lp.years[t] * 2.0 * L * math.sqrt(P) * p1


@njit(cache=True)
def _active(log_p, lo, hi):
    return log_p >= lo and log_p < hi


@njit(cache=True)
def _pay_gas(units, i0, i1, p0, p1, gas):
    """Gas out of token1, the rest out of token0."""
    g1 = min(gas / p1, max(units[i1], 0.0))
    units[i1] -= g1
    units[i0] -= (gas - g1 * p1) / p0


@njit(cache=True)
def _swap_reset(st, units, i0, i1, p0, p1, P, lo, hi, costs, t, budget):
    """Re-deposit ``budget`` (currency, gas paid) of the pair's tokens on [lo, hi], swapping the
    shortfall of one token through the pool cost models; returns the swap's cost.

    The value deposited is W = budget − cost(swap that W needs): a contraction, solved by iteration.
    """
    u0, u1 = amounts(1.0, P, math.exp(lo), math.exp(hi))
    unit = u0 * p0 + u1 * p1
    w = budget
    c = 0.0
    d = 0.0
    for _ in range(50):
        L = max(w, 0.0) / unit
        d = 0.0
        if L * u0 > units[i0]:  # buy token0 with token1
            d = (L * u0 - units[i0]) * p0
        elif L * u1 > units[i1]:  # sell token0 for token1
            d = -(L * u1 - units[i1]) * p1
        c = trade_cost(costs, i0, t, d) if d != 0.0 else 0.0
        nxt = budget - c
        done = abs(nxt - w) <= 1e-13 * budget
        w = nxt
        if done:
            break
    units[i0] += d / p0
    units[i1] -= (d + c) / p1
    # never more than the tokens held (the last iteration's rounding)
    L = min(
        max(w, 0.0) / unit,
        liquidity_for_amounts(max(units[i0], 0.0), max(units[i1], 0.0), P, math.exp(lo), math.exp(hi)),
    )
    st[S_L], st[S_LO], st[S_HI], st[S_LL] = L, lo, hi, 0.0
    st[S_X], st[S_Y] = L * u0, L * u1
    return c


@njit(cache=True)
def _charm_reset(st, units, i0, i1, P, lo, hi, limit_ticks, spacing, take):
    """Charm's rebalance: a base range with as much of both tokens as they allow, the surplus in a
    one-sided limit range next to the price; no swap. ``take``: the share of the pair's tokens used."""
    x, y = take * max(units[i0], 0.0), take * max(units[i1], 0.0)
    Lb = liquidity_for_amounts(x, y, P, math.exp(lo), math.exp(hi))
    bx, by = amounts(Lb, P, math.exp(lo), math.exp(hi))
    sx, sy = max(x - bx, 0.0), max(y - by, 0.0)
    tick = math.floor(math.log(P) / LOG_TICK)
    width = max(limit_ticks, spacing)
    if sx * P >= sy:  # surplus token0: a range just above the price holds only token0
        a = -((-(tick + 1)) // spacing) * spacing
        llo, lhi = a * LOG_TICK, (a + width) * LOG_TICK
        lx, _ = amounts(1.0, P, math.exp(llo), math.exp(lhi))
        Ll = sx / lx
    else:  # surplus token1: a range just below holds only token1
        b = (tick // spacing) * spacing
        llo, lhi = (b - width) * LOG_TICK, b * LOG_TICK
        _, ly = amounts(1.0, P, math.exp(llo), math.exp(lhi))
        Ll = sy / ly
    st[S_L], st[S_LO], st[S_HI] = Lb, lo, hi
    st[S_LL], st[S_LLO], st[S_LHI] = Ll, llo, lhi
    st[S_X], st[S_Y] = _position_amounts(st, P)


@njit(cache=True)
def _reset(st, units, cash, prices, t, costs, lp, row):
    """Withdraw (the tokens are in ``units`` already), pay gas, place the new range and deposit
    ``share`` of the portfolio (at most the pair's tokens)."""
    i0, i1 = lp.pair[0], lp.pair[1]
    p0, p1 = prices[t, i0], prices[t, i1]
    P = p0 / p1
    spacing = int(lp.params[P_SPACING])
    gas = lp.params[P_GAS]
    lo, hi = _new_range(lp, t, math.log(P), spacing)
    _pay_gas(units, i0, i1, p0, p1, gas)
    V = cash
    for i in range(units.shape[0]):
        V += units[i] * prices[t, i]
    pair_value = max(units[i0], 0.0) * p0 + max(units[i1], 0.0) * p1
    budget = min(lp.params[P_SHARE] * V, pair_value)
    limit_ticks = int(lp.params[P_LIMIT_TICKS])
    if limit_ticks > 0:
        _charm_reset(
            st, units, i0, i1, P, lo, hi, limit_ticks, spacing, budget / pair_value if pair_value > 0.0 else 0.0
        )
    else:
        row[C_COST] = _swap_reset(st, units, i0, i1, p0, p1, P, lo, hi, costs, t, budget)
    row[C_RESET] = 1.0
    row[C_GAS] = gas
    st[S_HOLD0], st[S_HOLD1] = st[S_X], st[S_Y]
    st[S_LAST], st[S_ON] = t, 1.0


@njit(cache=True)
def _new_range(lp, t, log_p, spacing):
    return _snapped(log_p - lp.down[t], log_p + lp.up[t], spacing)


@njit(cache=True)
def _record(st, row, p0, p1):
    row[C_VALUE] = st[S_X] * p0 + st[S_Y] * p1
    row[C_HOLD] = st[S_HOLD0] * p0 + st[S_HOLD1] * p1
    row[C_LOWER] = math.exp(st[S_LO])
    row[C_UPPER] = math.exp(st[S_HI])
    row[C_X] = st[S_X]
    row[C_Y] = st[S_Y]


@njit(cache=True)
def lp_step(units, cash, prices, t, costs, lp, book):
    """One close of the position (see the module docstring)."""
    st, closes = book.state, book.closes
    if t == 0:
        return
    i0, i1 = lp.pair[0], lp.pair[1]
    if st[S_ON] == 0.0:  # the first deposit, at the close the portfolio was formed
        _reset(st, units, cash, prices, t - 1, costs, lp, closes[t - 1])
        _record(st, closes[t - 1], prices[t - 1, i0], prices[t - 1, i1])
    else:  # a rebalance at t−1 sold more of a token than was free: withdraw that much, pro rata
        f = 1.0
        if st[S_X] > 0.0 and units[i0] < st[S_X]:
            f = min(f, max(units[i0], 0.0) / st[S_X])
        if st[S_Y] > 0.0 and units[i1] < st[S_Y]:
            f = min(f, max(units[i1], 0.0) / st[S_Y])
        if f < 1.0:
            for k in (S_L, S_LL, S_X, S_Y, S_HOLD0, S_HOLD1):
                st[k] *= f
    p0, p1 = prices[t, i0], prices[t, i1]
    P = p0 / p1
    log_p = math.log(P)
    row = closes[t]
    x_prev, y_prev = st[S_X], st[S_Y]
    x, y = _position_amounts(st, P)
    units[i0] += x - x_prev
    units[i1] += y - y_prev
    st[S_X], st[S_Y] = x, y
    row[C_LVR] = x_prev * p0 + y_prev * p1 - (x * p0 + y * p1)  # the rebalancing portfolio's P&L minus the LP's
    fees = 0.0
    if _active(log_p, st[S_LO], st[S_HI]):
        fees += _fee(lp, t, st[S_L], P, p1)
        row[C_IN_RANGE] = 1.0
    if st[S_LL] > 0.0 and _active(log_p, st[S_LLO], st[S_LHI]):
        fees += _fee(lp, t, st[S_LL], P, p1)
    units[i1] += fees / p1
    row[C_FEES] = fees
    row[C_IL] = st[S_HOLD0] * p0 + st[S_HOLD1] * p1 - (x * p0 + y * p1)
    lo, hi = _new_range(lp, t, log_p, int(lp.params[P_SPACING]))
    u0, u1 = amounts(1.0, P, math.exp(lo), math.exp(hi))
    L_new = (x * p0 + y * p1) / (u0 * p0 + u1 * p1)
    per_day = _fee(lp, t, L_new, P, p1) * lp.params[P_PER_DAY]
    bits = decide(lp.rule, log_p, st[S_LO], st[S_HI], t - st[S_LAST], lp.twap[t], lp.params[P_GAS], per_day, LOG_TICK)
    row[C_BITS] = bits
    if (bits & RESET_MASK) != 0 and (bits & VETO_MASK) == 0:
        _reset(st, units, cash, prices, t, costs, lp, row)
    _record(st, row, p0, p1)
    row[C_UNITS0] = units[i0]
    row[C_UNITS1] = units[i1]


def liquidity_close(
    units: np.ndarray,
    cash: float,
    prices: np.ndarray,
    t: int,
    costs: Any,
    lp: LiquidityArrays | None,
    book: LiquidityBook | None,
    held: np.ndarray,
    n_held: int,
) -> int:
    """The position's step at close ``t``; returns the number of held assets."""
    if lp is None or book is None:
        return n_held
    lp_step(units, cash, prices, t, costs, lp, book)
    return int(held_assets(units, held))


@overload(liquidity_close, inline="always", jit_options={"cache": True})
def _liquidity_close_typed(units, cash, prices, t, costs, lp, book, held, n_held):
    if isinstance(lp, (types.NoneType, types.Omitted)):
        return lambda units, cash, prices, t, costs, lp, book, held, n_held: n_held

    def step(units, cash, prices, t, costs, lp, book, held, n_held):
        lp_step(units, cash, prices, t, costs, lp, book)
        return held_assets(units, held)

    return step
