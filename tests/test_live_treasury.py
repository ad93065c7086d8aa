"""Yields and flows in the live ledger: a replay books the backtest's accruals and flows as entries,
holdings = start + fills + entries, a crash never books a close twice, `ballast flow add`, and
runway in `status` and the API."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ballast.config import load_strategy_file
from ballast.engine.backtest import backtest
from ballast.errors import InputError
from ballast.live.ledger import CASH, Ledger
from ballast.live.service import RunSettings, open_service
from ballast.live.treasury import add_flow, entries
from live_support import Crash, assert_same_trades_and_holdings

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dao-treasury.toml"
runner = CliRunner()


def treasury_file(
    folder: Path, start: str = "2021-01-01", end: str = "2021-06-30", routing: str = "cash", extra: str = ""
) -> Path:
    """The example treasury (yields, a monthly spend, quarterly revenue) over a short window, plus
    a payout-mode yield on BTC and a dated grant in ETH (``grants.csv``)."""
    pd.DataFrame({"date": ["2021-02-10", "2021-04-03"], "asset": ["ETH", ""], "amount": [-40.0, 250_000.0]}).to_csv(
        folder / "grants.csv", index=False
    )
    text = (
        EXAMPLE.read_text()
        .replace('start = "2018-01-01"', f'start = "{start}"\nend = "{end}"')
        .replace('routing = "rebalance"', f'routing = "{routing}"')
        .replace("USDC = 0.04 ", 'BTC = { apy = 0.02, mode = "payout" }\nUSDC = 0.04 ')
        .replace("[treasury]", '[[flows]]\nfile = "grants.csv"\n\n[treasury]')
    )
    path = folder / "dao.toml"
    path.write_text(text + f'\n[live]\ninterval = "1d"\n{extra}\n', encoding="utf-8")
    return path


def replay(path: Path, db: str) -> Ledger:
    svc = open_service(str(path), RunSettings(db=db, speed="max"))
    svc.run(until_end=True)
    return svc.ledger


def by_period(rows: list[dict], kinds: tuple[str, ...]) -> dict[tuple[int, str], float]:
    out: dict[tuple[int, str], float] = {}
    for e in rows:
        if e["kind"] in kinds:
            out[(e["period"], e["asset"])] = out.get((e["period"], e["asset"]), 0.0) + e["value"]
    return out


def test_replay_books_the_backtests_accruals_and_flows_and_trades(tmp_path: Path, fast_tmp: Path) -> None:
    path = treasury_file(tmp_path)
    led = replay(path, str(fast_tmp / "l.db"))
    r = assert_agrees_with_backtest(led, path)
    assert not any(e["kind"] == "routing" for e in entries(led, 100_000))  # paid from the cash asset only
    earned_live = {
        name: sum(e["value"] for e in entries(led, 100_000) if e["kind"] == "accrual" and e["asset"] == name)
        for name in r.market.assets
    }
    earned_bt = r.treasury.yield_by_asset.iloc[-1]
    # a payout is earned in BTC (backtest) and booked as USDC units (live): compare the totals
    assert sum(earned_live.values()) == pytest.approx(float(earned_bt.sum()), rel=1e-9)
    assert earned_live["ETH"] == pytest.approx(float(earned_bt["ETH"]), rel=1e-9)
    assert not any(e["asset"] == "BTC" and e["kind"] == "accrual" for e in entries(led, 100_000))
    led.close()


@pytest.mark.parametrize("routing", ["rebalance", "pro-rata"])
def test_replay_routes_flows_by_selling_as_the_backtest(routing: str, tmp_path: Path, db_url: str) -> None:
    """Routing by selling (the shipped dao-treasury.toml uses ``rebalance``): the replay's trades,
    flows and final holdings are the backtest's, and each close's routing entries cost exactly
    what the backtest's flow costs were."""
    path = treasury_file(tmp_path, routing=routing)
    led = replay(path, db_url)
    r = assert_agrees_with_backtest(led, path)
    rows = entries(led, 100_000)
    routed = by_period(rows, ("routing",))
    # spends that sold other holdings (under rebalance, those when USDC is not the most overweight)
    assert len({k for k, _ in routed}) >= 3
    moved = {k: 0.0 for k, _ in routed}
    for (k, _), v in routed.items():
        moved[k] += v
    cost = r.raw.treasury.cost
    for k, v in moved.items():  # the legs are value-neutral but for their costs
        assert v == pytest.approx(-cost[k], rel=1e-6, abs=1e-6), k
    assert cost.sum() > 0 and set(np.flatnonzero(cost).tolist()) <= set(moved)
    check_identity(led)
    led.close()


def assert_agrees_with_backtest(led: Ledger, path: Path) -> Any:
    """The replay made the backtest's trades, paid its flows close by close and ends with its holdings."""
    cfg = load_strategy_file(path)
    r = backtest(cfg.prices_path(), cfg.to_strategy(), start=cfg.data.start, end=cfg.data.end)
    assets = r.market.assets
    assert_same_trades_and_holdings(led, r, "USDC")
    # the same flows, close by close
    rows = entries(led, 100_000)
    flows_bt = {
        (int(k), name): v
        for k, row in enumerate(r.treasury.flows_by_asset.to_numpy())
        for name, v in zip(assets, row, strict=True)
        if v != 0.0
    }
    flows_live = by_period(rows, ("deposit", "withdrawal"))
    assert flows_live.keys() == flows_bt.keys() and len(flows_bt) == 7
    for key, v in flows_bt.items():
        assert flows_live[key] == pytest.approx(v, rel=1e-9), key
    assert abs(led.holdings().get(CASH, 0.0)) < 1e-6
    return r


def identity(led: Ledger) -> dict[str, float]:
    """start + both legs of every fill + every entry, summed here in Python (independently of SQL)."""
    out: dict[str, float] = dict(led.starting_holdings())
    for f in led.fills():
        out[f["asset"]] = out.get(f["asset"], 0.0) + f["quantity"]
        out[f["quote_asset"]] = out.get(f["quote_asset"], 0.0) + f["quote_quantity"]
    for e in entries(led, 1_000_000):
        out[e["asset"]] = out.get(e["asset"], 0.0) + e["units"]
    return out


def check_identity(led: Ledger) -> None:
    held, summed = led.holdings(), identity(led)
    assert set(held) == set(summed)
    # SQL and Python add in different orders: a sum that cancels to ~0 differs by rounding of the
    # legs' size (not of the result's), so the tolerance scales with the largest leg.
    legs: dict[str, float] = dict.fromkeys(held, 0.0)
    for a, u in led.starting_holdings().items():
        legs[a] = max(legs[a], abs(u))
    for f in led.fills():
        legs[f["asset"]] = max(legs[f["asset"]], abs(f["quantity"]))
        legs[f["quote_asset"]] = max(legs[f["quote_asset"]], abs(f["quote_quantity"]))
    for e in entries(led, 1_000_000):
        legs[e["asset"]] = max(legs[e["asset"]], abs(e["units"]))
    for a in held:
        assert abs(held[a] - summed[a]) <= 1e-13 * legs[a] * (1 + len(legs)) + 1e-9, a


def test_a_crash_at_the_booking_or_after_it_books_each_close_once(
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ballast.live.treasury as treasury

    # routed by rebalancing: the flows' routing entries are booked (and fenced) with the cycle too
    path = treasury_file(tmp_path, "2021-01-01", "2021-04-15", routing="rebalance")
    reference = replay(path, f"sqlite:///{tmp_path / 'ref.db'}")
    expect = {e["key"]: e["units"] for e in entries(reference, 100_000)}
    ref_held = reference.holdings()
    reference.close()

    real_book, real_record = treasury.book_cycle, Ledger.record_cycle
    calls = {"book": 0, "record": 0}

    def book_then_die(*a: object, **k: object) -> None:  # dies inside the cycle's transaction
        calls["book"] += 1
        if calls["book"] in (20, 45):
            raise Crash()
        real_book(*a, **k)

    def record_then_die(self: Ledger, *a: object, **k: object) -> object:  # dies just after the commit
        out = real_record(self, *a, **k)
        calls["record"] += 1
        if calls["record"] in (30, 60):
            raise Crash()
        return out

    monkeypatch.setattr(treasury, "book_cycle", book_then_die)
    monkeypatch.setattr(Ledger, "record_cycle", record_then_die)
    crashes = 0
    for _ in range(10):
        svc = open_service(str(path), RunSettings(db=db_url, speed="max"))
        try:
            svc.run(until_end=True)
        except Crash:
            crashes += 1
            svc.ledger.close()
            continue
        break
    assert crashes == 4
    led = svc.ledger
    got = entries(led, 100_000)
    assert len(got) == len({e["key"] for e in got}) == len(expect)
    for e in got:
        assert e["units"] == pytest.approx(expect[e["key"]], rel=1e-9), e["key"]
    held = led.holdings()
    for a, u in ref_held.items():
        assert held[a] == pytest.approx(u, rel=1e-9, abs=1e-6), a
    check_identity(led)
    led.close()


def test_routing_by_selling_is_refused_with_a_real_venue_naming_the_field(tmp_path: Path) -> None:
    path = treasury_file(tmp_path, routing="rebalance")
    db = tmp_path / "never.db"
    with pytest.raises(InputError, match=r"dao\.toml: \[treasury\] routing = 'rebalance'.*ccxt.*routing = \"cash\""):
        open_service(str(path), RunSettings(db=str(db), speed="max", executor="ccxt"))
    assert not db.exists()  # refused before a ledger is created


@pytest.fixture(scope="module")
def booked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger after a short replay of the treasury (SQLite), copied per test."""
    folder = tmp_path_factory.mktemp("booked")
    path = treasury_file(folder, "2021-01-01", "2021-02-20")
    replay(path, str(folder / "ledger.db")).close()
    return folder / "ledger.db"


def copy_of(booked: Path, folder: Path) -> str:
    import shutil

    shutil.copy(booked, folder / "l.db")
    return str(folder / "l.db")


def test_flow_add_records_deposits_and_withdrawals_and_refuses_bad_input(booked: Path, tmp_path: Path) -> None:
    from ballast.cli import app

    db = copy_of(booked, tmp_path)
    with Ledger(db) as led:
        before = led.holdings()
    ok = runner.invoke(
        app, ["flow", "add", "--db", db, "USDC", "250000", "--note", "grant received", "--at", "2021-02-21T09:30"]
    )
    assert ok.exit_code == 0, ok.output
    assert "deposit of 250,000 USDC" in ok.output
    out = runner.invoke(app, ["flow", "add", "--db", db, "ETH", "-1.5"])
    assert out.exit_code == 0, out.output
    with Ledger(db) as led:
        after = led.holdings()
        assert after["USDC"] == pytest.approx(before["USDC"] + 250_000, rel=1e-12)
        assert after["ETH"] == pytest.approx(before["ETH"] - 1.5, rel=1e-12)
        manual = [e for e in entries(led) if e["source"] == "manual"]
        assert [(e["asset"], e["kind"]) for e in manual] == [("ETH", "withdrawal"), ("USDC", "deposit")]
        assert manual[1]["note"] == "grant received" and manual[1]["entry_at"] == "2021-02-21T09:30:00Z"
        check_identity(led)
    bad = {
        ("USDC", "-1e12"): "cannot withdraw 1e+12 USDC: the ledger holds only",
        ("DOGE", "5"): "unknown asset 'DOGE'; the ledger holds BTC, ETH, USDC",
        ("USDC", "lots"): "AMOUNT must be a number",
        ("USDC", "0"): "AMOUNT must be a non-zero number",
        ("USDC", "nan"): "AMOUNT must be a non-zero number",
    }
    for (asset, amount), message in bad.items():
        res = runner.invoke(app, ["flow", "add", "--db", db, asset, amount])
        assert res.exit_code == 2 and message in " ".join(res.output.split()), (asset, amount, res.output)
        assert "Traceback" not in res.output
    res = runner.invoke(app, ["flow", "add", "--db", db, "USDC", "5", "--at", "yesterday"])
    assert res.exit_code == 2 and "--at must be a date" in res.output
    with Ledger(db) as led:
        assert led.holdings() == after  # nothing written by any refused flow


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["BTC", "ETH", "USDC"]),
            st.floats(-2.0, 2.0, allow_nan=False).filter(lambda x: abs(x) > 1e-6),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_holdings_are_start_plus_fills_plus_entries_whatever_is_added(
    booked: Path,
    fast_tmp: Path,
    moves: list[tuple[str, float]],
) -> None:
    db = copy_of(booked, fast_tmp)
    with Ledger(db) as led:
        held = led.holdings()
        scale = {a: abs(held[a]) for a in ("BTC", "ETH", "USDC")}
        for asset, share in moves:  # a share of the holding: > 1 withdrawn is more than held
            amount = share * held[asset]
            if amount == 0.0:
                continue
            if amount < 0 and -amount > held[asset]:
                with pytest.raises(InputError, match="cannot withdraw"):
                    add_flow(led, asset, amount)
            else:
                add_flow(led, asset, amount)
                held[asset] += amount
            now = led.holdings()
            assert now[asset] == pytest.approx(held[asset], rel=1e-12, abs=1e-12 * scale[asset])
            assert all(now[a] >= -1e-12 * scale[a] for a in scale)  # never below zero by a flow
        check_identity(led)


def test_runway_in_status_and_the_api_is_the_reserve_over_the_spend(booked: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from ballast.api.app import create_app
    from ballast.api.security import Access
    from ballast.cli import app

    db = copy_of(booked, tmp_path)
    with Ledger(db) as led:
        rw = led.status()["runway"]
        usdc = next(r for r in led.holdings_vs_target() if r["asset"] == "USDC")
        # by hand: 150 000 a month out, 200 000 a quarter in; the reserve earns 4 % a year
        spend = 150_000 - 200_000 / 3
        y = 1.04 ** (1 / 12) - 1
        reserve = usdc["units"] * usdc["price"]
        months = -math.log(1 - y * reserve / spend) / math.log(1 + y)
        assert rw["reserve_asset"] == "USDC" and rw["reserve_value"] == pytest.approx(reserve, rel=1e-12)
        assert rw["spend_per_month"] == pytest.approx(spend, rel=1e-12)
        assert rw["reserve_yield_month"] == pytest.approx(y, rel=1e-9)
        assert rw["months"] == pytest.approx(months, rel=1e-9) and not rw["infinite"]
        # a withdrawal from the reserve shortens it at once (read from the ledger, not the last cycle)
        add_flow(led, "USDC", -reserve / 2)
        half = led.status()["runway"]["months"]
        assert half == pytest.approx(-math.log(1 - y * reserve / 2 / spend) / math.log(1 + y), rel=1e-9)
        c = TestClient(
            create_app(led, Access(token="t" * 32)), client=("127.0.0.1", 1), base_url="http://localhost:8000"
        )
        api = c.get("/status").json()["runway"]
        assert api["months"] == pytest.approx(half, rel=1e-12) and api["reserve_asset"] == "USDC"
    out = runner.invoke(app, ["status", "--db", db])
    assert out.exit_code == 0 and "runway" in out.output and f"{half:,.1f} months" in out.output


def test_a_strategy_without_flows_has_no_runway_and_books_nothing(tmp_path: Path, fast_tmp: Path) -> None:
    from live_support import write_strategy

    path = write_strategy(tmp_path, "crypto", data_extra='start = "2021-01-01"\nend = "2021-01-31"')
    led = replay(path, str(fast_tmp / "plain.db"))
    assert entries(led) == [] and led.status()["runway"] is None
    led.close()


def test_a_shortfall_is_booked_as_far_as_the_cash_goes_and_alerted(tmp_path: Path, fast_tmp: Path) -> None:
    path = treasury_file(tmp_path, "2021-01-01", "2021-04-15")
    text = path.read_text().replace('spend = "150000/month"', 'spend = "8000000/month"')
    path.write_text(text)
    led = replay(path, str(fast_tmp / "short.db"))
    cfg = load_strategy_file(path)
    r = backtest(cfg.prices_path(), cfg.to_strategy(), start=cfg.data.start, end=cfg.data.end)
    assert float(r.treasury.shortfalls["shortfall"].sum()) > 0
    assert any(a["kind"] == "shortfall" for a in led.alerts(limit=1000))
    assert led.holdings()["USDC"] >= -1e-9
    final_units = r.raw.weights[-1] * r.raw.equity[-1] / r.market.prices[-1]
    for i, name in enumerate(r.market.assets):
        assert led.holdings()[name] == pytest.approx(final_units[i], rel=1e-9, abs=1e-6), name
    led.close()
    assert np.isfinite(final_units).all()
