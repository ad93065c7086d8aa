"""Damaged ledger files and `ballast ledger backup/restore`: `run` and `status` on a truncated,
garbled or foreign file say what is wrong, that nothing was changed and how to recover — no
traceback, the file untouched; a backup taken while a runner holds the ledger restores to the
same ledger; nothing is overwritten without --force."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from live_support import fast_tmp, synthetic_prices, write_strategy  # noqa: F401
from typer.testing import CliRunner

from ballast.cli import app
from ballast.live.lease import Lease
from ballast.live.ledger import Ledger
from ballast.live.service import RunSettings, open_service

runner = CliRunner()


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A ledger with 60 replayed days of trading, and its strategy file."""
    folder = tmp_path_factory.mktemp("ledger")
    prices = synthetic_prices(folder / "prices.csv", n=60, seed=5)
    strategy = write_strategy(folder, prices, trigger='rebalance = "daily"', plan="full")
    svc = open_service(str(strategy), RunSettings(db=str(folder / "good.db"), speed="max"))
    svc.run(until_end=True)
    svc.ledger.close()
    return folder / "good.db", strategy


def damaged(good: Path, folder: Path, kind: str) -> Path:
    data = good.read_bytes()
    path = folder / f"{kind}.db"
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "garbage":
        path.write_bytes(b"this is a spreadsheet, not a ledger\n" * 200)
    elif kind == "zeroed":
        path.write_bytes(data[:4096] + b"\0" * (len(data) - 4096))
    else:  # foreign: a healthy SQLite database of something else
        import sqlite3

        con = sqlite3.connect(path)
        con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
        con.commit()
        con.close()
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind, says", [("truncated", "truncated at"), ("garbage", "not a ballast ledger"),
                                        ("zeroed", "cannot be used"), ("foreign", "not a ballast ledger")])
def test_run_and_status_on_a_damaged_file_explain_and_change_nothing(good, tmp_path, kind, says) -> None:
    db, strategy = good
    path = damaged(db, tmp_path, kind)
    before = digest(path)
    for args in (["status", "--db", str(path)], ["run", str(strategy), "--db", str(path), "--until-end", "--quiet"]):
        out = runner.invoke(app, args)
        text = " ".join(out.output.split())
        assert out.exit_code == 2, text
        assert out.exception is None or isinstance(out.exception, SystemExit)
        assert says in text and "Nothing was changed" in text and "Traceback" not in text
        if kind != "foreign":
            assert "ballast ledger restore" in text
        assert digest(path) == before


def test_backup_while_running_then_restore_over_a_damaged_ledger(good, tmp_path) -> None:
    db, _ = good
    live = tmp_path / "live.db"
    live.write_bytes(db.read_bytes())
    with Ledger(str(live)) as led:
        Lease(led, "live test", expiry=3600).acquire()  # a runner is on it while we back it up
        expected = (led.holdings(), led.counts())
        backup = tmp_path / "backup.db"
        assert runner.invoke(app, ["ledger", "backup", "--db", str(live), str(backup)]).exit_code == 0
        refused = runner.invoke(app, ["ledger", "backup", "--db", str(live), str(backup)])
        assert refused.exit_code == 2 and "already exists" in refused.output
        running = runner.invoke(app, ["ledger", "restore", str(backup), "--db", str(live), "--force"])
        assert running.exit_code == 2 and "in use by runner" in " ".join(running.output.split())
    broken = damaged(db, tmp_path, "truncated")
    kept = digest(broken)
    refused = runner.invoke(app, ["ledger", "restore", str(backup), "--db", str(broken)])
    assert refused.exit_code == 2 and "--force" in refused.output and digest(broken) == kept
    out = runner.invoke(app, ["ledger", "restore", str(backup), "--db", str(broken), "--force"])
    assert out.exit_code == 0, out.output
    aside = next(tmp_path.glob("truncated.db.replaced-*"))
    assert digest(aside) == kept  # the old file is kept, not deleted
    with Ledger(str(broken)) as led:
        assert (led.holdings(), led.counts()) == expected
        assert not led.state()["running"]  # the restored copy is nobody's yet


def test_restore_refuses_a_backup_that_is_not_a_ledger(good, tmp_path) -> None:
    garbage = damaged(good[0], tmp_path, "garbage")
    out = runner.invoke(app, ["ledger", "restore", str(garbage), "--db", str(tmp_path / "new.db")])
    assert out.exit_code == 2 and "not a ballast ledger" in " ".join(out.output.split())
    assert not (tmp_path / "new.db").exists()


def test_postgresql_backup_points_to_pg_dump() -> None:
    out = runner.invoke(app, ["ledger", "backup", "--db", "postgresql://u:secret@localhost/x", "out.db"])
    assert out.exit_code == 2 and "pg_dump" in out.output and "secret" not in out.output
