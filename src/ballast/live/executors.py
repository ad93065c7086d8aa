"""Who carries out planned orders: a paper venue (default) or a real exchange through ccxt.

An executor speaks in client order ids. ``submit`` sends an order whose id was written to the
ledger beforehand; ``lookup`` asks the venue what became of an id (after a crash, a timeout or a
5xx), so the service can always tell "never arrived" from "arrived, answer lost" and never sends
the same order twice. ``propose`` is not an executor: the service turns decisions into proposals
and runs them through one of these once approved.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from ballast.live.hedge import is_perp, perp_cash
from ballast.live.models import PaperVenueOrder
from ballast.live.queries import LedgerQueries
from ballast.live.records import OrderRow


@dataclass(frozen=True)
class VenueFill:
    key: str  # unique per order at the venue (trade id)
    quantity: float  # signed units of the asset
    price: float
    quote_quantity: float  # signed units of the quote asset, fee included
    fee: float  # in the portfolio's currency
    gross: float | None = None  # units the order's filled amount grew by (default |quantity|)
    fee_leg: tuple[str, float, float] | None = None  # a fee in a third currency: (currency, units, value)


@dataclass(frozen=True)
class VenueOrder:
    """What the venue says about one client order id."""

    status: str  # open | filled | partially_filled | cancelled | rejected
    exchange_id: str | None = None
    fills: list[VenueFill] = field(default_factory=list)
    error: str | None = None


class TransientError(Exception):
    """Network trouble, timeouts, 5xx: the order's fate is unknown until looked up."""


class Executor(ABC):
    name: str = "executor"

    @abstractmethod
    def submit(self, order: OrderRow, price: float | None = None) -> VenueOrder:
        """Send the order (its ``client_order_id`` is already in the ledger)."""

    @abstractmethod
    def lookup(self, order: OrderRow) -> VenueOrder | None:
        """The venue's view of the order, or None if it never arrived."""

    def cancel(self, order: OrderRow) -> VenueOrder | None:
        """Cancel an open order; returns its final state as the venue reports it."""
        return self.lookup(order)

    def balances(self, assets: list[str]) -> dict[str, float] | None:
        """Units held at the venue (used as starting holdings), or None if it has no account."""
        return None

    def minimum(self, asset: str) -> tuple[float | None, float | None]:
        """The venue's smallest order of ``asset``: (units, value in the quote asset); None = no limit."""
        return None, None


CostFn = Callable[[str, float], float]  # (asset, traded value) → cost in currency


class PaperExecutor(Executor):
    """Fills every order in full at the observed price, charging the strategy's costs through the
    shared ``trade_cost``; its book lives in the ledger database as a stand-in venue."""

    name = "paper"

    def __init__(self, ledger: LedgerQueries, cost: CostFn | None = None) -> None:
        self.ledger = ledger
        self.cost = cost

    def submit(self, order: OrderRow, price: float | None = None) -> VenueOrder:
        p = order["ref_price"] if price is None else float(price)
        sign = 1.0 if order["side"] == "buy" else -1.0
        qty = sign * order["quantity"]
        value = qty * p
        if price is None or price == order["ref_price"] or self.cost is None:
            fee = order["expected_cost"]
        elif is_perp(order["asset"]):  # the hedge's own cost model: scaled with the notional
            fee = order["expected_cost"] * p / order["ref_price"]
        else:
            fee = self.cost(order["asset"], abs(value))
        if is_perp(order["asset"]):  # a perp moves only its fee (and a fill away from its mark) in cash
            quote_qty = perp_cash(qty, p, order["ref_price"], fee, order["quote_price"])
        else:
            quote_qty = -(value + fee) / order["quote_price"]
        with self.ledger.session() as s:
            row = PaperVenueOrder(
                client_order_id=order["client_order_id"],
                asset=order["asset"],
                quantity=qty,
                price=p,
                quote_quantity=quote_qty,
                fee=fee,
            )
            s.add(row)
            s.flush()
            rid = row.id
        return VenueOrder("filled", f"paper-{rid}", [VenueFill(f"paper-{rid}", qty, p, quote_qty, fee)])

    def lookup(self, order: OrderRow) -> VenueOrder | None:
        with self.ledger.session() as s:
            row = s.scalars(
                select(PaperVenueOrder)
                .where(PaperVenueOrder.client_order_id == order["client_order_id"])
                .order_by(PaperVenueOrder.id)
            ).first()
            if row is None:
                return None
            return VenueOrder(
                "filled",
                f"paper-{row.id}",
                [VenueFill(f"paper-{row.id}", row.quantity, row.price, row.quote_quantity, row.fee)],
            )


class CcxtExecutor(Executor):
    """Real orders through ccxt: market, or limit capped at ``slippage`` from the observed price.

    The client order id goes to the exchange (``clientOrderId``), so a retry after a timeout is
    first looked up by that id and only re-sent if the exchange has never seen it — and an
    exchange that has would reject the duplicate id anyway.
    """

    name = "ccxt"

    def __init__(
        self, exchange: Any, quote: str, symbols: dict[str, str], order_type: str = "limit", slippage: float = 0.005
    ) -> None:
        from ballast.live.sources import symbol_of

        self.exchange = exchange
        self.quote = quote
        # a perp's order names its ccxt symbol already (ETH/USDC:USDC)
        self.symbol: Callable[[str], str] = lambda asset: asset if is_perp(asset) else symbol_of(asset, quote, symbols)
        self.order_type = order_type
        self.slippage = slippage
        self._markets_loaded = False

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        import ccxt

        try:
            if not self._markets_loaded:
                self.exchange.load_markets()
                self._markets_loaded = True
            return fn(*args, **kwargs)
        except ccxt.OperationFailed as exc:  # network, timeouts, 5xx, rate limits: may be retried
            raise TransientError(f"{type(exc).__name__}: {str(exc)[:300]}") from None

    def limit_price(self, order: OrderRow) -> float:
        up = order["side"] == "buy"
        return order["ref_price"] * (1 + self.slippage if up else 1 - self.slippage)

    def submit(self, order: OrderRow, price: float | None = None) -> VenueOrder:
        import ccxt

        symbol = self.symbol(order["asset"])
        params = {"clientOrderId": order["client_order_id"]}
        try:
            contracts = order["quantity"] / self.contract_size(order["asset"])
            amount = float(self._call(self.exchange.amount_to_precision, symbol, contracts))
            if self.order_type == "market":
                raw = self._call(self.exchange.create_order, symbol, "market", order["side"], amount, None, params)
            else:
                limit = float(
                    self.exchange.price_to_precision(symbol, order.get("limit_price") or self.limit_price(order))
                )
                raw = self._call(self.exchange.create_order, symbol, "limit", order["side"], amount, limit, params)
        except TransientError:
            raise
        except (
            ccxt.InvalidOrder,
            ccxt.InsufficientFunds,
            ccxt.BadRequest,
            ccxt.BadSymbol,
            ccxt.PermissionDenied,
            ccxt.AuthenticationError,
            ccxt.ExchangeError,
        ) as exc:
            # A venue that already has this client id (e.g. binance's "Duplicate order sent.")
            # answers with a rejection: the order exists, so report that one instead.
            try:
                found = self.lookup(order)
            except TransientError:
                found = None
            if found is not None:
                return found
            return VenueOrder("rejected", None, [], f"{type(exc).__name__}: {str(exc)[:500]}")
        return self._convert(order, raw)

    def lookup(self, order: OrderRow) -> VenueOrder | None:
        import ccxt

        symbol = self.symbol(order["asset"])
        try:
            raw = self._call(
                self.exchange.fetch_order,
                order.get("exchange_order_id") or None,
                symbol,
                {"clientOrderId": order["client_order_id"]},
            )
        except ccxt.OrderNotFound:
            return None
        return self._convert(order, raw)

    def cancel(self, order: OrderRow) -> VenueOrder | None:
        import ccxt

        symbol = self.symbol(order["asset"])
        try:
            self._call(
                self.exchange.cancel_order,
                order.get("exchange_order_id") or None,
                symbol,
                {"clientOrderId": order["client_order_id"]},
            )
        except ccxt.OrderNotFound:
            pass
        return self.lookup(order)

    def minimum(self, asset: str) -> tuple[float | None, float | None]:
        import ccxt

        try:
            market = self._call(self.exchange.market, self.symbol(asset))
        except (ccxt.BaseError, TransientError):  # unknown symbol or venue unreachable: it judges at send
            return None, None
        limits = market.get("limits") or {}

        def low(kind: str) -> float | None:
            v = (limits.get(kind) or {}).get("min")
            return float(v) if v else None

        return low("amount"), low("cost")

    def fee_value(self, currency: str) -> float | None:
        """The venue's last price of ``currency`` in the quote asset, or None if it has none."""
        import ccxt

        try:
            last = self._call(self.exchange.fetch_ticker, f"{currency}/{self.quote}").get("last")
        except (ccxt.BaseError, TransientError):
            return None
        return float(last) if last else None

    def balances(self, assets: list[str]) -> dict[str, float] | None:
        bal = self._call(self.exchange.fetch_balance)
        total = bal.get("total") or {}
        return {a: float(total.get(a) or 0.0) for a in assets}

    def _convert(self, order: OrderRow, raw: dict[str, Any]) -> VenueOrder:
        """ccxt's unified order → fills. The whole filled amount is one fill keyed by the filled
        amount, so polling a growing partial fill records only the increments."""
        status = {
            "open": "open",
            "closed": "filled",
            "canceled": "cancelled",
            "cancelled": "cancelled",
            "expired": "cancelled",
            "rejected": "rejected",
        }.get(str(raw.get("status")), "open")
        filled = float(raw.get("filled") or 0.0) * self.contract_size(order["asset"])
        sign = 1.0 if order["side"] == "buy" else -1.0
        fills: list[VenueFill] = []
        already = float(order.get("filled_quantity") or 0.0)
        if filled > already and is_perp(order["asset"]):
            fills.append(self._perp_fill(order, raw, filled, already))
        elif filled > already:
            cost = float(raw.get("cost") or 0.0)
            avg = float(raw.get("average") or (cost / filled if filled else 0.0) or order["ref_price"])
            fee_cost, fee_ccy = self._fee(order, raw)
            part = (filled - already) / filled
            fee_quote = fee_cost * part if fee_ccy in (None, self.quote) else 0.0
            fee_base = fee_cost * part if fee_ccy == order["asset"] else 0.0
            leg = None
            if fee_cost and fee_ccy not in (None, self.quote, order["asset"]):  # e.g. BNB on binance
                rate = self.fee_value(fee_ccy)
                leg = (fee_ccy, fee_cost * part, fee_cost * part * rate if rate else 0.0)
            qty = sign * (filled - already) - fee_base
            quote_qty = -sign * (cost or avg * filled) * part - fee_quote
            fills.append(
                VenueFill(
                    f"{raw.get('id')}:{filled!r}",
                    qty,
                    avg,
                    quote_qty,
                    fee_quote + fee_base * avg,
                    filled - already,
                    leg,
                )
            )
        if status == "cancelled" and filled > 0:
            status = "partially_filled"
        return VenueOrder(status, str(raw.get("id")) if raw.get("id") is not None else None, fills)

    def contract_size(self, asset: str) -> float:
        """Units of the underlying per contract: 1 for spot; a perp market's ``contractSize``."""
        if not is_perp(asset):
            return 1.0
        market = self._call(self.exchange.market, asset)
        return float(market.get("contractSize") or 1.0)

    def _perp_fill(self, order: OrderRow, raw: dict[str, Any], filled: float, already: float) -> VenueFill:
        """A perp's fill increment: units of the contract, and in the settle currency only the fee
        and the fill's distance from the mark it was planned at (`perp_cash`)."""
        sign = 1.0 if order["side"] == "buy" else -1.0
        avg = float(raw.get("average") or raw.get("price") or order["ref_price"])
        fee_cost, fee_ccy = self._fee(order, raw)
        part = (filled - already) / filled
        qty = sign * (filled - already)
        fee, leg = fee_cost * part, None
        if fee and fee_ccy not in (None, self.quote):  # e.g. BNB: its own leg, as a spot fill's
            rate = self.fee_value(fee_ccy)
            fee, leg = 0.0, (fee_ccy, fee, fee * rate if rate else 0.0)
        cash = perp_cash(qty, avg, order["ref_price"], fee, order["quote_price"])
        return VenueFill(f"{raw.get('id')}:{filled!r}", qty, avg, cash, fee, filled - already, leg)

    def _fee(self, order: OrderRow, raw: dict[str, Any]) -> tuple[float, str | None]:
        """The order's total fee. An order read back by id usually carries none (binance's
        GET /order), so then the fee is summed from the order's trades."""
        fee = raw.get("fee")
        if fee and fee.get("cost") is not None:
            return float(fee["cost"]), fee.get("currency")
        fees = raw.get("fees") or []
        if any(f.get("cost") is not None for f in fees):
            return sum(float(f.get("cost") or 0.0) for f in fees), fees[0].get("currency")
        if not self.exchange.has.get("fetchOrderTrades") or raw.get("id") is None:
            return 0.0, None
        trades = self._call(self.exchange.fetch_order_trades, str(raw["id"]), self.symbol(order["asset"]))
        cost, ccy = 0.0, None
        for tr in trades:
            f = tr.get("fee") or {}
            cost += float(f.get("cost") or 0.0)
            ccy = ccy or f.get("currency")
        return cost, ccy


def wait_backoff(attempt: int) -> None:
    time.sleep(min(0.2 * 2**attempt, 5.0))
