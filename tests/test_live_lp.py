"""A concentrated-liquidity position in the live service (paper pool), on SQLite and PostgreSQL:
a strategy file with ``[[positions]]`` replayed through ``run`` keeps the position in the ledger,
and its range, tokens, fees, resets and the wallet equal the backtest's on the same path; status
(terminal, --json) and the API show range, in-range flag and fees; ccxt is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from ballast.errors import InputError
from ballast.live.ledger import Ledger
from ballast.live.models import LedgerEntry, LiquidityMark
from ballast.live.service import RunSettings, open_service
from live_support import Crash, db_url, expire_lease, write_strategy  # noqa: F401  (fixture)

# inside, up through the upper edge (reset), down through the new lower edge (reset), back
PATH = [2000.0, 2050.0, 2150.0, 2300.0, 2250.0, 1900.0, 1800.0, 2000.0, 2010.0, 1990.0]
POSITION = """
[[positions]]
kind = "concentrated_lp"
pair = ["ETH", "USDT"]
fee_tier = 3000
share = 0.5
reset_gas = 20
range = { policy = "fixed", pct = 0.05 }
reset = { out_of_range = true }
fees = { apr = 0.2 }
"""
runner = CliRunner()


def lp_strategy(folder: Path, executor: str = "paper") -> Path:
    prices = folder / "lp-prices.csv"
    n = len(PATH)
    pd.DataFrame(
        {"date": pd.date_range("2024-01-01", periods=n).strftime("%Y-%m-%d"), "ETH": PATH, "USDT": np.ones(n)}
    ).to_csv(prices, index=False)
    path = write_strategy(
        folder, prices, weights="{ ETH = 0.5, USDT = 0.5 }", trigger="band = 0.9", plan="full", executor=executor
    )
    path.write_text(path.read_text().replace("[live]", POSITION + "\n[live]"))
    return path


def test_replay_keeps_the_position_as_the_backtest_does(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    from ballast.config import load_strategy_file
    from ballast.engine.backtest import backtest

    path = lp_strategy(tmp_path)
    svc = open_service(str(path), RunSettings(db=db_url, speed="max"))
    svc.run(until_end=True)
    led: Ledger = svc.ledger
    cfg = load_strategy_file(path)
    r = backtest(cfg.prices_path(), cfg.to_strategy(), start=cfg.data.start, end=cfg.data.end)
    book = r.liquidity
    assert r.metrics["n_rebalances"] == 0 and book.reset.iloc[1:].sum() >= 2
    with led.session() as s:
        marks = s.scalars(select(LiquidityMark).order_by(LiquidityMark.period)).all()
        entries = s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "lp")).all()
        assert [m.period for m in marks] == list(range(1, len(PATH)))
        for m in marks:
            row = book.iloc[m.period]
            assert m.reset == bool(row.reset) and m.in_range == bool(row.in_range), m.period
            assert m.fees == pytest.approx(row.fees, rel=1e-9, abs=1e-9)
            assert m.value == pytest.approx(row.value, rel=1e-9)
            assert (m.state["token0"], m.state["token1"]) == pytest.approx((row.token0, row.token1), rel=1e-9)
        pool = [e for e in entries if e.key.startswith("p")]
        legs = [e for e in entries if e.key.startswith("lp-reset:")]
        assert len(pool) == 2 * len(marks)
    # every reset that swaps is an order of its close's decision, filled by the paper venue at the
    # backtest's swap cost; its gas legs and the new range are booked with it (keys by decision)
    resets = [d for d in led.recent_decisions(100) if "liquidity: reset ETH/USDT" in d["reason"]]
    swapped = book.reset & (book.swap_cost > 0)
    assert sorted(d["period"] for d in resets) == [t for t in range(2, len(PATH)) if swapped.iloc[t]]
    assert len(resets) >= 1 and len(legs) == 2 * len(resets)
    for d in resets:
        full = led.decision(d["id"])
        assert full is not None and full["state"] == "filled" and len(full["orders"]) == len(full["fills"]) == 1
        o, f = full["orders"][0], full["fills"][0]
        assert (o["asset"], o["quote_asset"], o["client_order_id"].endswith(f"-{d['id']}-0")) == ("ETH", "USDT", True)
        assert f["fee"] == pytest.approx(book.swap_cost.iloc[d["period"]], rel=1e-9)
        assert {e.key for e in legs if e.key.startswith(f"lp-reset:{d['id']}:")} == {
            f"lp-reset:{d['id']}:ETH",
            f"lp-reset:{d['id']}:USDT",
        }
    # the wallet (formation fills + lp entries) ends with the backtest's units
    held = led.holdings()
    last = book.iloc[-1]
    assert held["ETH"] == pytest.approx(last.units0, rel=1e-9)
    assert held["USDT"] == pytest.approx(last.units1, rel=1e-9)
    st = led.status()["liquidity"]
    assert st["fees"] == pytest.approx(book.fees.sum(), rel=1e-9)
    assert st["resets"] == int(book.reset.iloc[1:].sum())
    assert (st["lower"], st["upper"]) == pytest.approx((last.lower, last.upper), rel=1e-12)
    assert st["in_range"] == bool(last.in_range)
    assert st["time_in_range"] == pytest.approx(book.in_range.iloc[1:].mean())
    # status, terminal and --json, and the API
    from ballast.api.app import create_app
    from ballast.api.security import Access
    from ballast.cli import app as cli

    out = runner.invoke(cli, ["status", "--db", db_url, "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["liquidity"]["resets"] == st["resets"]
    out = runner.invoke(cli, ["status", "--db", db_url])
    assert out.exit_code == 0, out.output
    assert "liquidity (paper pool)" in out.output and "ETH/USDT" in out.output
    client = TestClient(
        create_app(led, Access(token="t" * 24)), client=("127.0.0.1", 50000), base_url="http://127.0.0.1"
    )
    api = client.get("/status").json()["liquidity"]
    assert api["fees"] == pytest.approx(st["fees"]) and api["in_range"] == st["in_range"]


def test_a_position_is_refused_with_ccxt(tmp_path: Path) -> None:
    path = lp_strategy(tmp_path, executor="ccxt")
    with pytest.raises(InputError, match=r'strategy.toml: \[\[positions\]\].*executor = "ccxt" cannot hold a Uniswap'):
        open_service(str(path), RunSettings(db=f"sqlite:///{tmp_path / 'l.db'}", speed="max"))


def test_a_crash_while_booking_a_close_books_it_once_on_restart(
    db_url: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A crash inside the cycle's transaction, after the third close's mark and entries are
    written but before the commit: nothing of that close is kept; the restarted service books it
    once, and the ledger ends as an uninterrupted run's."""
    from ballast.live import lp_ledger

    path = lp_strategy(tmp_path)
    ref = open_service(str(path), RunSettings(db=f"sqlite:///{tmp_path / 'ref.db'}", speed="max"))
    ref.run(until_end=True)
    want, want_held = ref.ledger.status()["liquidity"], ref.ledger.holdings()
    ref.ledger.close()

    real, calls = lp_ledger.book_cycle, []

    def crash_on_the_third(*a: object, **k: object) -> None:
        calls.append(1)
        real(*a, **k)  # type: ignore[arg-type]
        if len(calls) == 3:  # written, then killed before the commit
            raise Crash()

    monkeypatch.setattr(lp_ledger, "book_cycle", crash_on_the_third)
    svc = open_service(str(path), RunSettings(db=db_url, speed="max"))
    with pytest.raises(Crash):
        svc.run(until_end=True)
    with svc.ledger.session() as s:
        assert s.scalar(select(func.count()).select_from(LiquidityMark)) == 2
    svc.ledger.close()
    monkeypatch.undo()
    expire_lease(db_url)
    again = open_service(str(path), RunSettings(db=db_url, speed="max"))
    again.run(until_end=True)
    got = again.ledger.status()["liquidity"]
    with again.ledger.session() as s:
        periods = s.scalars(select(LiquidityMark.period).order_by(LiquidityMark.period)).all()
    assert list(periods) == list(range(1, len(PATH)))
    for k in ("fees", "resets", "lower", "upper", "in_range", "token0", "token1", "value"):
        assert got[k] == pytest.approx(want[k], rel=1e-12), k
    held = again.ledger.holdings()
    assert held.keys() == want_held.keys()
    for a, u in want_held.items():
        assert held[a] == pytest.approx(u, rel=1e-12), a


def test_a_reset_whose_decision_is_not_executed_never_happens(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    """Dry run: each reset that swaps is a decision whose order is cancelled ("dry run: not sent"),
    so the position keeps its range (the rule decides again at the next close) and no reset leg is
    booked; paused: the rule's reset does not happen at all, while the pool still moves the position."""
    path = lp_strategy(tmp_path)
    svc = open_service(str(path), RunSettings(db=db_url, speed="max", dry_run=True))
    svc.run(until_end=True)
    led: Ledger = svc.ledger
    resets = [d for d in led.recent_decisions(100) if "liquidity: reset" in d["reason"]]
    assert resets and all(d["state"] == "cancelled" for d in resets)
    with led.session() as s:
        assert s.scalars(select(LedgerEntry).where(LedgerEntry.key.like("lp-reset:%"))).all() == []
        swapped = {d["period"] for d in resets}
        assert not any(m.reset for m in s.scalars(select(LiquidityMark)) if m.period in swapped)
    svc.ledger.close()

    paused = open_service(str(path), RunSettings(db=f"sqlite:///{tmp_path / 'paused.db'}", speed="max"))
    paused.run(until_end=False, max_cycles=2)  # formed, first deposit
    paused.ledger.pause("test")
    paused.run(until_end=True)
    with paused.ledger.session() as s:
        marks = s.scalars(select(LiquidityMark).order_by(LiquidityMark.period)).all()
    assert len(marks) == len(PATH) - 1 and not any(m.reset for m in marks[1:])
    assert len({(m.state["log_lower"], m.state["log_upper"]) for m in marks}) == 1  # one range throughout
    assert len({m.state["token0"] for m in marks}) > 1  # the pool moved it
    paused.ledger.close()
