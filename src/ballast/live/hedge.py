"""A delta hedge's perp leg in the live cycle, advanced one close at a time by the backtest's own
compiled steps (hedging/kernel.py) on the prices seen so far:

- `LiveHedge.settle`, before the close is valued: the mark-to-market over (t−1, t] and the period's
  funding (the strategy's constant rate, signed: a short receives a positive rate) move between the
  perp and the cash asset; the margin top-up; the maintenance-margin liquidation;
- `LiveHedge.adjust`, after the close's decision is planned: the exposure's delta *after* the
  planned trades, the target, the band (the same `HedgeBand` as the backtest) and, when the hedge
  left its band, the re-hedge to the band's nearer edge (to the target on a calendar) as an order
  on the perp, with the fee and slippage of the hedge's cost model.

The perp is an instrument, not a wallet holding: its orders name the perp's ccxt symbol
(``ETH/USDC:USDC``: a linear perpetual settled in the cash asset), their fills carry the perp's
units and, in the cash asset, only what the trade cost; the ledger keeps them out of the holdings
and derives the perp's size from them (``live/hedge_ledger.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from ballast.costs.base import CostModel
from ballast.engine.hedge import position_greeks
from ballast.engine.liquidity_kernel import S_HI, S_L, S_LHI, S_LL, S_LLO, S_LO, S_X
from ballast.enums import (
    HC_DELTA,
    HC_FEES,
    HC_FUNDING,
    HC_HALF_WIDTH,
    HC_LIQUIDATION,
    HC_PNL,
    HC_REASON,
    HC_SLIPPAGE,
    HC_TARGET,
    HC_TRADE,
    HEDGE_BAND,
    HEDGE_CALENDAR,
    HEDGE_OPEN,
    N_HEDGE_COLUMNS,
)
from ballast.errors import InputError
from ballast.hedging import DeltaHedge, LiquidityPosition, PerpPosition
from ballast.hedging.hedge import HedgeArrays
from ballast.hedging.kernel import adjust, settle
from ballast.live.liquidity import LPState
from ballast.live.records import PlannedOrder
from ballast.market import Market


def perp_symbol(asset: str, quote: str) -> str:
    """ccxt's unified symbol of the linear perpetual on ``asset`` settled in ``quote``."""
    return f"{asset}/{quote}:{quote}"


def is_perp(asset: str) -> bool:
    """A derivatives symbol (ccxt writes the settle currency after a colon; asset codes have none)."""
    return ":" in asset


def perp_cash(units: float, price: float, ref_price: float, fee: float, quote_price: float) -> float:
    """Units of the cash asset a perp fill moves: its fee, and what it was filled at away from the
    mark it was planned at (``ref_price``; the perp's next settlement marks it from there)."""
    return -(fee + units * (price - ref_price)) / quote_price


@dataclass(frozen=True)
class PerpState:
    """The perp between two closes: signed size, entry price, isolated margin, whether the hedge
    is open (the first close with a target opens it), PnL realised by reductions, and the newest
    perp fill it includes."""

    size: float = 0.0
    entry: float = 0.0
    margin: float = 0.0
    is_open: bool = False
    realised: float = 0.0
    fill_id: int = 0

    def array(self) -> np.ndarray:
        """The kernel's state (ballast.enums PERP_SIZE, PERP_ENTRY, PERP_MARGIN, PERP_OPEN)."""
        return np.array([self.size, self.entry, self.margin, 1.0 if self.is_open else 0.0])

    def filled(self, units: float, price: float, leverage: float, fill_id: int) -> PerpState:
        """After a fill of ``units`` at ``price``: the entry and realised PnL of `PerpPosition.trade`,
        the margin posted as the backtest posts it (|size|·price / leverage)."""
        pos, realised = PerpPosition(self.size, self.entry, self.margin).trade(units, price)
        return PerpState(pos.size, pos.entry_price, abs(pos.size) * price / leverage, pos.size != 0.0,
                         self.realised + realised, fill_id)  # fmt: skip


@dataclass(frozen=True)
class HedgeClose:
    """One close of the perp: its state after the settlement, what the settlement moved (``pnl``,
    ``funding`` paid (+) or received (−), a liquidation's ``penalty`` and the ``liquidated`` size),
    and, once `LiveHedge.adjust` ran, the re-hedge check and the planned order."""

    symbol: str
    quote: str
    quote_price: float
    leverage: float
    price: float
    state: PerpState
    pnl: float
    funding: float
    penalty: float
    liquidated: float
    carry: float  # currency: fills made at another mark than the one this settlement starts from
    cash: float  # units of the cash asset the settlement moved: pnl − funding − penalty + carry
    delta: float | None = None
    target: float | None = None
    half_width: float | None = None
    planned: float | None = None
    reason: str = ""
    order: PlannedOrder | None = None


def check_live(
    hedge: DeltaHedge, assets: tuple[str, ...], cash: str | None, pair: tuple[str, str] | None
) -> DeltaHedge:
    """The hedge as the service runs it (a position's exposure bound to the strategy's liquidity
    ``pair``); refuse what it cannot run, naming the ``[hedge]`` field."""
    if isinstance(hedge.exposure, LiquidityPosition) and pair is None:
        raise InputError('[hedge] exposure = "position" needs the strategy\'s liquidity position ([[positions]])')
    hedge = hedge.for_position(pair)
    if hedge.funding.series is not None:
        raise InputError(
            "[hedge] funding_file: live, funding must be a constant rate (funding = 0.0001): "
            "the service has no funding series for the closes to come"
        )
    if not cash:
        raise InputError("[hedge] the perp's margin and PnL settle in the cash asset: set [portfolio] cash")
    for field, asset in (("exposure", hedge.exposure.asset), ("instrument", hedge.instrument_asset)):
        if asset not in assets:
            raise InputError(
                f"[hedge] {field}: no price for {asset!r}: the service observes {', '.join(assets)}; "
                "add it to the strategy's assets"
            )
    return hedge


class LiveHedge:
    """The strategy's delta hedge in the service: its perp ``symbol`` and the two steps of a close."""

    def __init__(
        self, hedge: DeltaHedge, costs: CostModel | None, assets: tuple[str, ...], cash: str | None,
        pair: tuple[str, str] | None = None, slippage: float | None = None,
    ) -> None:  # fmt: skip
        self.hedge = hedge = check_live(hedge, assets, cash, pair)
        assert cash is not None
        self.costs = costs
        self.assets = assets
        self.quote = assets.index(cash)
        self.underlying = hedge.instrument_asset
        self.symbol = perp_symbol(self.underlying, cash)
        self.slippage = slippage  # limit prices at this distance from the mark (None: none)
        self._arrays: HedgeArrays | None = None

    def mark(self, prices: dict[str, float]) -> dict[str, float]:
        """The perp's mark price by its symbol: its underlying's observed price."""
        return {self.symbol: prices[self.underlying]} if self.underlying in prices else {}

    def settle(self, market: Market, state: PerpState, units: np.ndarray, carry: float = 0.0) -> HedgeClose:
        """The close at ``market``'s last row from ``state`` (after the close before it and the
        fills since, whose ``carry`` is booked with it); ``units``: the wallet in ``market``'s asset
        order (not changed)."""
        t = market.n_periods - 1
        self._arrays = arrays = self.hedge.encode(market, self.quote, np.ones(len(self.assets), np.bool_), self.costs)
        st, rows = state.array(), np.zeros((t + 1, N_HEDGE_COLUMNS))
        after = units.astype(np.float64).copy()
        settle(after, market.prices, t, self.quote, arrays, st, rows)
        row = rows[t]
        new = replace(state, size=float(st[0]), entry=float(st[1]), margin=float(st[2]), is_open=bool(st[3]))
        return HedgeClose(
            self.symbol,
            self.assets[self.quote],
            float(market.prices[t, self.quote]),
            float(self.hedge.leverage),
            float(market.prices[t, arrays.instrument]),
            new,
            float(row[HC_PNL]),
            float(row[HC_FUNDING]),
            float(row[HC_LIQUIDATION]),
            state.size if new.size != state.size else 0.0,  # a settlement changes the size only to liquidate
            carry,
            float(after[self.quote] - units[self.quote]) + carry / float(market.prices[t, self.quote]),
        )

    def adjust(
        self, close: HedgeClose, market: Market, units: np.ndarray, position: LPState | None = None
    ) -> HedgeClose:
        """The re-hedge check after the decision: ``units`` are the wallet after the close's planned
        trades (the backtest re-hedges after its rebalance); ``position``: the liquidity position after
        this close (its token0 and gamma are the exposure of ``exposure = "position"``). Adds the
        order when the hedge trades."""
        t = market.n_periods - 1
        arrays = self._arrays
        assert arrays is not None, "settle the close first"
        st, rows = close.state.array(), np.zeros((t + 1, N_HEDGE_COLUMNS))
        d, g = position_greeks(_Book(lp_kernel_state(position)), market.prices, t, arrays.exposure, arrays.token1)
        cost = float(adjust(units.astype(np.float64).copy(), market.prices, t, self.quote, arrays, st, rows, d, g))
        row = rows[t]
        size, target, hw = close.state.size, float(row[HC_TARGET]), float(row[HC_HALF_WIDTH])
        trade = float(row[HC_TRADE])
        checked = replace(close, delta=float(row[HC_DELTA]), target=target, half_width=hw, planned=size + trade)
        if trade == 0.0:
            return checked
        p, pq = close.price, close.quote_price
        side = "buy" if trade > 0 else "sell"
        limit = None if self.slippage is None else p * (1 + self.slippage if side == "buy" else 1 - self.slippage)
        assert math.isclose(cost, float(row[HC_FEES] + row[HC_SLIPPAGE]), rel_tol=1e-12, abs_tol=1e-12)
        order = PlannedOrder(self.symbol, close.quote, side, abs(trade), p, pq, limit, abs(trade) * p, cost)
        return replace(checked, reason=why(int(row[HC_REASON]), size, target, hw, trade, self.symbol), order=order)


class _Book(NamedTuple):
    state: np.ndarray


def lp_kernel_state(position: LPState | None) -> np.ndarray:
    """The fields of the liquidity kernel's state that its greeks read (zeros: no position yet)."""
    st = np.zeros(max(S_L, S_LO, S_HI, S_LL, S_LLO, S_LHI, S_X) + 1)
    if position is not None:
        st[[S_L, S_LO, S_HI, S_LL, S_LLO, S_LHI, S_X]] = (
            position.liquidity, position.log_lower, position.log_upper, position.limit_liquidity,
            position.limit_log_lower, position.limit_log_upper, position.token0,
        )  # fmt: skip
    return st


def why(bits: int, size: float, target: float, half_width: float, trade: float, symbol: str) -> str:
    """A re-hedge's reason: what fired, which side of the band the hedge was on, where it trades to."""
    side = "buy" if trade > 0 else "sell"
    move = f"{side} {abs(trade):.8g} {symbol}"
    if bits & HEDGE_OPEN:
        return f"open the hedge at the target {target:+.8g} ({move})"
    parts = []
    if bits & HEDGE_BAND:
        above = size > target + half_width
        edge = target + half_width if above else target - half_width
        where = "above" if above else "below"
        to = f"to the band's {'upper' if above else 'lower'} edge {edge:+.8g}"
        to = "to the target" if bits & HEDGE_CALENDAR else to
        parts.append(
            f"band: hedge {size:+.8g} is {where} the band [{target - half_width:+.8g}, {target + half_width:+.8g}] "
            f"around the target {target:+.8g}; {move} {to}"
        )
    if bits & HEDGE_CALENDAR:
        parts.append(f"calendar: {move} to the target {target:+.8g}")
    return "; ".join(parts)
