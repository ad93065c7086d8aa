"""The cost of one trade, compiled: shared by backtest, sweep and the paper broker."""
from __future__ import annotations

from numba import njit

from ballast.costs.base import POOL_CONSTANT_PRODUCT


@njit(cache=True)
def pool_impact(kind, depth, fee, amp, value):  # noqa: ANN001
    """Value lost to price impact when swapping ``value`` through a pool (beyond its fee)."""
    if kind == POOL_CONSTANT_PRODUCT and depth > 0.0:
        # Equal-value reserves R on both sides: out = v·R/(R + v) in value terms.
        return value - value * depth / (depth + value)
    return 0.0


@njit(cache=True)
def trade_cost(costs, i, t, value):  # noqa: ANN001
    """Total cost of trading ``value`` (> 0, currency) of asset ``i`` at period ``t``."""
    if value <= 0.0:
        return 0.0
    c = costs.prop[i] * value + costs.fixed[t]
    k = costs.pool_kind[i]
    if k != 0:
        c += costs.pool_fee[i] * value
        c += pool_impact(k, costs.pool_depth[t, i], costs.pool_fee[i], costs.pool_amp[i],
                         value * (1.0 - costs.pool_fee[i]))
    return c
