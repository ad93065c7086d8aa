"""Issue 12 on the paper path: an approved proposal is re-priced before it sends (expires when old,
moved or unaffordable; never drives a balance negative), pause stops every send, exported
proposals are settled by hand without overlap, and a faulty JSON price file is a skipped cycle."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from live_support import Crash, crash_at, write_strategy
from sqlalchemy import text

from ballast.errors import InputError
from ballast.live.ledger import CASH, Ledger, PlannedDecision, PlannedOrder
from ballast.live.proposals import balances_after, fit_plan, parse_fill, read_fills
from ballast.live.service import RunSettings, open_service

T0 = datetime(2024, 1, 1)


def invoke(*args: str):  # noqa: ANN201
    from typer.testing import CliRunner

    from ballast.cli import app

    return CliRunner().invoke(app, list(args))


def price_file(folder: Path, btc: list[float], eth: float = 200.0) -> Path:
    idx = pd.date_range("2019-05-01", periods=len(btc), freq="D")
    path = folder / "p.csv"
    pd.DataFrame({"date": idx.strftime("%Y-%m-%d"), "BTC": btc, "ETH": eth, "USDT": 1.0}).to_csv(path, index=False)
    return path


def propose(folder: Path, db: str, btc: list[float], then: str = "paper", extra: str = ""):  # noqa: ANN201
    path = write_strategy(folder, price_file(folder, btc), trigger='rebalance = "daily"', plan="full",
                          executor="propose", live_extra=f'[live.propose]\nthen = "{then}"\n{extra}')
    return open_service(str(path), RunSettings(db=db, speed="max"))


def assert_no_negative_balance(led: Ledger) -> None:
    held = led.holdings()
    assert all(u >= -1e-9 * max(1.0, abs(u)) for u in held.values()), held


def venue_orders(led: Ledger) -> int:
    with led.engine.connect() as c:
        return int(c.execute(text("SELECT COUNT(*) FROM paper_venue_orders")).scalar())


# ---------------------------------------------------------------- 2. re-priced at execution
def test_an_approval_after_a_big_move_expires_and_a_fresh_proposal_is_made(db_url: str, fast_tmp: Path) -> None:  # noqa: F811
    """The issue's case: a BTC buy planned at 7,143, approved when BTC is 17,776."""
    svc = propose(fast_tmp, db_url, [7143.0, 17776.0, 17776.0])
    svc.run(max_cycles=1)
    led = svc.ledger
    first = led.proposals("pending")[0]
    assert {t["asset"]: t["ref_price"] for t in first["payload"]["trades"]}["BTC"] == 7143.0
    led.approve_proposal(first["id"])
    svc.run(max_cycles=1)  # BTC at 17,776: +149% since the plan
    p = led.proposal(first["id"])
    assert p["state"] == "expired" and "BTC moved +148.9%" in p["note"]
    assert venue_orders(led) == 0 and led.fills() == []
    assert led.decision(first["decision_id"])["state"] == "cancelled"
    assert any(a["kind"] == "proposal_expired" for a in led.alerts())
    fresh = led.proposals("pending")  # proposed afresh in the same cycle, at today's price
    assert len(fresh) == 1 and {t["asset"]: t["ref_price"] for t in fresh[0]["payload"]["trades"]}["BTC"] == 17776.0
    led.approve_proposal(fresh[0]["id"])
    svc.run(max_cycles=1)
    assert led.proposal(fresh[0]["id"])["state"] == "executed"
    assert_no_negative_balance(led)


def test_an_approval_older_than_valid_for_expires(db_url: str, fast_tmp: Path) -> None:  # noqa: F811
    svc = propose(fast_tmp, db_url, [7000.0] * 5, extra='valid_for = "2d"')
    svc.run(max_cycles=3)  # planned on day 0, still pending on day 2
    led = svc.ledger
    pid = led.proposals("pending")[0]["id"]
    led.approve_proposal(pid)
    svc.run(max_cycles=1)  # day 3: three days after the plan
    assert led.proposal(pid)["state"] == "expired" and "valid_for 48 h" in led.proposal(pid)["note"]
    assert venue_orders(led) == 0 and len(led.proposals("pending")) == 1


def test_a_small_rise_scales_buys_to_the_cash_never_below_zero(db_url: str, fast_tmp: Path) -> None:  # noqa: F811
    svc = propose(fast_tmp, db_url, [7000.0, 7140.0, 7140.0])  # +2%, within max_price_move (3%)
    svc.run(max_cycles=1)
    led = svc.ledger
    pid = led.proposals("pending")[0]["id"]
    planned = {t["asset"]: t["quantity"] for t in led.proposal(pid)["payload"]["trades"]}
    led.approve_proposal(pid)
    svc.run(max_cycles=1)
    assert led.proposal(pid)["state"] == "executed"
    done = {o["asset"]: o["quantity"] for o in led.order_rows(led.proposal(pid)["decision_id"])}
    assert all(done[a] <= planned[a] for a in planned) and done["BTC"] < planned["BTC"]
    assert all(done[a] >= planned[a] * 0.97 for a in planned)
    assert_no_negative_balance(led)
    assert led.holdings()[CASH] < 1e-6 * 100_000  # invested as far as the cash goes


def plan_of(*orders: tuple[str, str, float, float]) -> PlannedDecision:
    out = [PlannedOrder(a, "USDT", side, q, p, 1.0, None, q * p, q * p * 0.001) for a, side, q, p in orders]
    return PlannedDecision("test", "propose", 1000.0, sum(o.notional for o in out), 0.0, {}, out)


def test_an_approved_plan_that_sells_more_than_held_never_sends(db_url: str) -> None:  # noqa: F811
    with Ledger(db_url) as led:
        led.start_service({"BTC": 1.0, "USDT": 0.0}, "s", "propose", "replay", False)
        rec = led.record_cycle(T0, 0, "decided", None, {"BTC": 100.0}, 100.0, [],
                               plan_of(("BTC", "sell", 2.0, 100.0)), propose=True)
        led.approve_proposal(rec.proposal_id)
        prices = {"BTC": 100.0, "USDT": 1.0}
        assert led.claim_approved(lambda held, orders, p: fit_plan(held, orders, prices, None, 0.03)) == []
        assert led.proposal(rec.proposal_id)["state"] == "expired"
        assert "sells 2 BTC but holds 1" in led.proposal(rec.proposal_id)["note"]
        assert all(o["status"] == "cancelled" for o in led.order_rows(rec.decision_id))


money = st.floats(0.0, 1e6, allow_nan=False)
units = st.floats(1e-6, 100.0, allow_nan=False)
price = st.floats(0.5, 2e5, allow_nan=False)
order = st.tuples(st.sampled_from(["BTC", "ETH"]), st.sampled_from(["buy", "sell"]), units, price, price)


@settings(max_examples=300, deadline=None)
@given(cash=money, btc=units, eth=units, orders=st.lists(order, min_size=1, max_size=4),
       shrink=st.floats(0.0, 0.5))
def test_a_plan_that_fits_leaves_no_balance_negative(cash: float, btc: float, eth: float, orders: list,
                                                     shrink: float) -> None:
    held = {"USDT": cash, "BTC": btc, "ETH": eth}
    rows = [{"id": i, "asset": a, "side": side, "quantity": q, "ref_price": ref, "limit_price": None,
             "quote_asset": "USDT", "quote_price": 1.0, "expected_cost": q * ref * 0.001 + 1.0, "status": "planned"}
            for i, (a, side, q, ref, _) in enumerate(orders)]
    now = {"USDT": 1.0, "BTC": orders[0][4], "ETH": orders[-1][4]}
    fit = fit_plan(held, rows, now, None, shrink)
    if fit.reason is not None:
        return
    scale = {i: q / rows[i]["quantity"] for i, q in fit.quantities.items()}  # as the ledger writes them
    sized = [{**o, "quantity": o["quantity"] * scale.get(o["id"], 1.0),
              "expected_cost": o["expected_cost"] * scale.get(o["id"], 1.0)} for o in rows]
    assert all(fit.quantities[o["id"]] >= o["quantity"] * (1 - shrink) - 1e-12 for o in rows if o["id"] in fit.quantities)
    assert all(s["quantity"] <= o["quantity"] for s, o in zip(sized, rows))
    after = balances_after(held, sized, now)
    assert all(v >= -1e-9 * max(1.0, held.get(a, 0.0)) for a, v in after.items()), after


@pytest.mark.parametrize("held, sides, ok", [
    ({"USDT": 1000.0}, [("BTC", "buy", 9.0, 100.0)], True),  # 900 + fee ≤ 1000
    ({"USDT": 1000.0}, [("BTC", "buy", 10.0, 100.0)], True),  # 1001 > 1000: scaled down 0.1%
    ({"USDT": 1000.0}, [("BTC", "buy", 20.0, 100.0)], False),  # needs twice the cash
    ({"USDT": 0.0, "BTC": 5.0}, [("BTC", "sell", 5.0, 100.0)], True),
    ({"USDT": 0.0, "BTC": 5.0}, [("BTC", "sell", 5.1, 100.0)], False),  # more than held
    ({"USDT": 0.0, "BTC": 5.0}, [("BTC", "sell", 5.0, 100.0), ("ETH", "buy", 4.0, 120.0)], True),
])
def test_fit_plan_table(held: dict, sides: list, ok: bool) -> None:
    rows = [{"id": i, "asset": a, "side": s, "quantity": q, "ref_price": p, "limit_price": None,
             "quote_asset": "USDT", "quote_price": 1.0, "expected_cost": q * p * 0.001, "status": "planned"}
            for i, (a, s, q, p) in enumerate(sides)]
    fit = fit_plan(held, rows, {"BTC": 100.0, "ETH": 120.0, "USDT": 1.0}, None, 0.03)
    assert (fit.reason is None) == ok


# ---------------------------------------------------------------- 4. pause stops all sending
def test_pause_holds_back_approved_proposals(db_url: str, fast_tmp: Path) -> None:  # noqa: F811
    svc = propose(fast_tmp, db_url, [7000.0] * 6, extra='valid_for = "7d"')
    svc.run(max_cycles=1)
    led = svc.ledger
    pid = led.proposals("pending")[0]["id"]
    led.approve_proposal(pid)
    led.pause("maintenance")
    svc.run(max_cycles=2)
    assert led.proposal(pid)["state"] == "approved" and venue_orders(led) == 0 and led.fills() == []
    led.resume()
    svc.run(max_cycles=1)
    assert led.proposal(pid)["state"] == "executed" and venue_orders(led) == 3


def test_pause_holds_back_unsent_orders_found_at_restart(db_url: str, fast_tmp: Path,  # noqa: F811
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_strategy(fast_tmp, price_file(fast_tmp, [7000.0] * 4), trigger='rebalance = "daily"', plan="full")
    svc = open_service(str(path), RunSettings(db=db_url, speed="max"))
    crash_at(monkeypatch, svc, "execute_decision")
    with pytest.raises(Crash):
        svc.run(max_cycles=1)  # the decision and its orders are written, nothing was sent
    monkeypatch.undo()
    Ledger(db_url).pause()
    again = open_service(str(path), RunSettings(db=db_url, speed="max"))
    again.run(max_cycles=2)
    led = again.ledger
    assert venue_orders(led) == 0 and led.unfinished_decisions() and led.counts()["decisions"] == 1
    assert [a for a in led.alerts() if a["kind"] == "unreconciled"] == []
    led.resume()
    again.run(max_cycles=1)
    assert venue_orders(led) == 3 and led.unfinished_decisions() == []


# ---------------------------------------------------------------- 3. then = "none": export and settle
def test_exported_proposals_are_not_repeated_and_settle_books_fills(db_url: str, fast_tmp: Path) -> None:  # noqa: F811
    svc = propose(fast_tmp, db_url, [7000.0] * 6, then="none")
    svc.run(max_cycles=1)
    led = svc.ledger
    pid = led.proposals("pending")[0]["id"]
    assert invoke("approve", str(pid), "--db", db_url).exit_code == 0
    batch = json.loads(invoke("proposals", "export", "--db", db_url).stdout)
    assert [p["id"] for p in batch["proposals"]] == [pid] and len(batch["trades"]) == 3
    assert json.loads(invoke("proposals", "export", "--db", db_url).stdout)["trades"] == []  # not twice
    assert led.proposal(pid)["state"] == "exported"
    svc.run(max_cycles=2)  # the trigger fires daily: no proposal overlaps the exported one
    assert led.counts()["proposals"] == 1 and led.unfinished_decisions() == []
    assert "still exported" in led.status()["last_cycle"]["note"]
    trades = {t["asset"]: t for t in batch["trades"]}
    btc, eth = trades["BTC"]["quantity"], trades["ETH"]["quantity"]
    r = invoke("proposals", "settle", str(pid), "--fill", f"BTC={btc / 2}@7010", "--fill", f"BTC={btc / 2}@7020",
               "--fill", f"ETH={eth}@199", "--fee", "12", "--db", db_url)
    assert r.exit_code == 0 and r.stdout.strip() == f"proposal {pid}: settled", r.output
    assert "(already)" in invoke("proposals", "settle", str(pid), "--fill", "BTC=1@1", "--db", db_url).stdout
    assert led.proposal(pid)["state"] == "settled"
    orders = {o["asset"]: o for o in led.order_rows(led.proposal(pid)["decision_id"])}
    assert orders["BTC"]["status"] == "filled" and orders["ETH"]["status"] == "filled"
    assert orders["USDT"]["status"] == "cancelled"  # no fill given: not executed
    held = led.holdings()
    cost = btc / 2 * 7010 + btc / 2 * 7020 + eth * 199 + 12
    assert held["BTC"] == pytest.approx(btc) and held["ETH"] == pytest.approx(eth)
    assert held[CASH] == pytest.approx(100_000 - cost, rel=1e-12)
    assert sum(f["fee"] for f in led.fills()) == pytest.approx(12)
    svc.run(max_cycles=1)  # settled: the next proposal may come
    assert len(led.proposals("pending")) == 1


def test_settle_input_errors(db_url: str, fast_tmp: Path) -> None:  # noqa: F811
    svc = propose(fast_tmp, db_url, [7000.0] * 2, then="none")
    svc.run(max_cycles=1)
    pid = svc.ledger.proposals("pending")[0]["id"]
    r = invoke("proposals", "settle", str(pid), "--fill", "BTC=1@7000", "--db", db_url)
    assert r.exit_code != 0 and "is pending; only an approved or exported one is settled" in r.output
    svc.ledger.approve_proposal(pid)
    for args, msg in [(["--fill", "BTC=1"], "expected ASSET=QUANTITY@PRICE"),
                      (["--fill", "DOGE=1@2"], "no trade of DOGE"),
                      (["--fill", "BTC=-1@2"], "must be positive"),
                      ([], "either as --fill")]:
        r = invoke("proposals", "settle", str(pid), *args, "--db", db_url)
        assert r.exit_code != 0 and msg in r.output, (args, r.output)
    assert svc.ledger.proposal(pid)["state"] == "approved" and svc.ledger.fills() == []


def test_fills_files(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("asset,quantity,price,fee\nBTC,0.5,60000,3\nETH,2,3000,\n")
    assert [(f.asset, f.quantity, f.price, f.fee) for f in read_fills(tmp_path / "f.csv")] == [
        ("BTC", 0.5, 60000.0, 3.0), ("ETH", 2.0, 3000.0, 0.0)]
    (tmp_path / "f.json").write_text(json.dumps([{"asset": "BTC", "quantity": 0.5, "price": 60000}]))
    assert read_fills(tmp_path / "f.json")[0].quantity == 0.5
    (tmp_path / "bad.csv").write_text("asset,quantity,price\nBTC,x,1\n")
    with pytest.raises(InputError, match="bad.csv: line 2: quantity, price and fee must be numbers"):
        read_fills(tmp_path / "bad.csv")
    assert parse_fill(" BTC = 0.5 @ 60000 ").price == 60000.0


# ---------------------------------------------------------------- 7. source faults are skipped cycles
def json_service(folder: Path, db: str):  # noqa: ANN201
    path = write_strategy(folder, "crypto", live_extra='source = "json"\n[live.json]\nfile = "prices.json"\n'
                          # cycles 0.01 s apart: a loaded machine must not make the test's prices stale
                          '[live.guards]\nstale_after = 100000')
    svc = open_service(str(path), RunSettings(db=db))
    svc.interval = 0.01  # do not wait a day between the cycles of a test
    return svc


def good(at: datetime | None = None) -> str:
    return json.dumps({"time": (at or datetime.utcnow()).isoformat(), "prices": {"BTC": 30000, "ETH": 2000, "USDT": 1}})


@pytest.mark.parametrize("fault", ["partial", "empty", "missing", "30k"])
def test_a_bad_json_price_file_skips_the_cycle_and_the_service_goes_on(db_url: str, fast_tmp: Path,  # noqa: F811
                                                                       fault: str) -> None:
    prices = fast_tmp / "prices.json"
    prices.write_text(good())
    svc = json_service(fast_tmp, db_url)
    led = svc.ledger
    if fault == "missing":
        prices.unlink()
    else:
        prices.write_text({"partial": good()[:25], "empty": "",
                           "30k": good().replace("30000", '"30k"')}[fault])
    svc.run(stop=lambda: len(led.alerts()) >= 2)  # two failed reads, each retried: no exit
    assert [a["kind"] for a in led.alerts()] == ["source_unavailable"] * 2
    assert led.counts()["cycles"] == 0
    prices.write_text(good())
    svc.run(max_cycles=1)
    assert led.counts()["decisions"] == 1


def test_a_missing_or_malformed_file_at_start_is_a_clear_error(fast_tmp: Path) -> None:
    with pytest.raises(InputError, match="prices.json: no such price file"):
        json_service(fast_tmp, str(fast_tmp / "l.db"))
    (fast_tmp / "prices.json").write_text('{"prices": {"BTC": "30k"}}')
    with pytest.raises(InputError, match="price of 'BTC' is not a number: '30k'"):
        json_service(fast_tmp, str(fast_tmp / "l.db"))


def test_a_price_from_the_future_is_flagged_like_a_stale_one(db_url: str, fast_tmp: Path) -> None:  # noqa: F811
    prices = fast_tmp / "prices.json"
    prices.write_text(good(datetime.utcnow() + timedelta(hours=1)))
    svc = json_service(fast_tmp, db_url)
    svc.run(max_cycles=1)
    led = svc.ledger
    assert {a["kind"] for a in led.alerts()} == {"future_price"} and led.counts()["decisions"] == 0
    prices.write_text(good(datetime.utcnow() + timedelta(seconds=20)))  # within clock_skew (60 s)
    svc.run(max_cycles=1)
    assert led.counts()["decisions"] == 1
