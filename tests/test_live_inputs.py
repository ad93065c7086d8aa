"""Bad input and guards: malformed files, unknown assets, the database down at start or lost
mid-cycle, prices with gaps, NaN, zeros and outliers, stale prices, notional caps, pause/resume,
dry-run, proposals, and the status/approve/export commands."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from live_support import synthetic_prices, write_strategy
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from ballast.errors import InputError
from ballast.live.ledger import Ledger, LedgerUnavailable
from ballast.live.service import RunSettings, open_service

SRC = Path(__file__).resolve().parents[1] / "src"


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real command in a fresh interpreter: exit codes, stderr, no traceback."""
    e = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    return subprocess.run([sys.executable, "-m", "ballast.cli", *args], capture_output=True, text=True, env=e,
                          timeout=120)


def invoke(*args: str):  # noqa: ANN201
    """The command in this process (fast): for output checks."""
    from typer.testing import CliRunner

    from ballast.cli import app

    return CliRunner().invoke(app, list(args))


def flat(text_: str) -> str:
    return " ".join(text_.split())


def run(path: Path, db: str, **kw) -> Ledger:
    svc = open_service(str(path), RunSettings(db=db, speed="max", **kw))
    svc.run(until_end=True)
    return svc.ledger


# ---------------------------------------------------------------- malformed input
@pytest.mark.parametrize("live, message", [
    ('interval = "soon"', "[live] interval: Value error, expected a duration"),
    ('executor = "yolo"', "[live] executor: Input should be 'paper', 'ccxt' or 'propose'"),
    ("colour = 1", "[live] colour: Extra inputs are not permitted"),
    ("[live.guards]\nmax_jump = -1", "[live] guards.max_jump: Input should be greater than or equal to 0"),
    ('[live.replay]\nspeed = "fast"', "[live] replay.speed: Value error, expected 'max' or a number"),
    ("[live.holdings]\nDOGE = 5", "[live] holdings: unknown asset(s) 'DOGE'"),
])
def test_malformed_live_section_names_file_and_field(tmp_path: Path, live: str, message: str) -> None:
    path = write_strategy(tmp_path, "crypto")
    text_ = path.read_text()
    key = live.split("=")[0].strip()
    if key in ("interval", "executor"):  # replace the template's own line
        text_ = "\n".join(live if line.startswith(key + " =") else line for line in text_.splitlines())
    else:
        text_ += live + "\n"
    path.write_text(text_)
    with pytest.raises(InputError) as info:
        open_service(str(path), RunSettings(db=str(tmp_path / "x.db")))
    assert str(path) in str(info.value) or "holdings" in message
    assert message in flat(str(info.value))
    if key == "interval":  # and on the command line: exit 2, the same message, no traceback
        r = cli("run", str(path), "--db", str(tmp_path / "x.db"), "--until-end", "--quiet")
        assert r.returncode == 2 and message in flat(r.stderr) and "Traceback" not in r.stderr


def test_unknown_asset_and_bad_toml_are_clear_errors(tmp_path: Path) -> None:
    path = write_strategy(tmp_path, "crypto", weights="{ BTC = 0.5, NOPECOIN = 0.2, USDT = 0.3 }")
    r = cli("run", str(path), "--db", str(tmp_path / "x.db"), "--until-end", "--quiet")
    assert r.returncode == 2 and "unknown asset(s) 'NOPECOIN'" in flat(r.stderr) and "Traceback" not in r.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[live\ninterval = 3")
    r = invoke("run", str(bad), "--until-end", "--quiet")
    assert r.exit_code == 2 and "not valid TOML" in flat(r.stderr)
    r = invoke("run", str(tmp_path / "missing.toml"))
    assert r.exit_code == 2 and "no such strategy file" in flat(r.stderr)


def test_database_down_at_start_is_a_clear_error(tmp_path: Path) -> None:
    path = write_strategy(tmp_path, "crypto")
    r = cli("run", str(path), "--db", "postgresql://ballast:hunter2@127.0.0.1:1/nowhere", "--until-end", "--quiet")
    assert r.returncode == 2, r.stderr
    assert "is unavailable" in flat(r.stderr) and "hunter2" not in r.stderr and "Traceback" not in r.stderr
    r = invoke("status", "--db", "postgresql://ballast:hunter2@127.0.0.1:1/nowhere")
    assert r.exit_code == 2 and "is unavailable" in flat(r.stderr)


def test_database_lost_mid_cycle_leaves_no_partial_write(db_url: str, fast_tmp: Path) -> None:  # noqa: F811
    prices = synthetic_prices(fast_tmp / "p.csv", n=30)
    path = write_strategy(fast_tmp, prices, trigger='rebalance = "daily"', plan="full")
    svc = open_service(str(path), RunSettings(db=db_url, speed="max"))
    svc.run(max_cycles=5)
    led = svc.ledger
    before = led.counts()

    def die(conn, cursor, statement, params, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith("INSERT INTO FILLS"):
            raise OperationalError(statement, params, Exception("server closed the connection unexpectedly"))

    event.listen(led.engine, "before_cursor_execute", die)
    with pytest.raises(LedgerUnavailable, match="is unavailable: server closed the connection"):
        svc.run(max_cycles=1)
    event.remove(led.engine, "before_cursor_execute", die)
    after = led.counts()
    # the cycle and its decision were written whole, before sending; no fill got half-written
    assert after["cycles"] == before["cycles"] + 1 and after["decisions"] == before["decisions"] + 1
    assert after["fills"] == before["fills"]
    with led.engine.connect() as c:
        sent = c.execute(text("SELECT COUNT(*) FROM paper_venue_orders")).scalar()
    assert sent == after["fills"] + 1  # the venue has the order whose fill could not be recorded
    restarted = open_service(str(path), RunSettings(db=db_url, speed="max"))
    restarted.start()  # reconcile: that fill is read back from the venue, the unsent orders are sent
    with led.engine.connect() as c:
        per_id = c.execute(text("SELECT client_order_id, COUNT(*) FROM paper_venue_orders "
                                "GROUP BY client_order_id")).all()
    assert all(n == 1 for _, n in per_id) and len(per_id) == after["orders"]
    assert led.unfinished_decisions() == [] and led.counts()["fills"] == after["orders"]
    restarted.run(until_end=True)
    assert led.counts()["cycles"] == 30 and led.open_orders() == []


# ---------------------------------------------------------------- prices and guards
def test_nan_zero_outlier_and_gap_rows_block_trading_and_raise_alerts(fast_tmp: Path) -> None:
    df = pd.read_csv(synthetic_prices(fast_tmp / "p.csv", n=40, vol=0.01))
    df.loc[10, "ETH"] = np.nan
    df.loc[15, "BTC"] = 0.0
    df.loc[20, "BTC"] *= 10  # one-row outlier
    df.loc[30:, "ETH"] *= 3  # a real jump: confirmed by the next observation
    df = df.drop(index=[25, 26])  # a gap in the dates
    df.to_csv(fast_tmp / "dirty.csv", index=False)
    path = write_strategy(fast_tmp, fast_tmp / "dirty.csv", trigger='rebalance = "daily"', plan="full",
                          live_extra="[live.guards]\nmax_jump = 0.5")
    led = run(path, str(fast_tmp / "l.db"))
    alerts = {(a["kind"], a["asset"]) for a in led.alerts(limit=100)}
    assert alerts == {("bad_price", "ETH"), ("bad_price", "BTC"), ("price_jump", "BTC"), ("price_jump", "ETH")}
    guarded = [d for d in led.recent_decisions(100)]
    periods = [p for p, _, _ in led.history()]
    assert len(periods) == 38 - 4  # 40 rows, 2 dropped, 4 guarded (NaN, zero, outlier, first jump row)
    assert periods == list(range(len(periods)))
    decided_at = {d["observed_at"][:10] for d in guarded}
    dates = pd.to_datetime(df["date"]).dt.strftime("%Y-%m-%d").tolist()
    assert dates[10] not in decided_at and dates[15] not in decided_at and dates[20] not in decided_at
    assert dates[21] in decided_at  # back to normal: trading resumes
    assert dates[28] not in decided_at and dates[29] in decided_at  # jump confirmed on its second row
    # no decision ever used a bad price
    for d in guarded:
        assert all(np.isfinite(list(d["weights"]["before"].values())))


def test_stale_json_prices_block_trading(fast_tmp: Path) -> None:
    old = (datetime.utcnow() - timedelta(hours=10)).isoformat()
    (fast_tmp / "prices.json").write_text(json.dumps({"time": old, "prices": {"BTC": 30000, "ETH": 2000, "USDT": 1}}))
    path = write_strategy(fast_tmp, "crypto", live_extra='source = "json"\n[live.json]\nfile = "prices.json"\n'
                          "[live.guards]\nstale_after = 3")
    path.write_text(path.read_text().replace('interval = "1d"', 'interval = "1h"'))
    svc = open_service(str(path), RunSettings(db=str(fast_tmp / "l.db")))
    svc.interval = 0.01  # do not wait an hour between the cycles of a test
    svc.run(max_cycles=2)
    assert [a["kind"] for a in svc.ledger.alerts()] == ["stale_price"] * 6
    assert svc.ledger.counts()["decisions"] == 0
    # 20 s ahead (within the 60 s clock-skew allowance): with cycles 0.01 s apart the stale limit is
    # 0.03 s, which a loaded machine would exceed between writing a price "now" and reading it.
    fresh = (datetime.utcnow() + timedelta(seconds=20)).isoformat()
    (fast_tmp / "prices.json").write_text(json.dumps({"time": fresh, "prices": {"BTC": 30000, "ETH": 2000, "USDT": 1}}))
    svc.run(max_cycles=1)
    assert svc.ledger.counts()["decisions"] == 1


def test_notional_caps_per_cycle_and_per_day(fast_tmp: Path) -> None:
    prices = synthetic_prices(fast_tmp / "p.csv", n=10)
    path = write_strategy(fast_tmp, prices, trigger='rebalance = "daily"', plan="full",
                          live_extra="[live.guards]\nmax_notional_cycle = 50000")
    led = run(path, str(fast_tmp / "a.db"))
    assert led.counts()["decisions"] == 0  # forming needs ~100k of trades: blocked every cycle
    assert {a["kind"] for a in led.alerts()} == {"notional_cap"}
    path = write_strategy(fast_tmp, prices, trigger='rebalance = "daily"', plan="full",
                          live_extra="[live.guards]\nmax_notional_day = 100300", name="day.toml")
    led = run(path, str(fast_tmp / "b.db"))
    decisions = sorted(led.recent_decisions(100), key=lambda d: d["period"])
    assert decisions[0]["period"] == 0  # forming (99,920) fits the daily cap
    assert any(a["kind"] == "notional_cap" for a in led.alerts())  # the next day's trades do not
    assert 1 < len(decisions) < 10
    for d in decisions:  # within any 24 h window the traded value stays under the cap
        end = pd.Timestamp(d["observed_at"])
        window = [x["notional"] for x in decisions
                  if end - pd.Timedelta(days=1) <= pd.Timestamp(x["observed_at"]) <= end]
        assert sum(window) <= 100300


def test_pause_resume_and_dry_run(fast_tmp: Path) -> None:
    prices = synthetic_prices(fast_tmp / "p.csv", n=20)
    path = write_strategy(fast_tmp, prices, trigger='rebalance = "daily"', plan="full")
    db = str(fast_tmp / "l.db")
    Ledger(db).pause("maintenance")
    svc = open_service(str(path), RunSettings(db=db, speed="max"))
    svc.run(max_cycles=5)
    assert svc.ledger.counts()["decisions"] == 0
    assert invoke("resume", "--db", db).stdout.strip() == "resumed"
    svc.run(until_end=True)
    assert svc.ledger.counts()["decisions"] == 15  # every remaining day
    dry = run(path, str(fast_tmp / "dry.db"), dry_run=True)
    assert dry.counts()["decisions"] == 20 and dry.counts()["fills"] == 0
    assert all(d["state"] == "cancelled" and d["executor"] == "dry-run" for d in dry.recent_decisions(100))
    with dry.engine.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM paper_venue_orders")).scalar() == 0
    assert dry.holdings() == {"_cash": 100000.0}


def test_proposals_wait_for_approval_then_execute_once(fast_tmp: Path) -> None:
    prices = synthetic_prices(fast_tmp / "p.csv", n=12)
    path = write_strategy(fast_tmp, prices, trigger='rebalance = "daily"', plan="full", executor="propose",
                          live_extra='[live.propose]\nthen = "paper"\nvalid_for = "7d"\nmax_price_move = 0.5')
    db = str(fast_tmp / "l.db")
    svc = open_service(str(path), RunSettings(db=db, speed="max"))
    svc.run(max_cycles=3)
    led = svc.ledger
    pending = led.proposals("pending")
    assert len(pending) == 1 and led.counts()["fills"] == 0  # one proposal, nothing traded, no pile-up
    pid = pending[0]["id"]
    listed = json.loads(invoke("proposals", "list", "--db", db, "--json").stdout)
    assert [p["id"] for p in listed] == [pid] and listed[0]["payload"]["trades"]
    r1, r2 = invoke("approve", str(pid), "--db", db), invoke("approve", str(pid), "--db", db)
    assert r1.stdout.strip() == f"proposal {pid}: approved" and "(already)" in r2.stdout
    batch = json.loads(invoke("proposals", "export", "--preview", "--db", db).stdout)  # not marked exported
    assert [p["id"] for p in batch["proposals"]] == [pid] and len(batch["trades"]) == 3
    svc.run(max_cycles=1)  # the runner executes the approved proposal, then proposes anew
    assert led.proposal(pid)["state"] == "executed"
    assert led.counts()["fills"] == 3
    assert len(led.proposals("pending")) == 1
    with led.engine.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM paper_venue_orders")).scalar() == 3
    r = invoke("reject", str(led.proposals("pending")[0]["id"]), "--db", db, "--note", "no")
    assert "rejected" in r.stdout


def test_status_json_and_log_json(fast_tmp: Path) -> None:
    prices = synthetic_prices(fast_tmp / "p.csv", n=15)
    path = write_strategy(fast_tmp, prices, trigger="band = 0.02", plan="full")
    db = str(fast_tmp / "l.db")
    r = cli("run", str(path), "--db", db, "--speed", "max", "--until-end", "--log-json")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stderr.splitlines() if line.strip()]
    assert {"start", "decision", "end"} <= {e.get("event") for e in events}
    assert all({"time", "level", "message"} <= e.keys() for e in events)
    st = json.loads(invoke("status", "--db", db, "--json").stdout)
    assert set(st["holdings"]) == {"BTC", "ETH", "USDT"}
    assert st["targets"] == {"BTC": 0.4, "ETH": 0.3, "USDT": 0.3}
    assert set(st["drift"]) == {"BTC", "ETH", "USDT"}
    c = st["counts"]
    assert c["cycles"] == 15 and c["decisions"] >= 1 and c["fills"] == c["orders"] and c["open_alerts"] == 0
    assert {"decisions", "orders", "fills", "proposals", "open_alerts"} <= c.keys()
    human = invoke("status", "--db", db)
    assert human.exit_code == 0 and "holdings vs target" in human.stdout


def test_a_ledger_is_not_shared_between_strategies_and_must_exist_for_status(fast_tmp: Path) -> None:
    prices = synthetic_prices(fast_tmp / "p.csv", n=5)
    a = write_strategy(fast_tmp, prices, name="a.toml")
    b = write_strategy(fast_tmp, prices, trigger="band = 0.2", name="b.toml")
    b.write_text(b.read_text().replace('name = "live test"', 'name = "other"'))
    db = str(fast_tmp / "l.db")
    run(a, db)
    with pytest.raises(InputError, match="belongs to strategy 'live test', not 'other'"):
        open_service(str(b), RunSettings(db=db)).start()
    r = invoke("status", "--db", str(fast_tmp / "typo.db"))
    assert r.exit_code == 2 and "no ledger at" in flat(r.stderr)
    assert not (fast_tmp / "typo.db").exists()


def test_replay_of_a_file_without_the_target_assets_is_an_input_error(fast_tmp: Path) -> None:
    prices = synthetic_prices(fast_tmp / "p.csv", n=5)
    path = write_strategy(fast_tmp, prices, weights="{ BTC = 0.5, SOL = 0.2, USDT = 0.3 }")
    with pytest.raises(InputError, match="unknown asset.*'SOL'"):
        open_service(str(path), RunSettings(db=str(fast_tmp / "l.db")))
