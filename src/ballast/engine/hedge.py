"""A delta hedge in the walk: the perp settled before each close's valuation, re-hedged after its
rebalance (hedging/kernel.py), written into a `HedgeBook`.

A strategy without a hedge passes None: `hedge_settle` and `hedge_adjust` are then the identity,
resolved by type, so the walk compiles none of this and runs as before (engine/treasury.py does
the same for yields and flows).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numba import njit, types
from numba.extending import overload

from ballast.engine.liquidity_kernel import S_HI, S_L, S_LHI, S_LL, S_LLO, S_LO, S_X
from ballast.engine.valuation import held_assets
from ballast.enums import N_HEDGE_COLUMNS, N_PERP_STATE
from ballast.hedging.kernel import adjust, settle


class HedgeBook(NamedTuple):
    """The perp's state (ballast.enums PERP_*) and one row per close (HC_* columns)."""

    state: np.ndarray  # float64[N_PERP_STATE]
    rows: np.ndarray  # float64[T, N_HEDGE_COLUMNS]


def new_hedge_book(n_periods: int) -> HedgeBook:
    return HedgeBook(np.zeros(N_PERP_STATE), np.zeros((n_periods, N_HEDGE_COLUMNS)))


@njit(cache=True)
def _settle(units, prices, t, quote, hedge, hbook, held):
    settle(units, prices, t, quote, hedge, hbook.state, hbook.rows)
    return held_assets(units, held)


@njit(cache=True)
def _adjust(units, prices, t, quote, hedge, hbook, held, value, lp_book):
    d, g = position_greeks(lp_book, prices, t, hedge.exposure, hedge.token1)
    cost = adjust(units, prices, t, quote, hedge, hbook.state, hbook.rows, d, g)
    return value - cost, held_assets(units, held)


def position_greeks(lp_book: Any, prices: np.ndarray, t: int, i0: int, i1: int) -> tuple[float, float]:
    """The liquidity position's token0 amount and gamma (dx/dp of token0's price) at close ``t``;
    (0, 0) without a position. Σ over its base and limit ranges of −L/(2·P^1.5) in range, P the
    pool price token0/token1, divided by token1's price."""
    if lp_book is None:
        return 0.0, 0.0
    greeks: tuple[float, float] = _greeks(lp_book.state, prices, t, i0, i1)
    return greeks


@njit(cache=True)
def _greeks(st, prices, t, i0, i1):
    P = prices[t, i0] / prices[t, i1]
    log_p = math.log(P)
    g = 0.0
    for L, lo, hi in ((st[S_L], st[S_LO], st[S_HI]), (st[S_LL], st[S_LLO], st[S_LHI])):
        if L > 0.0 and lo <= log_p < hi:
            g -= 0.5 * L / (P * math.sqrt(P))
    return st[S_X], g / prices[t, i1]


@overload(position_greeks, inline="always", jit_options={"cache": True})
def _position_greeks_typed(lp_book, prices, t, i0, i1):
    if _off(lp_book):
        return lambda lp_book, prices, t, i0, i1: (0.0, 0.0)
    return lambda lp_book, prices, t, i0, i1: _greeks(lp_book.state, prices, t, i0, i1)


def hedge_settle(
    units: np.ndarray, prices: np.ndarray, t: int, quote: int, hedge: Any, hbook: Any, held: np.ndarray, n_held: int
) -> int:
    """Settle the perp into the cash asset before close ``t`` is valued; returns the held count."""
    if hedge is None:
        return n_held
    n: int = _settle(units, prices, t, quote, hedge, hbook, held)
    return n


def hedge_adjust(
    units: np.ndarray,
    prices: np.ndarray,
    t: int,
    quote: int,
    hedge: Any,
    hbook: Any,
    held: np.ndarray,
    n_held: int,
    value: float,
    lp_book: Any = None,
) -> tuple[float, int]:
    """Re-hedge after close ``t``'s rebalance; returns (value after the hedge's costs, held count).
    ``lp_book``: the liquidity position's book, for a hedge of the position's delta."""
    if hedge is None:
        return value, n_held
    after: tuple[float, int] = _adjust(units, prices, t, quote, hedge, hbook, held, value, lp_book)
    return after


def _off(ty: types.Type) -> bool:
    return isinstance(ty, (types.NoneType, types.Omitted))


@overload(hedge_settle, inline="always", jit_options={"cache": True})
def _hedge_settle_typed(units, prices, t, quote, hedge, hbook, held, n_held):
    if _off(hedge):
        return lambda units, prices, t, quote, hedge, hbook, held, n_held: n_held
    return lambda units, prices, t, quote, hedge, hbook, held, n_held: _settle(
        units, prices, t, quote, hedge, hbook, held
    )


@overload(hedge_adjust, inline="always", jit_options={"cache": True})
def _hedge_adjust_typed(units, prices, t, quote, hedge, hbook, held, n_held, value, lp_book=None):
    if _off(hedge):
        return lambda units, prices, t, quote, hedge, hbook, held, n_held, value, lp_book=None: (value, n_held)
    return lambda units, prices, t, quote, hedge, hbook, held, n_held, value, lp_book=None: _adjust(
        units, prices, t, quote, hedge, hbook, held, value, lp_book
    )
