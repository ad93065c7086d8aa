"""The ccxt executor and source against a local Binance-spot stand-in: orders carry client ids
derived from the decision, timeouts and 5xx are retried without ever duplicating an order, a
rejected order is recorded and the loop goes on, stale partial orders are cancelled, and a crash
between "sent" and "recorded" is reconciled by client id on restart."""
from __future__ import annotations

from pathlib import Path

import pytest
from live_binance import FakeBinance
from live_support import Crash, crash_at, write_strategy

from ballast.config import load_strategy_file
from ballast.config.live import load_live_section
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


def setup(folder: Path, fb: FakeBinance, order_type: str = "limit", order_timeout: float = 1.0,
          trigger: str = "band = 0.05"):
    path = write_strategy(folder, "crypto", trigger=trigger, plan="full", fee_bps=10, fixed=0,
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
    crash_at(monkeypatch, svc, "_apply")
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
    again.lease.release()  # it stops: one runner per ledger
    fb.balances["USDT"] += 500.0  # a deposit made outside ballast
    third = service(path, fast_tmp, ex)
    third.start()
    alert = third.ledger.alerts()[0]
    assert alert["kind"] == "holdings_mismatch" and "USDT" in alert["message"]


# ---------------------------------------------------------------- issue 12: cancels, fees, minimums, restarts
def test_a_cancel_acknowledged_but_not_final_is_looked_up_until_the_venue_fills_it(
        fb: FakeBinance, fast_tmp: Path, db_url: str) -> None:  # noqa: F811
    path, ex = setup(fast_tmp, fb, order_timeout=0.3)
    fb.fill = 0.5  # half fills at once, the rest rests on the book
    fb.faults["cancel"] = ["pending", "pending"]  # the venue acknowledges, the cancel is not final
    svc = service(path, fast_tmp, ex, db=db_url)
    svc.run(max_cycles=1)
    led = svc.ledger
    d = led.decision(led.recent_decisions(1)[0]["id"])
    assert [o["status"] for o in d["orders"]] == ["cancel_requested", "cancel_requested"]
    assert d["state"] == "submitted" and led.unfinished_decisions() == [d["id"]]
    sent = list(fb.created)
    svc.run(max_cycles=1)  # still pending at the venue: nothing new is decided or sent
    assert fb.created == sent and len(led.recent_decisions(10)) == 1
    assert [o["status"] for o in led.order_rows(d["id"])] == ["cancel_requested", "cancel_requested"]
    fb.finish()  # ... and then the venue fills the rest instead of cancelling
    svc.run(max_cycles=1)
    assert [o["status"] for o in led.order_rows(d["id"])] == ["filled", "filled"]
    assert led.decision(d["id"])["state"] == "filled" and fb.created == sent
    assert_ledger_is_venue(led, fb)


@pytest.mark.parametrize("priced", [True, False])
def test_a_fee_charged_in_a_third_currency_is_booked(fb: FakeBinance, fast_tmp: Path, db_url: str,  # noqa: F811
                                                     priced: bool) -> None:
    fb.fee_asset = "BNB"
    fb.balances["BNB"] = 10.0
    if priced:
        fb.prices["BNB"] = 250.0  # a BNB/USDT market the fee is valued at
    path, ex = setup(fast_tmp, fb)
    svc = service(path, fast_tmp, ex, db=db_url)
    svc.run(max_cycles=1)
    led = svc.ledger
    assert_ledger_is_venue(led, fb)
    legs = [f for f in led.fills() if f["asset"] == "BNB"]
    assert len(legs) == 2 and led.holdings()["BNB"] == pytest.approx(fb.balances["BNB"] - 10.0, rel=1e-9)
    traded = sum(abs(f["quantity"]) * f["price"] for f in led.fills() if f["asset"] != "BNB")
    if priced:  # 10 bps of the traded value, paid in BNB and valued at 250 USDT per BNB
        assert sum(f["fee"] for f in legs) == pytest.approx(traded * 0.001, rel=1e-6)
        assert [a for a in led.alerts() if a["kind"] == "fee_unvalued"] == []
    else:  # no BNB market: booked in BNB units, valued 0, and said so
        assert sum(f["fee"] for f in led.fills()) == 0.0
        assert -sum(f["quantity"] for f in legs) == pytest.approx(traded * 0.001, rel=1e-6)
        assert [a["asset"] for a in led.alerts() if a["kind"] == "fee_unvalued"] == ["BNB", "BNB"]


def test_orders_below_the_venue_minimum_are_skipped_with_one_alert(fb: FakeBinance, fast_tmp: Path,
                                                                  db_url: str) -> None:  # noqa: F811
    path, ex = setup(fast_tmp, fb, trigger='rebalance = "daily"')
    fb.min_notional = 500.0
    svc = service(path, fast_tmp, ex, db=db_url)
    svc.run(max_cycles=1)  # forming: every trade is far above the minimum
    led = svc.ledger
    sent = list(fb.created)
    assert len(sent) == 2
    for _ in range(3):  # small moves: the daily rebalance wants trades of a few USDT
        fb.prices["BTC"] *= 1.001
        fb.prices["ETH"] *= 0.999
        svc.run(max_cycles=1)
    assert fb.created == sent  # nothing below the minimum reached the venue
    alerts = [a for a in led.alerts() if a["kind"] == "below_minimum"]
    assert sorted(a["asset"] for a in alerts) == ["BTC", "ETH"]  # one per asset, not one per cycle
    assert not [a for a in led.alerts() if a["kind"] == "order_rejected"]
    with led.session() as s:
        from ballast.live.ledger import Cycle

        notes = [c.note for c in s.query(Cycle).order_by(Cycle.id)][1:]
    assert len(notes) == 3 and all("below the venue's minimum" in n for n in notes)
    assert_ledger_is_venue(led, fb)


def test_no_holdings_mismatch_at_restart_while_orders_are_unresolved(fb: FakeBinance, fast_tmp: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     db_url: str) -> None:  # noqa: F811
    path, ex = setup(fast_tmp, fb)
    svc = service(path, fast_tmp, ex, db=db_url)
    crash_at(monkeypatch, svc, "_apply")
    with pytest.raises(Crash):
        svc.run(max_cycles=1)  # the venue filled the first order; the ledger has not recorded it
    monkeypatch.undo()
    fb.faults["fetch"] = ["503", "503"]  # the restart cannot look the orders up
    restarted = service(path, fast_tmp, ex, db=db_url)
    restarted.start()
    led = restarted.ledger
    assert led.unfinished_decisions() and led.alerts() == []  # not compared while unresolved
    restarted.run(max_cycles=1)  # reconciles, then compares: in step
    assert led.unfinished_decisions() == []
    assert [a for a in led.alerts() if a["kind"] == "holdings_mismatch"] == []
    assert_ledger_is_venue(led, fb)
