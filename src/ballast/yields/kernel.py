"""Accrual at a close, compiled: the one step the walk, the Python engine and the live replay share.

At close t every position first grows over (t−1, t]: a long unit by ``growth[t, i]``, a unit owed
(a negative holding) by ``borrow[t, i]`` — debt grows, which is what borrowing costs. An asset in
payout mode keeps its units and pays units·(g − 1) at the close's price into the cash asset, like
a coupon (into the portfolio's cash when it has no cash asset); bought back at that price, the
payout gives exactly the compounding units.
"""

from __future__ import annotations

from numba import njit
from numba.extending import overload


@njit(cache=True, inline="always")  # a short loop at every close: a call would cost more than it
def _accrue(units, prices, t, yields, quote, earned, row):
    """Apply row ``t``'s growth to ``units`` (in place); add each asset's accrued value at the
    close's prices to ``earned[row]`` (yield earned, borrowing paid negative). Payouts go into the
    quote asset, or without one (``quote`` < 0) into the portfolio's cash, as bt's coupons do.
    Returns the payout to add to the cash."""
    growth = yields.growth
    borrow = yields.borrow
    payout = yields.payout
    paid = 0.0
    for i in range(units.shape[0]):
        u = units[i]
        if u == 0.0:
            continue
        g = growth[t, i] if u > 0.0 else borrow[t, i]
        if g == 1.0:
            continue
        value = u * (g - 1.0) * prices[t, i]
        earned[row, i] += value
        if payout[i] != 0 and u > 0.0:
            paid += value
        else:
            units[i] = u * g
    if paid != 0.0 and quote >= 0:
        units[quote] += paid / prices[t, quote]
        paid = 0.0
    return paid


def accrue(units, prices, t, yields, quote, earned, row):
    """`_accrue`, or nothing at all for a strategy without yields (1-D empty ``growth``)."""
    if yields.growth.ndim == 1:
        return 0.0
    return _accrue(units, prices, t, yields, quote, earned, row)


@overload(accrue, inline="always", jit_options={"cache": True})
def _accrue_typed(units, prices, t, yields, quote, earned, row):
    if yields.types[0].ndim == 1:  # YieldArrays.growth
        return lambda units, prices, t, yields, quote, earned, row: 0.0
    return lambda units, prices, t, yields, quote, earned, row: _accrue(units, prices, t, yields, quote, earned, row)
