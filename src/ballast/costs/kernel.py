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
    # Read every field in one block: a field read inside a branch keeps numba from pruning the
    # reference counting of the tuple's arrays, which made each call ~100x slower.
    k = costs.pool_kind[i]
    fee = costs.pool_fee[i]
    depth = costs.pool_depth[t, i]
    amp = costs.pool_amp[i]
    c = costs.prop[i] * value + costs.fixed[t]
    if k != 0:
        c += fee * value + pool_impact(k, depth, fee, amp, value * (1.0 - fee))
    return c
