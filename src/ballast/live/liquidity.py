"""A concentrated-liquidity position advanced one live close at a time, by the backtest's own step.

The live service keeps the position's state between cycles (`LPState`: the range, liquidity,
the tokens it holds, the tokens of its last deposit, its last reset, fees earned) and, at each
accepted close, runs the compiled backtest step (`engine.liquidity_kernel.lp_step`) on the prices
seen so far: the same Uniswap v3 math (positions/uniswap_v3.py), the same reset rule
(positions/resets.py `decide`), the same swap through the strategy's pool cost models. What the
step changed in the wallet comes back as an `LPClose`: the tokens the pool's traders moved, the
fees, and a reset's swap and gas — what a venue books as withdraw + swap + deposit.

Scope: the paper venue only (a simulated pool: there is no exchange to send a range to), fees
from a fee APR or from a constant volume and TVL (the live service has no volume series).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ballast.costs.base import compile_costs
from ballast.errors import InputError
from ballast.market import Market
from ballast.positions.provision import AprFees, LiquidityProvision
from ballast.positions.resets import reason_text

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
class LPClose:
    """One close of the position: its state after it, and what it changed in the wallet
    (``units0``/``units1``: token0 and token1, all moves together)."""

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


def check_live(provision: LiquidityProvision, mode: str, assets: tuple[str, ...]) -> None:
    """Refuse what the live position cannot run, naming the field."""
    for a in provision.pair:
        if a not in assets:
            raise InputError(
                f"[[positions]] concentrated_lp: pair asset {a!r} has no price: the service observes "
                f"{', '.join(assets)}"
            )
    if mode != "paper":
        raise InputError(
            f"[[positions]] concentrated_lp: the live service keeps a liquidity position at the paper venue "
            f'only (a simulated pool); executor {mode!r} has no pool to hold a range (use executor = "paper")'
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
    and ``cash``; neither is changed.
    """
    from ballast.engine.liquidity_kernel import (
        C_BITS,
        C_COST,
        C_FEES,
        C_GAS,
        C_IN_RANGE,
        C_RESET,
        C_VALUE,
        lp_step,
        new_book,
    )

    t = market.n_periods - 1
    if t < 1:
        raise ValueError("a liquidity position advances from the second close on")
    lp = provision.encode(market)
    book = new_book(market.n_periods)
    book.state[:] = [getattr(state, k) for k in _STATE]
    first = state.deposited == 0.0
    after = units.astype(np.float64).copy()
    lp_step(after, float(cash), market.prices, t, compile_costs(costs, market), lp, book)
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
    return LPClose(
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
