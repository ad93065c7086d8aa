"""Accrual at a close, compiled: the one step the walk, the Python engine and the live replay share.

At close t every position first grows over (t−1, t]: a long unit by ``growth[t, i]``, a unit owed
(a negative holding) by ``borrow[t, i]`` — debt grows, which is what borrowing costs. An asset in
payout mode keeps its units and pays units·(g − 1) at the close's price into the cash asset, like
a coupon (into the portfolio's cash when it has no cash asset); bought back at that price, the
payout gives exactly the compounding units.
"""

from __future__ import annotations

from numba import njit, types
from numba.extending import overload


def add_to(earned, row, i, x):
    """``earned[row, i] += x``; nothing when ``earned`` is None (resolved by type: the walk keeps
    no yield by asset, and the value is then never computed)."""
    if earned is not None:
        earned[row, i] += x


@overload(add_to, inline="always", jit_options={"cache": True})
def _add_to_typed(earned, row, i, x):
    if isinstance(earned, (types.NoneType, types.Omitted)):
        return lambda earned, row, i, x: None

    def impl(earned, row, i, x):
        earned[row, i] += x

    return impl


@njit(cache=True, inline="always")  # a short loop at every close: a call would cost more than it
def _accrue(units, prices, t, yields, quote, earned, row):
    """Apply row ``t``'s growth to ``units`` (in place); add each asset's accrued value at the
    close's prices to ``earned[row]`` (yield earned, borrowing paid negative; None: not kept). Payouts go into the
    quote asset, or without one (``quote`` < 0) into the portfolio's cash, as bt's coupons do.
    Returns the payout to add to the cash.

    The per-asset loop has no branch, so it runs in SIMD lanes: an asset not held adds 0·(g − 1)
    (earned keeps its value) and keeps 0 units, which is what skipping it gave, bit for bit; the
    payers' sum is its own short loop (a float sum in a lane would reorder the additions). As a
    branchy loop, accrual cost twice the rest of a close at 100 assets (bench/RESULTS.md)."""
    growth = yields.growth
    borrow = yields.borrow
    payout = yields.payout
    payers = yields.payers
    if yields.signed == 0 and payers.shape[0] == 0:
        # Every holding is long and compounds: the loop below with its selects always true, bit
        # for bit, at two loads of four fewer (a third of the accrual's time at 20 assets).
        for i in range(units.shape[0]):
            u = units[i]
            g = growth[t, i]
            add_to(earned, row, i, u * (g - 1.0) * prices[t, i])
            units[i] = u * g
        return 0.0
    paid = 0.0
    for k in range(payers.shape[0]):  # before the loop below; a payer's units do not change
        i = payers[k]
        u = units[i]
        if u > 0.0:
            paid += u * (growth[t, i] - 1.0) * prices[t, i]
    for i in range(units.shape[0]):
        u = units[i]
        g_long = growth[t, i]  # both loaded, then selected: a conditional load kept the loop scalar
        g_owed = borrow[t, i]
        g = g_long if u >= 0.0 else g_owed
        add_to(earned, row, i, u * (g - 1.0) * prices[t, i])
        keep = (payout[i] != 0) & (u > 0.0)  # `&`, not `and`: no branch
        units[i] = u if keep else u * g
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
