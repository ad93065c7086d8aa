"""A delta hedge in the walk: the perp settled before each close's valuation, re-hedged after its
rebalance (hedging/kernel.py), written into a `HedgeBook`.

A strategy without a hedge passes None: `hedge_settle` and `hedge_adjust` are then the identity,
resolved by type, so the walk compiles none of this and runs as before (engine/treasury.py does
the same for yields and flows).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit, types
from numba.extending import overload

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
def _adjust(units, prices, t, quote, hedge, hbook, held, value):
    cost = adjust(units, prices, t, quote, hedge, hbook.state, hbook.rows)
    return value - cost, held_assets(units, held)


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
) -> tuple[float, int]:
    """Re-hedge after close ``t``'s rebalance; returns (value after the hedge's costs, held count)."""
    if hedge is None:
        return value, n_held
    after: tuple[float, int] = _adjust(units, prices, t, quote, hedge, hbook, held, value)
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
def _hedge_adjust_typed(units, prices, t, quote, hedge, hbook, held, n_held, value):
    if _off(hedge):
        return lambda units, prices, t, quote, hedge, hbook, held, n_held, value: (value, n_held)
    return lambda units, prices, t, quote, hedge, hbook, held, n_held, value: _adjust(
        units, prices, t, quote, hedge, hbook, held, value
    )
