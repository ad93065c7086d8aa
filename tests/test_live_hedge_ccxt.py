"""The hedge's perp through the ccxt executor, against an in-process stand-in of a derivatives venue
(no network): re-hedges go out as ``create_order`` on the perp's symbol (``ETH/USDT:USDT``) in
contracts of its ``contractSize``, with the ledger's client ids; fills come back as the perp's
units with only the fee (and the fill's distance from the mark) in cash; and the run keeps the
same hedge as the paper venue's on the same path with the same fees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ballast.live.executors import CcxtExecutor
from ballast.live.hedge import perp_cash
from ballast.live.models import Fill, HedgeMark
from ballast.live.service import RunSettings, open_service
from live_hedge_support import hedge_strategy

SYMBOL = "ETH/USDT:USDT"
LIVE = """[live.holdings]
USDT = 100000.0
[live.ccxt]
exchange = "binance"
order_type = "market"
"""


class FakeDerivativesVenue:
    """A ccxt exchange object with a spot and a linear-perp market per asset: market orders fill
    in full at ``price(asset)`` with the strategy's fees (spot 10 bps + 5, perp 4 bps)."""

    id = "fake"
    has = {"fetchOrderTrades": False}

    def __init__(self, contract_size: float = 0.1) -> None:
        self.contract_size = contract_size
        self.created: list[tuple[str, str, str, float, str]] = []  # symbol, type, side, amount, client id
        self.orders: dict[str, dict[str, Any]] = {}
        self.price = lambda asset: 0.0

    def load_markets(self) -> dict[str, Any]:
        return {}

    def market(self, symbol: str) -> dict[str, Any]:
        return {"symbol": symbol, "contractSize": self.contract_size if ":" in symbol else None, "limits": {}}

    def amount_to_precision(self, symbol: str, amount: float) -> str:
        return repr(amount)

    def price_to_precision(self, symbol: str, price: float) -> str:
        return repr(price)

    def fetch_balance(self) -> dict[str, Any]:
        return {"total": {"USDT": 100000.0}}

    def create_order(self, symbol: str, type_: str, side: str, amount: float, price: Any, params: dict[str, Any]):
        cid = params["clientOrderId"]
        self.created.append((symbol, type_, side, amount, cid))
        p = self.price(symbol.split("/")[0])
        perp = ":" in symbol
        units = amount * (self.contract_size if perp else 1.0)
        fee = units * p * (0.0004 if perp else 0.001) + (0.0 if perp else 5.0)
        raw = {"id": f"x{len(self.created)}", "status": "closed", "filled": amount, "average": p,
               "cost": units * p, "fee": {"cost": fee, "currency": "USDT"}, "clientOrderId": cid}  # fmt: skip
        self.orders[cid] = raw
        return raw

    def fetch_order(self, oid: Any, symbol: str, params: dict[str, Any]) -> dict[str, Any]:
        import ccxt

        raw = self.orders.get(params["clientOrderId"])
        if raw is None:
            raise ccxt.OrderNotFound("no such order")
        return raw


def test_a_perp_order_goes_out_in_contracts_and_books_only_its_fee() -> None:
    fake = FakeDerivativesVenue(contract_size=0.1)
    fake.price = lambda asset: 2010.0  # filled 10 above the mark it was planned at
    ex = CcxtExecutor(fake, "USDT", {}, order_type="market")
    order = {"client_order_id": "bl-k-1-0", "asset": SYMBOL, "side": "sell", "quantity": 3.0, "ref_price": 2000.0,
             "quote_price": 1.0, "limit_price": None, "filled_quantity": 0.0, "exchange_order_id": None}  # fmt: skip
    got = ex.submit(order)  # type: ignore[arg-type]
    assert fake.created == [(SYMBOL, "market", "sell", pytest.approx(30.0), "bl-k-1-0")]  # 3 ETH = 30 contracts
    (fill,) = got.fills
    fee = 3.0 * 2010.0 * 0.0004
    assert fill.quantity == pytest.approx(-3.0) and fill.price == 2010.0 and fill.fee == pytest.approx(fee)
    # a short sold 10 above its mark: the 30 gained are cash now; the rest is the fee
    assert fill.quote_quantity == pytest.approx(-fee + 30.0)
    assert fill.quote_quantity == pytest.approx(perp_cash(-3.0, 2010.0, 2000.0, fee, 1.0))
    assert ex.lookup(order).fills[0].key == fill.key  # type: ignore[arg-type, union-attr]


def run(path: Path, db: str, exchange: Any = None) -> Any:
    svc = open_service(str(path), RunSettings(db=db, speed="max", source="replay"), exchange=exchange)
    if exchange is not None:
        exchange.price = lambda asset: float(svc.history.last()[svc.assets.index(asset)])
    svc.run(until_end=True)
    return svc


def test_rehedges_through_ccxt_are_the_paper_venues(tmp_path: Path) -> None:
    (tmp_path / "paper").mkdir()
    (tmp_path / "ccxt").mkdir()
    paper = run(hedge_strategy(tmp_path / "paper", live_extra=LIVE), f"sqlite:///{tmp_path / 'p.db'}")
    fake = FakeDerivativesVenue()
    ccxt_svc = run(hedge_strategy(tmp_path / "ccxt", "ccxt", live_extra=LIVE), f"sqlite:///{tmp_path / 'c.db'}", fake)
    perp_orders = [c for c in fake.created if c[0] == SYMBOL]
    with ccxt_svc.ledger.session() as s:
        marks = s.scalars(select(HedgeMark).order_by(HedgeMark.period)).all()
        fills = s.execute(select(Fill.quantity, Fill.quote_quantity, Fill.fee).where(Fill.asset == SYMBOL)).all()
    with paper.ledger.session() as s:
        want = s.scalars(select(HedgeMark).order_by(HedgeMark.period)).all()
    rehedges = [m for m in marks if m.reason]
    assert len(perp_orders) == len(rehedges) == len(fills) >= 4
    sent = {o["client_order_id"] for o in ccxt_svc.ledger.orders(1000) if o["asset"] == SYMBOL}
    assert {c[4] for c in perp_orders} == sent
    for (_, _, side, amount, _), m, (qty, cash, fee) in zip(perp_orders, rehedges, fills, strict=True):
        assert side == ("buy" if m.planned > m.size else "sell")
        assert amount * 0.1 == pytest.approx(abs(m.planned - m.size), rel=1e-12)
        assert qty == pytest.approx(m.planned - m.size, rel=1e-12) and cash == pytest.approx(-fee, rel=1e-12)
    assert len(marks) == len(want)
    for m, w in zip(marks, want, strict=True):
        assert (m.planned, m.funding, m.pnl, m.liquidation) == pytest.approx(
            (w.planned, w.funding, w.pnl, w.liquidation), rel=1e-9, abs=1e-9
        ), m.period
    held, ref = ccxt_svc.ledger.holdings(), paper.ledger.holdings()
    for a in ("ETH", "USDT"):
        assert held[a] == pytest.approx(ref[a], rel=1e-9), a
    paper.ledger.close()
    ccxt_svc.ledger.close()
