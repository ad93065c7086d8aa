"""The cost of one trade, compiled: shared by backtest, sweep, planner and the paper broker.

Signed values: ``value > 0`` is a buy (the value of the asset received), ``value < 0`` a sale
(the value of the asset given up). A caller that does not know the side may pass ``|value|``: a
buy never costs less than a sale of the same value, so that is the conservative choice.

AMM pools are modelled in value terms at the market price: a pool of depth R holds R of the quote
asset and R worth of the asset (arbitrage keeps its price at the market's). A swap bigger than
``pool_slice·R`` is split into slices of that size, with the pool restored by arbitrage between
slices (TWAP execution); each slice pays the fixed cost (gas) again, pro rata for the last one so
the cost stays continuous in the traded value and the exact self-financing solve keeps a unique
solution.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ballast.enums import POOL_CONSTANT_PRODUCT, POOL_STABLESWAP

NEWTON_ITER = 255


@njit(cache=True)
def stableswap_d(x, amp):
    """Curve's invariant D for balances ``x`` (float64[n]) and amplification A, by Newton.

    Whitepaper form: A·nⁿ·Σx + D = A·D·nⁿ + D^(n+1) / (nⁿ·Πx).
    """
    n = x.shape[0]
    s = 0.0
    for k in range(n):
        s += x[k]
    if s == 0.0:
        return 0.0
    ann = amp * n**n
    d = s
    for _ in range(NEWTON_ITER):
        dp = d
        for k in range(n):
            dp = dp * d / (n * x[k])
        d_prev = d
        d = (ann * s + n * dp) * d / ((ann - 1.0) * d + (n + 1.0) * dp)
        if abs(d - d_prev) <= 1e-15 * d:
            break
    return d


@njit(cache=True)
def stableswap_y(x, i, d, amp):
    """Balance of coin ``i`` that keeps invariant ``d`` given the other balances in ``x``.

    From the invariant: y² + (S′ + D/(A·nⁿ) − D)·y = D^(n+1) / (nⁿ·P′·A·nⁿ), S′ and P′ the sum and
    product of the other balances; solved by Newton's y ← (y² + c)/(2y + b) from y = D.
    """
    n = x.shape[0]
    ann = amp * n**n
    c = d
    s = 0.0
    for k in range(n):
        if k != i:
            s += x[k]
            c = c * d / (n * x[k])
    c = c * d / (ann * n)
    b = s + d / ann
    y = d
    for _ in range(NEWTON_ITER):
        y_prev = y
        y = (y * y + c) / (2.0 * y + b - d)
        if abs(y - y_prev) <= 1e-15 * y:
            break
    return y


@njit(cache=True)
def cp_swap_cost(depth, fee, value):
    """Constant product, both reserves worth ``depth``: value lost on one swap (fee included)."""
    if value > 0.0:  # buy: pay in = R·a / ((R − a)(1 − fee)) to receive a
        if value >= depth:
            return math.inf
        return depth * value / ((depth - value) * (1.0 - fee)) - value
    a = -value  # sell a: receive a(1 − fee)·R / (R + a(1 − fee))
    x = a * (1.0 - fee)
    return a - x * depth / (depth + x)


@njit(cache=True)
def ss_swap_cost(depth, fee, amp, value):
    """Two-coin StableSwap with both balances ``depth`` (pegged): value lost on one swap.

    Curve charges its fee on the output. D of a balanced pool is exactly 2·depth.
    """
    d = 2.0 * depth
    x = np.empty(2)
    if value > 0.0:  # buy a: the pool must give a/(1 − fee) gross
        gross = value / (1.0 - fee)
        if gross >= depth:
            return math.inf
        x[0] = depth
        x[1] = depth - gross
        return stableswap_y(x, 0, d, amp) - depth - value
    x[0] = depth - value  # value < 0: sell |value| into the pool
    x[1] = depth
    dy = depth - stableswap_y(x, 1, d, amp)
    return -value - dy * (1.0 - fee)


@njit(cache=True)
def swap_cost(kind, depth, fee, amp, value):
    """Value lost on one swap of signed ``value`` through a pool of kind POOL_*."""
    if kind == POOL_CONSTANT_PRODUCT:
        return cp_swap_cost(depth, fee, value)
    if kind == POOL_STABLESWAP:
        return ss_swap_cost(depth, fee, amp, value)
    return 0.0


@njit(cache=True, inline="always")
def trade_cost_parts(costs, i, t, value):
    """(variable, fixed) cost of trading signed ``value`` of asset ``i`` at period ``t``."""
    # Every field in one block (docs/kernel-performance.md, "read tuple fields before branching").
    prop = costs.prop[i]
    fixed = costs.fixed[t] + costs.fixed_asset[t, i]
    k = costs.pool_kind[i]
    depth = costs.pool_depth[t, i]
    fee = costs.pool_fee[i]
    amp = costs.pool_amp[i]
    size = costs.pool_slice[i] * depth
    if value == 0.0:
        return 0.0, 0.0
    a = abs(value)
    var = prop * a
    if k != 0:
        sign = 1.0 if value > 0.0 else -1.0
        if size > 0.0 and a > size:
            if a / size > 1e15:  # a pool too shallow to take the trade at all
                return math.inf, math.inf
            full = math.floor(a / size)
            rest = a - full * size
            var += full * swap_cost(k, depth, fee, amp, sign * size)
            var += swap_cost(k, depth, fee, amp, sign * rest)
            fixed *= a / size
        else:
            var += swap_cost(k, depth, fee, amp, value)
    return var, fixed


@njit(cache=True, inline="always")
def trade_cost(costs, i, t, value):
    """Total cost of trading signed ``value`` (currency) of asset ``i`` at period ``t``."""
    var, fixed = trade_cost_parts(costs, i, t, value)
    return var + fixed


@njit(cache=True, inline="always")
def plain_cost(prop, fixed, fixed_asset, i, t, value):
    """`trade_cost`, bit for bit, of an asset without a pool, from the cost arrays its caller
    read once (docs/kernel-performance.md, "plain_cost")."""
    if value == 0.0:
        return 0.0
    return prop[i] * abs(value) + (fixed[t] + fixed_asset[t, i])
