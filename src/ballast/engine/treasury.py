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
from ballast.enums import ACC_COSTS, FLOW_COST, FLOW_PAID, FLOW_SHORTFALL, N_FLOW_COLUMNS
from ballast.flows.kernel import apply_flows, flows_due
from ballast.yields.kernel import accrue


class TreasuryBook(NamedTuple):
    """What the flows and the yields did (written by the walk)."""

    closes: np.ndarray  # float64[T, N_FLOW_COLUMNS]: per close, the flows' ballast.enums FLOW_* columns
    paid: np.ndarray  # float64[K, N]: flows by asset at the K closes with a flow (recorded), else [1, N]: totals
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


class ScaledWalk(NamedTuple):
    """What the walk runs on when every yield compounds on holdings that are never negative: the
    prices times each asset's cumulative growth, so that a unit held is a *scaled* unit (Aave's
    scaled balances) whose value grows with its yield and the walk accrues nothing per close."""

    prices: np.ndarray  # float64[T, N]: market prices × cumulative growth (growth row 0 is 1)
    flows: Any  # FlowSchedule with unit flows in scaled units (units / cumulative growth), or None


def scaled_walk(prices: np.ndarray, yields: Any, flows: Any) -> ScaledWalk | None:
    """The `ScaledWalk` of yields that only compound on never-negative holdings (``signed`` 0, no
    payout asset); None otherwise. Valuing scaled units at these prices is the accrual: a unit
    held over (t−1, t] is worth p·g more, as `accrue` would have grown it (equal up to rounding)."""
    if yields is None or yields.signed != 0 or yields.payers.shape[0] > 0 or np.ndim(yields.growth) != 2:
        return None
    index = np.cumprod(yields.growth, axis=0)
    if flows is not None and np.ndim(flows.units) == 2:
        flows = flows._replace(units=flows.units / index)
    return ScaledWalk(prices * index, flows)


def flow_closes(p: Any) -> int:
    """How many closes of a prepared run have a scheduled flow."""
    flows = p.flows
    return 0 if flows is None or np.ndim(flows.units) == 1 else int(np.count_nonzero(flows.active))


def pre_record(p: Any, record: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(rows, out) for the pre-trade weights the walk keeps: none unrecorded or for a plain
    strategy (prices alone move its units); with only yields and flows, the closes with a flow
    (`rebuild_closes` gives the rest from the post-trade weights, and a T × N record per close was
    most of a recorded run's cost at 100 assets); with loans, hedges or positions, every close.
    ``rows[t]`` is close t's row of ``out`` (−1: not kept)."""
    T, n = p.market.n_periods, p.market.n_assets
    moving = p.loans is not None or p.hedge is not None or p.liquidity is not None
    if not record or not (moving or p.treasury):
        return None, None
    if moving:
        return np.arange(T, dtype=np.int64), np.empty((T, n))
    if p.flows is None or np.ndim(p.flows.units) != 2:
        return np.full(T, -1, np.int64), np.zeros((1, n))
    # FlowSchedule.active numbers the closes with a flow from 1: its row, less one (−1 elsewhere).
    return p.flows.active - 1, np.zeros((max(flow_closes(p), 1), n))


def new_book(n_periods: int, n_assets: int, record: bool, n_flow_closes: int = 0) -> TreasuryBook:
    """An empty book. By asset, a run keeps the flows of each close with a flow (recorded) or their
    totals, and no yield: T × N records written at every close were most of a recorded run's cost,
    and the yield by asset, which only reports read, is rebuilt from the recorded run by
    `rebuild_closes`."""
    rows = max(n_flow_closes, 1) if record else 1
    return TreasuryBook(
        np.zeros((n_periods, N_FLOW_COLUMNS)),
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
    quote_empty = quote >= 0 and yields.payers.shape[0] > 0 and units[quote] == 0.0  # a payout may land there
    if t > 0:
        cash += accrue(units, prices, t, yields, quote, None, 0)
    due = flows_due(flows, t)
    if due:
        row = flows.active[t] - 1 if tbook.paid.shape[0] > 1 else 0
        cash = apply_flows(
            units, cash, prices, t, flows, targets, costs, quote, tbook.paid, row, tbook.delta, tbook.closes
        )
    if due or (quote_empty and units[quote] != 0.0):
        n_held = held_assets(units, held)
    return cash, n_held


@njit(cache=True)
def rebuild_closes(weights, equity, prices, yields, quote):
    """(yield earned by asset, pre-trade weights), T × N each, of a recorded run with yields or
    flows, rebuilt for reports instead of written by the walk at every close: the units held into
    close t are the recorded post-trade weights of close t − 1 times its value (the rest was cash),
    and the walk's own `accrue` grows a copy of them. The pre-trade weights of a close with a flow
    are the walk's own (`pre_record`); the rest equal the walk's up to rounding."""
    T, n = prices.shape
    earned = np.zeros((T, n))
    pre = np.zeros((T, n))
    units = np.empty(n)
    for t in range(1, T):
        v_prev = equity[t - 1]
        invested = 0.0
        for i in range(n):
            w = weights[t - 1, i]
            units[i] = w * v_prev / prices[t - 1, i] if w != 0.0 else 0.0
            invested += w
        cash = v_prev * (1.0 - invested) + accrue(units, prices, t, yields, quote, earned, t)
        v = cash
        for i in range(n):
            if units[i] != 0.0:
                v += units[i] * prices[t, i]
        inv = 1.0 / v if v > 0.0 else 0.0
        for i in range(n):
            pre[t, i] = units[i] * prices[t, i] * inv if units[i] != 0.0 else 0.0
    return earned, pre


@njit(cache=True)
def twr_path(equity, flow, capital):
    """capital × the chained period returns (Vₜ − Fₜ)/Vₜ₋₁: the value a unit would have had.
    One compiled pass: as numpy expressions it was most of a backtest's metrics time."""
    out = np.empty(equity.shape[0])
    prev = capital
    chained = 1.0
    for t in range(equity.shape[0]):
        g = (equity[t] - flow[t]) / prev if prev > 0.0 else 1.0
        # A total loss (everything paid out or lost to costs) stays a tiny positive value, so
        # that the return metrics, which divide by the previous value, remain defined.
        if g < 1e-300:  # np.maximum's result, NaN included
            g = 1e-300
        chained *= g
        out[t] = capital * chained
        prev = equity[t]
    return out


@njit(cache=True)
def settle_flows(equity, closes, capital, acc):
    """Add the flows' routing costs to ``acc``; return the path the return metrics read: the
    time-weighted path once money moved, else ``equity``. One compiled pass over the closes."""
    cost = 0.0
    moved = False
    for t in range(closes.shape[0]):
        cost += closes[t, FLOW_COST]
        moved = moved or closes[t, FLOW_PAID] != 0.0
    acc[ACC_COSTS] += cost
    if not moved:
        return equity
    return twr_path(equity, closes[:, FLOW_PAID], capital)


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
