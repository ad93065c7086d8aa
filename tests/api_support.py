"""A seeded live ledger for the API tests, written only through the `Ledger` (no SQL).

Sixty daily cycles of BTC/ETH/USDT prices, one executed rebalance with its fills, two pending
proposals (so approving one leaves another to reject) and two alerts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ballast.live.lease import Lease
from ballast.live.ledger import Ledger, PlannedDecision, PlannedOrder

TOKEN = "test-token-0123456789abcdef"
TARGET = {"BTC": 0.4, "ETH": 0.3, "USDT": 0.3}
START = {"BTC": 4.0, "ETH": 60.0, "USDT": 30_000.0}
T0 = datetime(2024, 3, 1)
STRATEGY_TOML = """
name = "treasury 40/30/30"
[data]
prices = "crypto"
[target]
kind = "fixed"
weights = { BTC = 0.4, ETH = 0.3, USDT = 0.3 }
[trigger]
band = 0.05
[portfolio]
cash = "USDT"
"""


@dataclass(frozen=True)
class Seeded:
    url: str
    pending: tuple[int, ...]  # proposal ids waiting for approval
    executed_decision: int


def _lines(units: dict[str, float], prices: dict[str, float]) -> tuple[float, list[dict]]:
    values = {a: units[a] * prices[a] for a in units}
    total = sum(values.values())
    return total, [
        {
            "asset": a,
            "units": units[a],
            "price": prices[a],
            "value": values[a],
            "weight": values[a] / total,
            "target": TARGET[a],
        }
        for a in units
    ]


def _plan(reason: str, units: dict[str, float], prices: dict[str, float], total: float) -> PlannedDecision:
    orders = []
    for a in ("BTC", "ETH"):
        delta = (TARGET[a] * total - units[a] * prices[a]) / prices[a]
        if abs(delta) * prices[a] > 1.0:
            orders.append(
                PlannedOrder(
                    asset=a,
                    quote_asset="USDT",
                    side="buy" if delta > 0 else "sell",
                    quantity=abs(delta),
                    ref_price=prices[a],
                    quote_price=1.0,
                    limit_price=None,
                    notional=abs(delta) * prices[a],
                    expected_cost=abs(delta) * prices[a] * 1e-3,
                )
            )
    return PlannedDecision(
        reason=reason,
        executor="propose",
        value_before=total,
        notional=sum(o.notional for o in orders),
        expected_cost=sum(o.expected_cost for o in orders),
        weights={"target": TARGET},
        orders=orders,
    )


def seed_ledger(url: str, seed: int = 7) -> Seeded:
    rng = np.random.default_rng(seed)
    units = dict(START)
    prices = {"BTC": 60_000.0, "ETH": 3_000.0, "USDT": 1.0}
    pending: list[int] = []
    executed = 0
    with Ledger(url) as led:
        led.start_service(START, "treasury 40/30/30", "propose", "replay", dry_run=False)
        Lease(led, "treasury 40/30/30", expiry=24 * 3600).acquire()  # a runner holds it: "running"
        for period in range(60):
            prices = {
                "BTC": prices["BTC"] * float(np.exp(rng.normal(0.004, 0.03))),
                "ETH": prices["ETH"] * float(np.exp(rng.normal(-0.003, 0.04))),
                "USDT": 1.0,
            }
            total, lines = _lines(units, prices)
            at = T0 + timedelta(days=period)
            if period in (20, 50, 58):
                reason = f"band: ETH at {lines[1]['weight']:.2%} vs target 30.00% ± 5.00%"
                rec = led.record_cycle(
                    at, period, "decided", None, prices, total, lines, _plan(reason, units, prices, total), propose=True
                )
                if period == 20:  # approved and executed by the service: fills move the holdings
                    led.approve_proposal(rec.proposal_id, by="seed")
                    assert led.claim_approved() == [rec.proposal_id]
                    for oid, order in zip(rec.order_ids, led.order_rows(rec.decision_id), strict=True):
                        sign = 1.0 if order["side"] == "buy" else -1.0
                        q = sign * order["quantity"]
                        led.record_fill(
                            oid, f"t{oid}", q, order["ref_price"], -q * order["ref_price"] - 1.0, 1.0, status="filled"
                        )
                        units[order["asset"]] += q
                        units["USDT"] += -q * order["ref_price"] - 1.0
                    led.settle_decision(rec.decision_id)
                    executed = rec.decision_id
                else:
                    pending.append(rec.proposal_id)
            else:
                led.record_cycle(at, period, "hold", None, prices, total, lines)
        led.add_alert(
            "price_jump",
            "ETH moved 14.2% since the last observation; waiting for confirmation",
            level="warning",
            asset="ETH",
        )
        led.add_alert("stale_price", "BTC price is 3 intervals old; no trading this cycle", level="error", asset="BTC")
    return Seeded(url, tuple(pending), executed)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``ballast serve`` in a subprocess on 127.0.0.1 and a free port; stopped by ``stop()``."""

    def __init__(self, db_url: str, tmp: Path, token: str | None = TOKEN, refresh: float = 1.0) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        strategy = tmp / "strategy.toml"
        strategy.write_text(STRATEGY_TOML, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        env.pop("BALLAST_API_TOKEN", None)
        if token is not None:
            env["BALLAST_API_TOKEN"] = token
        self.log = tmp / f"server-{self.port}.log"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ballast.cli",
                "serve",
                "--db",
                db_url,
                "--port",
                str(self.port),
                "--strategy",
                str(strategy),
                "--refresh",
                str(refresh),
            ],
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self._wait()

    def _wait(self, timeout: float = 30.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.base}/status", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout}s: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def loaded_dashboard(browser: Any, server: LiveServer, height: int = 1400) -> tuple[Any, list[str]]:
    """The dashboard page of ``server``, loaded, and the list its console and page errors go to."""
    page = browser.new_page(viewport={"width": 1280, "height": height})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.base + "/")
    page.wait_for_selector("body[data-loaded=true]", timeout=20000)
    return page, errors
