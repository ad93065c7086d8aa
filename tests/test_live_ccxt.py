"""The ccxt executor and source against a local Binance-spot stand-in: orders carry client ids
derived from the decision, timeouts and 5xx are retried without ever duplicating an order, a
rejected order is recorded and the loop goes on, stale partial orders are cancelled, and a crash
between "sent" and "recorded" is reconciled by client id on restart."""
from __future__ import annotations

from pathlib import Path

import pytest
from live_binance import FakeBinance
from live_support import write_strategy

from ballast.config import load_strategy_file
from ballast.live.config import load_live_section
from ballast.live.ledger import Ledger
from ballast.live.service import RunSettings, open_service
from ballast.live.sources import ccxt_exchange

LIVE = """source = "ccxt"
[live.ccxt]
exchange = "binance"
order_type = "{order_type}"
slippage = 0.01
timeout_ms = 600
order_timeout = {order_timeout}
poll = 0.05
retries = 3
[live.guards]
stale_after = 1000
"""


def setup(folder: Path, fb: FakeBinance, order_type: str = "limit", order_timeout: float = 1.0):
    path = write_strategy(folder, "crypto", trigger="band = 0.05", plan="full", fee_bps=10, fixed=0,
                          executor="ccxt", live_extra=LIVE.format(order_type=order_type, order_timeout=order_timeout))
    text = path.read_text().replace('interval = "1d"', "interval = 0.05")
    path.write_text(text)
    ex = fb.point(ccxt_exchange(load_live_section(load_strategy_file(path).live, path).ccxt))
    return path, ex


def service(path: Path, folder: Path, ex, db: str | None = None):
    return open_service(str(path), RunSettings(db=db or str(folder / "ledger.db")), exchange=ex)


def assert_ledger_is_venue(led: Ledger, fb: FakeBinance) -> None:
    held = led.holdings()
    for asset in ("BTC", "ETH", "USDT"):
        assert held.get(asset, 0.0) == pytest.approx(fb.balances.get(asset, 0.0), rel=1e-9, abs=1e-8), asset
    orders = led.orders(1000)
    sent = [o["client_order_id"] for o in orders if o["exchange_order_id"]]
    assert sorted(fb.created) == sorted(sent)
    assert len(fb.created) == len(set(fb.created)), "an order was sent twice"


@pytest.fixture
def fb(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BALLAST_API_KEY", "key-from-env")
    monkeypatch.setenv("BALLAST_API_SECRET", "secret-from-env")
    with FakeBinance({"BTC": 30000.0, "ETH": 2000.0}, {"USDT": 100_000.0}) as server:
        yield server


def test_orders_fill_and_the_ledger_matches_the_exchange(fb: FakeBinance, fast_tmp: Path) -> None:
    path, ex = setup(fast_tmp, fb)
    svc = service(path, fast_tmp, ex)
    assert svc.run(max_cycles=1) == 1
    led = svc.ledger
    assert led.starting_holdings() == {"BTC": 0.0, "ETH": 0.0, "USDT": 100_000.0}  # from the account
    d = led.recent_decisions(1)[0]
    assert d["state"] == "filled" and d["executor"] == "ccxt"
    key = led.state()["ledger_key"]
    assert sorted(fb.created) == [f"bl-{key}-{d['id']}-0", f"bl-{key}-{d['id']}-1"]
    assert fb.api_keys == {"key-from-env"}  # keys come from the environment only
    assert_ledger_is_venue(led, fb)
    weights = {ln["asset"]: ln for ln in led.holdings_vs_target()}
    fb.prices["BTC"] = 45_000.0  # BTC drifts far above its band
    svc.run(max_cycles=2)
    decisions = led.recent_decisions(10)
    assert len(decisions) == 2 and decisions[0]["reason"].startswith("band: BTC")
    sides = {o["asset"]: o["side"] for o in led.decision(decisions[0]["id"])["orders"]}
    assert sides["BTC"] == "sell"
    assert_ledger_is_venue(led, fb)
    assert weights["BTC"]["target"] == pytest.approx(0.4)


def test_a_timeout_after_the_exchange_accepted_is_not_sent_again(fb: FakeBinance, fast_tmp: Path) -> None:
    path, ex = setup(fast_tmp, fb, order_type="market")
    fb.faults["create"] = ["timeout"]
    svc = service(path, fast_tmp, ex)
    svc.run(max_cycles=1)
    assert len(fb.created) == 2
    assert [m for m, p in fb.requests if p == "/api/v3/order" and m == "POST"].__len__() == 2
    assert svc.ledger.recent_decisions(1)[0]["state"] == "filled"
    assert_ledger_is_venue(svc.ledger, fb)


def test_a_5xx_before_the_exchange_acted_is_retried_once(fb: FakeBinance, fast_tmp: Path) -> None:
    path, ex = setup(fast_tmp, fb)
    fb.faults["create"] = ["503", "503"]
    svc = service(path, fast_tmp, ex)
    svc.run(max_cycles=1)
    posts = [p for m, p in fb.requests if p == "/api/v3/order" and m == "POST"]
    assert len(posts) == 4 and len(fb.created) == 2  # two failed sends, each re-sent once
    assert svc.ledger.recent_decisions(1)[0]["state"] == "filled"
    assert_ledger_is_venue(svc.ledger, fb)


def test_a_rejected_order_is_recorded_and_the_loop_goes_on(fb: FakeBinance, fast_tmp: Path) -> None:
    path, ex = setup(fast_tmp, fb)
    fb.faults["create"] = ["reject"]
    svc = service(path, fast_tmp, ex)
    svc.run(max_cycles=1)
    led = svc.ledger
    d = led.decision(led.recent_decisions(1)[0]["id"])
    assert sorted(o["status"] for o in d["orders"]) == ["filled", "rejected"]
    assert d["state"] == "partially_filled"
    rejected = next(o for o in d["orders"] if o["status"] == "rejected")
    assert "test rejection" in rejected["error"]
    assert any(a["kind"] == "order_rejected" for a in led.alerts())
    assert_ledger_is_venue(led, fb)
    svc.run(max_cycles=1)  # the next cycle still decides: the rejected asset is off target
    assert len(led.recent_decisions(10)) == 2
    again = led.decision(led.recent_decisions(1)[0]["id"])
    assert {o["asset"]: o["status"] for o in again["orders"]}[rejected["asset"]] == "filled"
    assert_ledger_is_venue(led, fb)


def test_stale_partial_orders_are_cancelled(fb: FakeBinance, fast_tmp: Path) -> None:
    path, ex = setup(fast_tmp, fb, order_timeout=0.3)
    fb.fill = 0.5
    svc = service(path, fast_tmp, ex)
    svc.run(max_cycles=1)
    led = svc.ledger
    d = led.decision(led.recent_decisions(1)[0]["id"])
    assert [o["status"] for o in d["orders"]] == ["partially_filled", "partially_filled"]
    assert d["state"] == "partially_filled"
    assert all(o["status"] == "CANCELED" for o in fb.orders.values())
    assert [m for m, p in fb.requests if m == "DELETE"].__len__() == 2
    assert_ledger_is_venue(led, fb)


def test_a_crash_between_send_and_record_is_reconciled_by_client_id(fb: FakeBinance, fast_tmp: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path, ex = setup(fast_tmp, fb)
    svc = service(path, fast_tmp, ex)

    class Crash(BaseException):
        pass

    def crash(*a, **k):
        raise Crash()

    monkeypatch.setattr(svc, "_apply", crash)
    with pytest.raises(Crash):
        svc.run(max_cycles=1)
    assert len(fb.created) == 1  # the exchange has the first order; the ledger does not know
    led = svc.ledger
    assert led.unfinished_decisions() and led.fills() == []
    monkeypatch.undo()
    restarted = service(path, fast_tmp, ex)
    restarted.start()  # reconciles before deciding anything
    assert len(fb.created) == 2 and len(set(fb.created)) == 2
    assert led.unfinished_decisions() == []
    assert led.recent_decisions(1)[0]["state"] == "filled"
    assert_ledger_is_venue(led, fb)


def test_an_unreachable_exchange_is_an_alert_not_a_crash(fb: FakeBinance, fast_tmp: Path) -> None:
    path, ex = setup(fast_tmp, fb)
    svc = service(path, fast_tmp, ex)
    svc.run(max_cycles=1)
    fb.server.shutdown()
    fb.server.server_close()
    svc.run(max_cycles=1, stop=lambda: len(svc.ledger.alerts()) >= 1)
    assert svc.ledger.alerts()[0]["kind"] == "source_unavailable"


def test_a_restart_reports_holdings_the_ledger_does_not_know(fb: FakeBinance, fast_tmp: Path) -> None:
    path, ex = setup(fast_tmp, fb)
    service(path, fast_tmp, ex).run(max_cycles=1)
    again = service(path, fast_tmp, ex)
    again.start()
    assert again.ledger.alerts() == []  # in step with the exchange
    fb.balances["USDT"] += 500.0  # a deposit made outside ballast
    third = service(path, fast_tmp, ex)
    third.start()
    alert = third.ledger.alerts()[0]
    assert alert["kind"] == "holdings_mismatch" and "USDT" in alert["message"]
