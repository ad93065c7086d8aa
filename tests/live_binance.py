"""A local stand-in for Binance spot's REST API: the endpoints ccxt's binance class calls to load
markets, read tickers and balances, and create, fetch and cancel orders. Bound to 127.0.0.1.

Faults are queued per endpoint: ``"503"`` answers 503 without acting, ``"timeout"`` performs the
request and then stalls past the client's timeout (so the answer is lost), ``"reject"`` answers
-2010; on cancel, ``"pending"`` acknowledges without cancelling (status PENDING_CANCEL, as a venue
that cancels asynchronously). ``fill`` says how much of a new order fills at once (1.0 = all, 0.5 =
half, then it rests; `finish` fills the rest). ``fee_asset`` is the currency fees are charged in
(BNB on Binance; valued at its price here, or 1:1 when it has none); ``min_notional`` is the
smallest order value accepted (Binance's NOTIONAL filter).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

STEP = {"BTC": "0.00001", "ETH": "0.0001"}


class FakeBinance:
    def __init__(
        self,
        prices: dict[str, float],
        balances: dict[str, float],
        quote: str = "USDT",
        fee_rate: float = 0.001,
        stall: float = 1.5,
    ) -> None:
        self.prices = dict(prices)
        self.balances = dict(balances)
        self.quote = quote
        self.fee_rate = fee_rate
        self.stall = stall
        self.faults: dict[str, list[str]] = {"create": [], "fetch": [], "cancel": []}
        self.fill = 1.0
        self.fee_asset = quote
        self.min_notional = 1.0
        self.orders: dict[str, dict[str, Any]] = {}  # by clientOrderId
        self.created: list[str] = []  # every clientOrderId that produced an order
        self.requests: list[tuple[str, str]] = []
        self.api_keys: set[str] = set()
        self.lock = threading.Lock()
        self._next_id = 1000
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeBinance":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def point(self, exchange: Any) -> Any:
        """Aim a ccxt binance object at this server."""
        api = exchange.urls["api"]
        for k, v in list(api.items()):
            if isinstance(v, str):
                api[k] = self.url + urlparse(v).path
        return exchange

    # ------------------------------------------------------------------ exchange logic
    def _market(self, base: str) -> dict[str, Any]:
        return {
            "symbol": f"{base}{self.quote}",
            "status": "TRADING",
            "baseAsset": base,
            "baseAssetPrecision": 8,
            "quoteAsset": self.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "MARKET"],
            "icebergAllowed": True,
            "ocoAllowed": False,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "permissions": ["SPOT"],
            "permissionSets": [["SPOT"]],
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "10000000", "tickSize": "0.01"},
                {
                    "filterType": "LOT_SIZE",
                    "minQty": STEP.get(base, "0.0001"),
                    "maxQty": "100000",
                    "stepSize": STEP.get(base, "0.0001"),
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": str(self.min_notional),
                    "applyMinToMarket": True,
                    "maxNotional": "9000000",
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
            ],
        }

    def _order_json(self, o: dict[str, Any], full: bool = False) -> dict[str, Any]:
        out = {
            "symbol": o["symbol"],
            "orderId": o["orderId"],
            "orderListId": -1,
            "clientOrderId": o["clientOrderId"],
            "price": f"{o['price']:.8f}",
            "origQty": f"{o['qty']:.8f}",
            "executedQty": f"{o['executed']:.8f}",
            "cummulativeQuoteQty": f"{o['quote']:.8f}",
            "status": o["status"],
            "timeInForce": "GTC",
            "type": o["type"],
            "side": o["side"],
            "time": o["time"],
            "updateTime": o["time"],
            "transactTime": o["time"],
            "isWorking": True,
            "workingTime": o["time"],
            "origQuoteOrderQty": "0.00000000",
            "selfTradePreventionMode": "NONE",
        }
        if full:
            out["fills"] = [
                {
                    "price": f"{f['price']:.8f}",
                    "qty": f"{f['qty']:.8f}",
                    "commission": f"{f['commission']:.8f}",
                    "commissionAsset": self.fee_asset,
                    "tradeId": f["tradeId"],
                }
                for f in o["fills"]
            ]
        return out

    def _execute(self, o: dict[str, Any], qty: float) -> None:
        base = o["symbol"][: -len(self.quote)]
        price = self.prices[base]
        value = qty * price
        fee = value * self.fee_rate
        sign = 1.0 if o["side"] == "BUY" else -1.0
        self.balances[base] = self.balances.get(base, 0.0) + sign * qty
        self.balances[self.quote] = self.balances.get(self.quote, 0.0) - sign * value
        if self.fee_asset != self.quote:  # charged in another currency, in its units
            fee /= self.prices.get(self.fee_asset, 1.0)
        self.balances[self.fee_asset] = self.balances.get(self.fee_asset, 0.0) - fee
        o["executed"] += qty
        o["quote"] += value
        self._next_id += 1
        o["fills"].append({"price": price, "qty": qty, "commission": fee, "tradeId": self._next_id})
        o["status"] = "FILLED" if o["executed"] >= o["qty"] - 1e-12 else "PARTIALLY_FILLED"

    def create(self, q: dict[str, str]) -> tuple[int, Any]:
        cid = q["newClientOrderId"]
        if cid in self.orders:
            return 400, {"code": -2010, "msg": "Duplicate order sent."}
        base = q["symbol"][: -len(self.quote)]
        qty = float(q["quantity"])
        side = q["side"]
        price = self.prices[base]
        if qty * price < self.min_notional:
            return 400, {"code": -1013, "msg": "Filter failure: NOTIONAL"}
        if side == "BUY" and qty * price * (1 + self.fee_rate) > self.balances.get(self.quote, 0.0) + 1e-9:
            return 400, {"code": -2010, "msg": "Account has insufficient balance for requested action."}
        if side == "SELL" and qty > self.balances.get(base, 0.0) + 1e-12:
            return 400, {"code": -2010, "msg": "Account has insufficient balance for requested action."}
        self._next_id += 1
        o = {
            "symbol": q["symbol"],
            "orderId": self._next_id,
            "clientOrderId": cid,
            "qty": qty,
            "executed": 0.0,
            "quote": 0.0,
            "side": side,
            "type": q["type"],
            "price": float(q.get("price", 0) or 0),
            "status": "NEW",
            "time": int(time.time() * 1000),
            "fills": [],
        }
        crosses = (
            q["type"] == "MARKET" or (side == "BUY" and o["price"] >= price) or (side == "SELL" and o["price"] <= price)
        )
        if crosses:
            self._execute(o, qty * self.fill)
        self.orders[cid] = o
        self.created.append(cid)
        return 200, self._order_json(o, full=True)

    def fetch(self, q: dict[str, str]) -> tuple[int, Any]:
        o = self.orders.get(q.get("origClientOrderId", ""))
        if o is None:
            return 400, {"code": -2013, "msg": "Order does not exist."}
        return 200, self._order_json(o)

    def cancel(self, q: dict[str, str], pending: bool = False) -> tuple[int, Any]:
        o = self.orders.get(q.get("origClientOrderId", ""))
        if o is None:
            return 400, {"code": -2011, "msg": "Unknown order sent."}
        if o["status"] in ("NEW", "PARTIALLY_FILLED"):
            o["status"] = "PENDING_CANCEL" if pending else "CANCELED"
        return 200, self._order_json(o)

    def finish(self) -> None:
        """The venue fills every open order's rest (also those whose cancel is still pending)."""
        with self.lock:
            for o in self.orders.values():
                if o["status"] in ("NEW", "PARTIALLY_FILLED", "PENDING_CANCEL"):
                    self._execute(o, o["qty"] - o["executed"])

    def route(self, method: str, path: str, q: dict[str, str], headers: Any) -> tuple[int, Any, float]:
        """(HTTP status, JSON body, seconds to stall before answering)."""
        out = self._route(method, path, q, headers)
        return out if len(out) == 3 else (*out, 0.0)

    def _route(self, method: str, path: str, q: dict[str, str], headers: Any) -> tuple:
        if headers.get("X-MBX-APIKEY"):
            self.api_keys.add(headers["X-MBX-APIKEY"])
        if path == "/api/v3/exchangeInfo":
            return 200, {
                "timezone": "UTC",
                "serverTime": int(time.time() * 1000),
                "rateLimits": [],
                "exchangeFilters": [],
                "symbols": [self._market(b) for b in self.prices],
            }
        if path == "/api/v3/time":
            return 200, {"serverTime": int(time.time() * 1000)}
        if path == "/api/v3/ticker/24hr":
            now = int(time.time() * 1000)
            tickers = [
                {
                    "symbol": f"{b}{self.quote}",
                    "lastPrice": f"{p:.8f}",
                    "openPrice": f"{p:.8f}",
                    "highPrice": f"{p:.8f}",
                    "lowPrice": f"{p:.8f}",
                    "volume": "1",
                    "quoteVolume": "1",
                    "openTime": now - 86_400_000,
                    "closeTime": now,
                    "count": 1,
                }
                for b, p in self.prices.items()
            ]
            if "symbol" in q:  # one market: one object, as binance answers
                return 200, next(t for t in tickers if t["symbol"] == q["symbol"])
            return 200, tickers
        if path == "/api/v3/account":
            return 200, {
                "makerCommission": 10,
                "takerCommission": 10,
                "canTrade": True,
                "accountType": "SPOT",
                "updateTime": int(time.time() * 1000),
                "permissions": ["SPOT"],
                "balances": [
                    {"asset": a, "free": f"{v:.8f}", "locked": "0.00000000"} for a, v in self.balances.items()
                ],
            }
        if path == "/api/v3/myTrades":
            o = next((o for o in self.orders.values() if str(o["orderId"]) == q.get("orderId")), None)
            fills = [] if o is None else o["fills"]
            return 200, [
                {
                    "symbol": o["symbol"],
                    "id": f["tradeId"],
                    "orderId": o["orderId"],
                    "orderListId": -1,
                    "price": f"{f['price']:.8f}",
                    "qty": f"{f['qty']:.8f}",
                    "quoteQty": f"{f['qty'] * f['price']:.8f}",
                    "commission": f"{f['commission']:.8f}",
                    "commissionAsset": self.fee_asset,
                    "time": o["time"],
                    "isBuyer": o["side"] == "BUY",
                    "isMaker": False,
                    "isBestMatch": True,
                }
                for f in fills
            ]
        if path == "/api/v3/order":
            kind = {"POST": "create", "GET": "fetch", "DELETE": "cancel"}[method]
            fault = self.faults[kind].pop(0) if self.faults[kind] else None
            if fault == "503":
                return 503, {"code": -1001, "msg": "Service unavailable"}
            if fault == "reject":
                return 400, {"code": -2010, "msg": "Order would trigger immediately (test rejection)."}
            status, body = self.cancel(q, pending=True) if fault == "pending" else getattr(self, kind)(q)
            return status, body, self.stall if fault == "timeout" else 0.0
        return 404, {"code": -1, "msg": f"no such endpoint {method} {path}"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def _go(self, method: str) -> None:
                u = urlparse(self.path)
                q = {k: v[-1] for k, v in parse_qs(u.query).items()}
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    q.update({k: v[-1] for k, v in parse_qs(self.rfile.read(n).decode()).items()})
                with fake.lock:
                    fake.requests.append((method, u.path))
                    status, body, stall = fake.route(method, u.path, q, self.headers)
                if stall:
                    time.sleep(stall)  # the work is done; the answer arrives too late
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:
                self._go("GET")

            def do_POST(self) -> None:
                self._go("POST")

            def do_DELETE(self) -> None:
                self._go("DELETE")

        return Handler
