"""A concentrated-liquidity position advanced one live close at a time, by the backtest's own step.

The live service keeps the position's state between cycles (`LPState`: the range, liquidity,
the tokens it holds, the tokens of its last deposit, its last reset, fees earned) and, at each
accepted close, runs the compiled backtest step (`engine.liquidity_kernel.lp_step`) on the prices
seen so far: the same Uniswap v3 math (positions/uniswap_v3.py), the same reset rule
(positions/resets.py `decide`), the same swap through the strategy's pool cost models. What the
step changed in the wallet comes back as an `LPClose`: the tokens the pool's traders moved, the
fees, and a reset's swap and gas.

A reset that swaps is not booked with the close: `advance` also runs the step with the reset held
back (the rule's cooldown set to forever), and the difference is an `LPReset` — the gas of burn,
collect and mint, and the swap of the surplus as a `PlannedOrder` of token0 against token1 whose
paper fill equals the step's swap and cost to rounding. The cycle books the held close and sends
the order with its decision; the new range is booked with the order's fill (`lp_ledger.book_fill`).

Scope: the paper venue (a simulated pool) and proposals (a Safe batch of the position manager's
calls, `onchain/lp_calls.py`); fees from a fee APR or from a constant volume and TVL (the live
service has no volume series).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from ballast.costs.base import compile_costs
from ballast.errors import InputError
from ballast.live.records import PlannedOrder
from ballast.market import Market
from ballast.positions.provision import P_LIMIT_TICKS, AprFees, LiquidityProvision
from ballast.positions.resets import R_COOLDOWN, reason_text

# the fields of the kernel's state (engine/liquidity_kernel.py S_*), in its order
_STATE: tuple[str, ...] = (
    *("liquidity", "log_lower", "log_upper", "limit_liquidity", "limit_log_lower", "limit_log_upper"),
    *("token0", "token1", "last_reset", "deposited", "hold0", "hold1"),
)


@dataclass(frozen=True)
class LPState:
    """The position between two closes. ``last_reset``: the close number (0 = formation) of the
    last deposit; ``fees``: fees earned so far (currency); ``resets``: deposits after the first."""

    liquidity: float = 0.0
    log_lower: float = 0.0
    log_upper: float = 0.0
    limit_liquidity: float = 0.0
    limit_log_lower: float = 0.0
    limit_log_upper: float = 0.0
    token0: float = 0.0
    token1: float = 0.0
    last_reset: float = 0.0
    deposited: float = 0.0
    hold0: float = 0.0
    hold1: float = 0.0
    fees: float = 0.0
    resets: int = 0

    @property
    def lower(self) -> float:
        return math.exp(self.log_lower)

    @property
    def upper(self) -> float:
        return math.exp(self.log_upper)

    def as_dict(self) -> dict[str, float]:
        """What the ledger keeps (JSON numbers)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> LPState:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class LPReset:
    """A reset split off its close: the close as it stands before the reset (``held``, ``value``,
    wallet moves ``units0``/``units1``), the gas of burn, collect and mint (``gas`` currency, paid
    as ``gas0``/``gas1`` units of token0/token1), the swap's cost, and the swap as the order that
    carries it (None: the wallet held both tokens, nothing to swap). ``state`` and ``new_value``:
    the position once re-deposited on the new range (what settling the reset's decision books)."""

    held: LPState
    value: float
    units0: float
    units1: float
    state: LPState
    new_value: float
    gas: float
    gas0: float
    gas1: float
    cost: float
    order: PlannedOrder | None
    fee_tier: int

    def plan(self) -> dict[str, Any]:
        """What the ledger keeps with the close until the reset's decision settles (JSON)."""
        return {"state": self.state.as_dict(), "value": self.new_value, "gas": self.gas, "gas0": self.gas0,
                "gas1": self.gas1, "cost": self.cost, "fee_tier": self.fee_tier}  # fmt: skip


@dataclass(frozen=True)
class LPClose:
    """One close of the position as the backtest makes it: its state after it, and what it changed
    in the wallet (``units0``/``units1``: token0 and token1, all moves together). ``pending``: a
    reset that swaps, split off (see `held`)."""

    pair: tuple[str, str]
    state: LPState
    deposited: bool  # the first deposit (made at the formation close's prices)
    reset: bool
    reason: str  # the reset rule's reasons (what fired, what held it back)
    in_range: bool
    fees: float
    swap_cost: float
    gas: float
    value: float
    units0: float
    units1: float
    pending: LPReset | None = None

    def held(self) -> LPClose:
        """The close without its pending reset: what the cycle books (the reset's order books the rest)."""
        r = self.pending
        if r is None:
            return self
        return replace(
            self, state=r.held, reset=False, swap_cost=self.swap_cost - r.cost,
            gas=self.gas - r.gas, value=r.value, units0=r.units0, units1=r.units1,
        )  # fmt: skip


def for_cycle(close: LPClose, mode: str, decides: bool) -> tuple[LPClose, LPClose]:
    """(what the cycle books, what its decision sees). A reset that swaps — any reset, when
    proposed — goes with the close's decision: the cycle books the close before it and the decision
    sees the wallet after it (as the backtest decides on it). A reset that cannot be decided this
    close (``decides`` False: paused, a proposal still open) does not happen. At the paper venue a
    reset with nothing to swap is booked with the close."""
    r = close.pending
    if r is None:
        return close, close
    if not decides:
        held = replace(close.held(), pending=None)
        return held, held
    if r.order is None and mode != "propose":
        whole = replace(close, pending=None)
        return whole, whole
    return close.held(), close


def check_live(provision: LiquidityProvision, mode: str, assets: tuple[str, ...]) -> None:
    """Refuse what the live position cannot run, naming the field."""
    from ballast.positions.ranges import CharmStyle

    for a in provision.pair:
        if a not in assets:
            raise InputError(
                f"[[positions]] concentrated_lp: pair asset {a!r} has no price: the service observes "
                f"{', '.join(assets)}"
            )
    if mode not in ("paper", "propose"):
        raise InputError(
            f'[[positions]] concentrated_lp: [live] executor = "{mode}" cannot hold a Uniswap range (an '
            'exchange account has no pool); use executor = "paper" (a simulated pool) or "propose" '
            "(a Safe batch of the position manager's calls)"
        )
    if mode == "propose" and isinstance(provision.policy, CharmStyle):
        raise InputError(
            '[[positions]] concentrated_lp: range policy = "charm" (a limit range, no swap) is not proposed '
            'yet; with executor = "propose" use policy "fixed", "volatility" or "quantile"'
        )
    fees = provision.fees
    series = [np.ndim(fees.apr)] if isinstance(fees, AprFees) else [np.ndim(fees.volume), np.ndim(fees.tvl)]
    if any(n != 0 for n in series):
        raise InputError(
            "[[positions]] concentrated_lp: live, fees must be a number (apr, or volume and tvl per period): "
            "the service has no fee series for the closes to come"
        )


def advance(
    provision: LiquidityProvision,
    state: LPState,
    market: Market,
    costs: Any,
    units: np.ndarray,
    cash: float,
) -> LPClose:
    """The position at ``market``'s last close, from ``state`` (after the close before it).

    ``market``: every close since the formation (row 0; the range policies and the TWAP look
    back on it), its last row this close; ``costs``: the strategy's cost model (the reset's swap);
    ``units``: the wallet's units in ``market``'s asset order, the position's tokens included,
    and ``cash``; neither is changed. A reset that swaps comes back split off as ``pending``.
    """
    from ballast.engine.liquidity_kernel import (
        C_BITS,
        C_COST,
        C_FEES,
        C_GAS,
        C_IN_RANGE,
        C_RESET,
        C_VALUE,
    )

    t = market.n_periods - 1
    if t < 1:
        raise ValueError("a liquidity position advances from the second close on")
    lp = provision.encode(market)
    costs_ = compile_costs(costs, market)
    first = state.deposited == 0.0
    after, book = _step(lp, state, market, costs_, units, cash)
    row = book.closes[t]
    fields = dict(zip(_STATE, map(float, book.state), strict=True))
    fees = float(row[C_FEES])
    reset = bool(row[C_RESET])
    new = LPState(
        **fields,
        fees=state.fees + fees,
        resets=state.resets + int(reset),
    )
    i0, i1 = (market.asset_index(a) for a in provision.pair)
    bits = int(row[C_BITS])
    close = LPClose(
        provision.pair,
        new,
        first,
        reset,
        reason_text(bits),
        bool(row[C_IN_RANGE]),
        fees,
        float(row[C_COST]) + (float(book.closes[t - 1][C_COST]) if first else 0.0),
        float(row[C_GAS]) + (float(book.closes[t - 1][C_GAS]) if first else 0.0),
        float(row[C_VALUE]),
        float(after[i0] - units[i0]),
        float(after[i1] - units[i1]),
    )
    if not reset or lp.params[P_LIMIT_TICKS] > 0:  # no reset, or Charm's (no swap): booked with the close
        return close
    rule = lp.rule.copy()
    rule[R_COOLDOWN] = math.inf  # the same close with the reset held back
    before, held_book = _step(lp._replace(rule=rule), state, market, costs_, units, cash)
    held = dict(zip(_STATE, map(float, held_book.state), strict=True))
    p0, p1 = float(market.prices[t, i0]), float(market.prices[t, i1])
    gas = float(row[C_GAS])
    gas1 = min(gas / p1, max(float(before[i1]), 0.0))  # as the step pays it: token1 first
    gas0 = (gas - gas1 * p1) / p0
    bought = float(after[i0] - before[i0]) + gas0  # token0 units the swap bought (−: sold)
    cost = float(row[C_COST])
    order = None
    if bought != 0.0:
        side = "buy" if bought > 0 else "sell"
        order = PlannedOrder(
            provision.pair[0], provision.pair[1], side, abs(bought), p0, p1, None, abs(bought) * p0, cost
        )
    pending = LPReset(
        LPState(**held, fees=new.fees, resets=state.resets),
        float(held_book.closes[t][C_VALUE]),
        float(before[i0] - units[i0]),
        float(before[i1] - units[i1]),
        new,
        close.value,
        gas,
        gas0,
        gas1,
        cost,
        order,
        provision.fee_tier,
    )
    return replace(close, pending=pending)


def _step(
    lp: Any, state: LPState, market: Market, costs: Any, units: np.ndarray, cash: float
) -> tuple[np.ndarray, Any]:
    """The compiled step at ``market``'s last close from ``state``: the wallet after it and the book."""
    from ballast.engine.liquidity_kernel import lp_step, new_book

    book = new_book(market.n_periods)
    book.state[:] = [getattr(state, k) for k in _STATE]
    after = units.astype(np.float64).copy()
    lp_step(after, float(cash), market.prices, market.n_periods - 1, costs, lp, book)
    return after, book
