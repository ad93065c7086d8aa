"""The ledger on SQLite and PostgreSQL: schema via migrations, holdings = start + fills,
idempotent and race-free proposal approval, pause/resume, status queries."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import inspect, text

from ballast.errors import InputError
from ballast.live.ledger import Ledger, LedgerUnavailable, PlannedDecision, PlannedOrder

T0 = datetime(2024, 1, 1)


def plan(n_orders: int = 2) -> PlannedDecision:
    orders = [PlannedOrder(asset=a, quote_asset="USDT", side="buy", quantity=1.5, ref_price=100.0, quote_price=1.0,
                           limit_price=None, notional=150.0, expected_cost=0.15)
              for a in ["BTC", "ETH"][:n_orders]]
    return PlannedDecision(reason="band: BTC at 30% vs 40% ± 5%", executor="paper", value_before=1000.0,
                           notional=150.0 * n_orders, expected_cost=0.15 * n_orders,
                           weights={"before": {"BTC": 0.3}, "target": {"BTC": 0.4}, "planned": {"BTC": 0.4}},
                           orders=orders)


def lines() -> list[dict]:
    return [{"asset": "BTC", "units": 1.0, "price": 100.0, "value": 100.0, "weight": 0.1, "target": 0.4},
            {"asset": "ETH", "units": 2.0, "price": 50.0, "value": 100.0, "weight": 0.1, "target": 0.3},
            {"asset": "USDT", "units": 800.0, "price": 1.0, "value": 800.0, "weight": 0.8, "target": 0.3}]


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from ballast.live.ledger import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def test_migrations_create_the_schema_and_reopen_is_a_no_op(db_url: str) -> None:
    led = Ledger(db_url)
    key = led.state()["ledger_key"]
    led.close()
    led = Ledger(db_url)  # second open: upgrade is a no-op, the service row survives
    assert led.state()["ledger_key"] == key
    names = set(inspect(led.engine).get_table_names())
    assert {"cycles", "prices", "decisions", "orders", "fills", "proposals", "alerts", "service_state",
            "starting_holdings", "holding_snapshots", "alembic_version"} <= names
    with led.engine.connect() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
    led.close()


def test_holdings_are_start_plus_fills_and_fills_are_idempotent(db_url: str) -> None:
    with Ledger(db_url) as led:
        assert led.start_service({"BTC": 1.0, "ETH": 2.0, "USDT": 800.0}, "s", "paper", "replay", False)
        assert not led.start_service({"BTC": 99.0}, "s", "paper", "replay", False)  # kept once
        rec = led.record_cycle(T0, 0, "decided", None, {"BTC": 100.0, "ETH": 50.0, "USDT": 1.0}, 1000.0,
                               lines(), plan())
        assert rec.decision_id is not None and len(rec.order_ids) == 2
        orders = led.order_rows(rec.decision_id)
        key = led.state()["ledger_key"]
        assert [o["client_order_id"] for o in orders] == [f"bl-{key}-{rec.decision_id}-0",
                                                          f"bl-{key}-{rec.decision_id}-1"]
        assert all(o["status"] == "planned" for o in orders)
        assert led.unfinished_decisions() == [rec.decision_id]
        assert led.record_fill(rec.order_ids[0], "t1", 1.5, 100.0, -150.15, 0.15, status="filled")
        assert not led.record_fill(rec.order_ids[0], "t1", 1.5, 100.0, -150.15, 0.15, status="filled")
        led.record_fill(rec.order_ids[1], "t2", 0.5, 100.0, -50.05, 0.05)
        led.set_order(rec.order_ids[1], "cancelled", error="stale")
        assert led.settle_decision(rec.decision_id) == "partially_filled"
        h = led.holdings()
        assert h["BTC"] == pytest.approx(2.5)
        assert h["ETH"] == pytest.approx(2.5)
        assert h["USDT"] == pytest.approx(800.0 - 150.15 - 50.05)
        assert led.unfinished_decisions() == []
        assert led.last_rebalance_period() == 0  # formation does not count
        d = led.decision(rec.decision_id)
        assert d is not None and len(d["fills"]) == 2 and d["state"] == "partially_filled"


def test_status_summary_counts_drift_and_history(db_url: str) -> None:
    with Ledger(db_url) as led:
        led.start_service({"BTC": 1.0, "ETH": 2.0, "USDT": 800.0}, "s", "paper", "replay", False)
        led.record_cycle(T0, 0, "hold", None, {"BTC": 100.0, "ETH": 50.0, "USDT": 1.0}, 1000.0, lines())
        led.record_cycle(T0 + timedelta(days=1), None, "guarded", "ETH price is NaN",
                         {"BTC": 100.0, "ETH": None, "USDT": 1.0}, None, None,
                         alerts=[("warning", "bad_price", "ETH price is NaN", "ETH")])
        st = led.status()
        assert st["holdings"] == {"BTC": 1.0, "ETH": 2.0, "USDT": 800.0}
        assert st["targets"] == {"BTC": 0.4, "ETH": 0.3, "USDT": 0.3}
        assert st["drift"]["USDT"] == pytest.approx(0.5)
        assert st["max_drift"] == pytest.approx(0.5)
        assert st["counts"]["cycles"] == 2 and st["counts"]["open_alerts"] == 1
        assert st["last_cycle"]["status"] == "guarded"
        assert [p for p, _, _ in led.history()] == [0]  # guarded cycles are not market history
        assert led.last_observed() == T0 + timedelta(days=1)
        assert [e["value"] for e in led.equity_history()] == [1000.0]
        alert = led.alerts(open_only=True)[0]
        assert alert["kind"] == "bad_price" and alert["asset"] == "ETH"
        assert led.resolve_alert(alert["id"]).changed
        assert not led.resolve_alert(alert["id"]).changed
        assert led.counts()["open_alerts"] == 0


def test_pause_resume_are_idempotent(db_url: str) -> None:
    with Ledger(db_url) as led:
        assert led.pause("maintenance").changed
        assert not led.pause("again").changed
        assert led.is_paused() and led.state()["pause_reason"] == "maintenance"
        assert led.resume().changed and not led.resume().changed
        assert not led.is_paused()


def test_concurrent_approvals_execute_once(db_url: str) -> None:
    with Ledger(db_url) as led:
        led.start_service({"USDT": 1000.0}, "s", "propose", "replay", False)
        rec = led.record_cycle(T0, 0, "decided", None, {"BTC": 100.0}, 1000.0, lines(), plan(), propose=True)
        pid = rec.proposal_id
        assert pid is not None and led.proposal(pid)["state"] == "pending"
        assert led.unfinished_decisions() == []  # waiting for approval, not for the executor
        assert led.proposal(pid)["payload"]["trades"][0]["asset"] == "BTC"

        results: list = []
        barrier = threading.Barrier(8)

        def approve() -> None:
            other = Ledger(db_url, migrate=False)
            barrier.wait()
            results.append(other.approve_proposal(pid, by="signer"))
            other.close()

        threads = [threading.Thread(target=approve) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(r.changed for r in results) == 1
        assert all(r.state in ("approved",) for r in results)

        claims: list = []
        barrier2 = threading.Barrier(4)

        def claim() -> None:
            other = Ledger(db_url, migrate=False)
            barrier2.wait()
            claims.extend(other.claim_approved())
            other.close()

        threads = [threading.Thread(target=claim) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert claims == [pid]  # exactly one runner executes it
        assert led.unfinished_decisions() == [rec.decision_id]
        batch = led.export_approved()
        assert batch["proposals"] == []  # executing, no longer merely approved


def test_reject_cancels_the_decision_and_blocks_approval(db_url: str) -> None:
    with Ledger(db_url) as led:
        led.start_service({"USDT": 1000.0}, "s", "propose", "replay", False)
        rec = led.record_cycle(T0, 0, "decided", None, {"BTC": 100.0}, 1000.0, lines(), plan(), propose=True)
        pid = rec.proposal_id
        assert led.reject_proposal(pid, by="a", note="too big").changed
        assert not led.reject_proposal(pid).changed
        with pytest.raises(InputError, match="is rejected"):
            led.approve_proposal(pid)
        assert led.decision(rec.decision_id)["state"] == "cancelled"
        assert all(o["status"] == "cancelled" for o in led.order_rows(rec.decision_id))
        with pytest.raises(InputError, match="no proposal with id 999"):
            led.approve_proposal(999)


def test_export_lists_approved_trades(db_url: str) -> None:
    with Ledger(db_url) as led:
        led.start_service({"USDT": 1000.0}, "s", "propose", "replay", False)
        a = led.record_cycle(T0, 0, "decided", None, {"BTC": 100.0}, 1000.0, lines(), plan(2), propose=True)
        b = led.record_cycle(T0 + timedelta(days=1), 1, "decided", None, {"BTC": 100.0}, 1000.0, lines(),
                             plan(1), propose=True)
        led.approve_proposal(a.proposal_id)
        batch = led.export_approved()
        assert [p["id"] for p in batch["proposals"]] == [a.proposal_id]
        assert [t["asset"] for t in batch["trades"]] == ["BTC", "ETH"]
        assert led.proposals("pending")[0]["id"] == b.proposal_id


def test_failed_transaction_writes_nothing(db_url: str) -> None:
    with Ledger(db_url) as led:
        led.start_service({"USDT": 1000.0}, "s", "paper", "replay", False)
        bad = PlannedDecision(reason="x", executor="paper", value_before=1.0, notional=1.0, expected_cost=0.0,
                              weights={}, orders=[PlannedOrder("BTC", "USDT", "buy", 1.0, 1.0, 1.0, None, 1.0, 0.0)] * 2)
        led.record_cycle(T0, 0, "decided", None, {"BTC": 1.0}, 1.0, lines(), bad)
        # the same period again violates the unique period: the whole cycle must roll back
        with pytest.raises(Exception):
            led.record_cycle(T0, 0, "decided", None, {"BTC": 1.0}, 1.0, lines(), bad)
        c = led.counts()
        assert c["cycles"] == 1 and c["decisions"] == 1 and c["orders"] == 2


def test_database_down_is_a_clear_error_without_password() -> None:
    with pytest.raises(LedgerUnavailable) as info:
        Ledger("postgresql+psycopg://ballast:s3cret@127.0.0.1:1/nowhere", connect_timeout=2)
    assert "unavailable" in str(info.value) and "s3cret" not in str(info.value)


def test_bad_url_and_missing_folder_are_input_errors(tmp_path) -> None:
    with pytest.raises(InputError, match="unsupported driver"):
        Ledger("nosuchdb://x/y")
    with pytest.raises(InputError, match="does not exist"):
        Ledger(f"sqlite:///{tmp_path}/no/such/dir/x.db")


def test_shipped_migrations_match_the_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ballast.live.ledger import Base

    with Ledger(db_url) as led, led.engine.connect() as c:
        assert compare_metadata(MigrationContext.configure(c), Base.metadata) == []
