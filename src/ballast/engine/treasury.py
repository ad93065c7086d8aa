"""Yields and flows at a close, for the walk and the Python engine: the one shared step.

At every close, before anything is valued: positions accrue their yield over the period just
ended (yields/kernel.py), then the close's scheduled flows are applied (flows/kernel.py); the
walk then values the portfolio and decides. What happened is written into a `TreasuryBook`.

A strategy without yields and flows passes None (or 1-D empty encodings): `treasury_close` is then
the identity, resolved by type, so the walk compiles none of this and runs as before.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit, types
from numba.extending import overload

from ballast.engine.intrinsics import borrow_fields
from ballast.engine.valuation import held_assets
from ballast.enums import FLOW_COST, FLOW_PAID, FLOW_SHORTFALL, N_FLOW_COLUMNS
from ballast.flows.kernel import apply_flows, flows_due
from ballast.yields.kernel import accrue


class TreasuryBook(NamedTuple):
    """What the flows and the yields did (written by the walk)."""

    closes: np.ndarray  # float64[T, N_FLOW_COLUMNS]: per close, the flows' ballast.enums FLOW_* columns
    earned: np.ndarray  # float64[R, N]: accrued value by asset (R = T when recorded, else 1: totals)
    paid: np.ndarray  # float64[R, N]: flows by asset (same rows)
    delta: np.ndarray  # float64[N]: scratch for the routing legs

    @property
    def flow(self) -> np.ndarray:
        """Value paid in (+) or out (−) at each close, as far as it could be paid."""
        return self.closes[:, FLOW_PAID]

    @property
    def shortfall(self) -> np.ndarray:
        """Value of scheduled withdrawals that could not be paid."""
        return self.closes[:, FLOW_SHORTFALL]

    @property
    def cost(self) -> np.ndarray:
        """Trading costs of routing the flows."""
        return self.closes[:, FLOW_COST]


def new_book(n_periods: int, n_assets: int, record: bool) -> TreasuryBook:
    rows = n_periods if record else 1
    return TreasuryBook(
        np.zeros((n_periods, N_FLOW_COLUMNS)),
        np.zeros((rows, n_assets)),
        np.zeros((rows, n_assets)),
        np.zeros(n_assets),
    )


# Inlined into the walk: an out-of-line call per close, passing ~20 arrays, cost more than the
# accrual itself. Every store goes through an array that is a parameter of the function doing it
# (``earned``, ``closes``): stores through a field of the book in inlined code were lost (numba 0.68).
# The held-asset list is rebuilt only when a holding can have appeared or vanished: a flow traded,
# or a payout landed in an empty quote asset. Accrual scales units that are already held (a unit
# grows by g > 0), so a close without a flow keeps the list; rebuilding it at every close was a
# quarter of the treasury machinery's cost at 20 assets.
@njit(cache=True, inline="always")
def _treasury_close(units, cash, prices, t, targets, costs, quote, yields, flows, tbook, held, n_held):
    row = t if tbook.earned.shape[0] > 1 else 0
    quote_empty = quote >= 0 and units[quote] == 0.0
    if t > 0:
        cash += accrue(units, prices, t, yields, quote, tbook.earned, row)
    due = flows_due(flows, t)
    if due:
        cash = apply_flows(
            units, cash, prices, t, flows, targets, costs, quote, tbook.paid, row, tbook.delta, tbook.closes
        )
    if due or (quote_empty and units[quote] != 0.0):
        n_held = held_assets(units, held)
    return cash, n_held


def is_off(yields: object, flows: object) -> bool:
    """No yields and no flows: None, or the 1-D empty encodings."""
    no_yields = yields is None or np.ndim(yields.growth) == 1  # type: ignore[attr-defined]
    no_flows = flows is None or np.ndim(flows.units) == 1  # type: ignore[attr-defined]
    return no_yields and no_flows


def treasury_close(
    units: np.ndarray,
    cash: float,
    prices: np.ndarray,
    t: int,
    targets: np.ndarray,
    costs: Any,
    quote: int,
    yields: Any,
    flows: Any,
    book: Any,
    held: np.ndarray,
    n_held: int,
) -> tuple[float, int]:
    """Accrue, then apply the flows of close ``t``; returns (cash, number of held assets)."""
    if is_off(yields, flows):
        return cash, n_held
    after: tuple[float, int] = _treasury_close(
        units, cash, prices, t, targets, costs, quote, yields, flows, book, held, n_held
    )
    return after


def _off_type(ty: types.Type, field: int) -> bool:
    if isinstance(ty, (types.NoneType, types.Omitted)):
        return True
    return isinstance(ty, types.BaseTuple) and ty.types[field].ndim == 1


@overload(treasury_close, inline="always", jit_options={"cache": True})
def _treasury_close_typed(units, cash, prices, t, targets, costs, quote, yields, flows, tbook, held, n_held):
    if _off_type(yields, 0) and _off_type(flows, 0):
        return lambda units, cash, prices, t, targets, costs, quote, yields, flows, tbook, held, n_held: (cash, n_held)
    return lambda units, cash, prices, t, targets, costs, quote, yields, flows, tbook, held, n_held: _treasury_close(
        units, cash, prices, t, targets, costs, quote, yields, flows, tbook, held, n_held
    )


def treasury_inputs(yields: Any, flows: Any, tbook: Any) -> tuple[Any, Any, Any]:
    """The walk's treasury arguments, borrowed once before its loop (engine/intrinsics.py).

    Borrowing them inside `treasury_close`, at every close, cost 30–40 ns a close: as much as the
    accrual itself at 20 assets. Off (None, omitted or the 1-D empty encodings): three Nones."""
    return yields, flows, tbook


@overload(treasury_inputs, inline="always", jit_options={"cache": True})
def _treasury_inputs_typed(yields, flows, tbook):
    if _off_type(yields, 0) and _off_type(flows, 0):
        return lambda yields, flows, tbook: (None, None, None)
    return lambda yields, flows, tbook: (borrow_fields(yields), borrow_fields(flows), borrow_fields(tbook))
