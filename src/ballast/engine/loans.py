"""Loans at a close, for the walk and the Python engine: the one shared step (positions/kernel.py).

At every close, after yields and flows and before the portfolio is valued, each loan accrues its
debt, is liquidated while its health factor is below 1, and its band repays or boosts. The debt is
a negative holding of the debt asset and the collateral is what is held, so the walk's valuation,
weights and metrics need no special case (docs/loans.md).

A strategy without loans passes None (or `no_loans()`): `loan_close` is then the identity,
resolved by type, so the walk compiles none of this and runs as before.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numba import njit, types
from numba.extending import overload

from ballast.costs.base import CostArrays
from ballast.engine.intrinsics import borrow_fields
from ballast.engine.valuation import held_assets
from ballast.enums import (
    ACC_COSTS,
    BAND_REPAY_TO,
    LT_COSTS,
    LT_MIN_HF,
    N_EVENT_COLUMNS,
    N_LOAN_TOTALS,
)
from ballast.errors import InputError
from ballast.market import Market
from ballast.positions.encode import LoanArrays, Loans
from ballast.positions.kernel import loans_close

if TYPE_CHECKING:
    from ballast.engine.prepared import Prepared

EVENTS_PER_CLOSE = 4  # table rows reserved per close and loan (a liquidation can take a few calls)


class LoanBook(NamedTuple):
    """What the loans did (written by the walk)."""

    hf: np.ndarray  # float64[R, K]: health factor after each close's actions (R = T when recorded, else 1)
    events: np.ndarray  # float64[E, N_EVENT_COLUMNS]: liquidations, repays, boosts (ballast.enums EV_*)
    totals: np.ndarray  # float64[N_LOAN_TOTALS]: ballast.enums LT_*
    scratch: np.ndarray  # float64[3, C]: the step's work space (no allocation per close)


def new_loan_book(n_periods: int, n_loans: int, n_collateral: int, record: bool) -> LoanBook:
    totals = np.zeros(N_LOAN_TOTALS)
    totals[LT_MIN_HF] = math.inf
    rows = n_periods * n_loans * EVENTS_PER_CLOSE if record else 0
    return LoanBook(
        np.full((n_periods if record else 1, n_loans), np.nan),
        np.zeros((rows, N_EVENT_COLUMNS)),
        totals,
        np.empty((3, n_collateral)),
    )


def start_loans(p: "Prepared", record: bool) -> tuple[LoanArrays | None, LoanBook | None]:
    """The loans of a run with nothing owed yet (the walk updates ``owed`` in place, so each run gets
    its own), and an empty book; (None, None) without loans."""
    if p.loans is None:
        return None, None
    loans = p.loans._replace(owed=np.zeros(p.loans.debt.shape[0]))
    K, C = loans.collateral.shape
    return loans, new_loan_book(p.market.n_periods, K, C, record)


def add_loan_costs(acc: np.ndarray, book: LoanBook | None) -> None:
    """The band's swap fees and gas join the run's costs (total_costs)."""
    if book is not None:
        acc[ACC_COSTS] += book.totals[LT_COSTS]


def check_loans(loans: Loans, arrays: LoanArrays, costs: CostArrays, market: Market) -> None:
    """Refuse a band whose repay cannot reach its target after the swap fee (γ·repay_to ≤ LT)."""
    for k, pos in enumerate(loans.positions):
        to = arrays.band[k, BAND_REPAY_TO]
        for j, a in enumerate(pos.loan.collateral):
            i = market.asset_index(a)
            gamma = 1.0 - (costs.prop[i] + costs.pool_fee[i])
            if not math.isnan(to) and gamma * to <= arrays.lt[k, j]:
                raise InputError(
                    f"loan {k + 1}: with a fee of {1.0 - gamma:g} selling {a} (LT {arrays.lt[k, j]:g}) cannot raise "
                    f"HF to repay_to = {to:g}; raise repay_to above LT / (1 − fee)"
                )


@njit(cache=True, inline="always")
def _loan_close(units, prices, t, costs, loans, lbook, held, n_held):
    changed = loans_close(
        units,
        prices,
        t,
        costs.prop,
        costs.pool_fee,
        costs.fixed,
        costs.fixed_asset,
        loans,
        lbook.hf,
        lbook.events,
        lbook.totals,
        lbook.scratch,
    )
    return held_assets(units, held) if changed else n_held


def is_off(loans: object) -> bool:
    return loans is None or np.ndim(loans.collateral) == 1  # type: ignore[attr-defined]


def loan_close(
    units: np.ndarray,
    prices: np.ndarray,
    t: int,
    costs: Any,
    loans: Any,
    lbook: Any,
    held: np.ndarray,
    n_held: int,
) -> int:
    """Accrue, liquidate and repay/boost every loan at close ``t``; returns the number of held assets."""
    if is_off(loans):
        return n_held
    n: int = _loan_close(units, prices, t, costs, loans, lbook, held, n_held)
    return n


def _off_type(ty: types.Type) -> bool:
    if isinstance(ty, (types.NoneType, types.Omitted)):
        return True
    return isinstance(ty, types.BaseTuple) and ty.types[0].ndim == 1


@overload(loan_close, inline="always", jit_options={"cache": True})
def _loan_close_typed(units, prices, t, costs, loans, lbook, held, n_held):
    if _off_type(loans):
        return lambda units, prices, t, costs, loans, lbook, held, n_held: n_held
    return lambda units, prices, t, costs, loans, lbook, held, n_held: _loan_close(
        units, prices, t, costs, loans, lbook, held, n_held
    )


def loan_inputs(loans: Any, lbook: Any) -> tuple[Any, Any]:
    """The walk's loan arguments, borrowed once before its loop (engine/intrinsics.py; as
    `treasury_inputs`). Off (None, omitted or `no_loans()`): two Nones."""
    return loans, lbook


@overload(loan_inputs, inline="always", jit_options={"cache": True})
def _loan_inputs_typed(loans, lbook):
    if _off_type(loans):
        return lambda loans, lbook: (None, None)
    return lambda loans, lbook: (borrow_fields(loans), borrow_fields(lbook))
