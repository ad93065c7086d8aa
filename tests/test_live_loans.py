"""Loans in the live service (paper lending market), on SQLite and PostgreSQL: a replayed price
path drives a boost, a repay and an Aave liquidation whose amounts equal the pure domain's
(`tests/live_loans_support.py` replays the same path with `Loan`, `AaveV3`, `HealthBand` alone);
the loan legs ride on the fills (the wallet's units do not move); alerts; proposals; manual
lending moves; status, CLI and API faces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ballast.errors import InputError
from ballast.live import lending
from ballast.live.ledger import Ledger
from ballast.live.lending import PaperLendingMarket
from ballast.live.loans import LiveLoan
from ballast.live.service import RunSettings, open_service
from ballast.live.treasury import add_flow, entries
from ballast.positions import AaveV3, HealthBand, LoanState
from live_loans_support import BAND, ETH, LOAN, live_loan, loan_strategy, replay_domain
from live_support import db_url  # noqa: F401  (fixture)

runner = CliRunner()


def run(path: Path, db: str, cycles: int | None = None, **kw: object) -> Ledger:
    svc = open_service(str(path), RunSettings(db=db, speed="max", **kw), loans=[live_loan()])  # type: ignore[arg-type]
    svc.run(until_end=cycles is None, max_cycles=cycles)
    return svc.ledger


def loan_of(led: Ledger) -> lending.Position:
    with led.session() as s:
        return lending.positions(s)["eth-loan"]


def test_replay_boosts_repays_and_is_liquidated_as_the_domain_says(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    ref = replay_domain()
    path = loan_strategy(tmp_path)
    led = run(path, db_url)
    # HF marked at every close after accrual and liquidation = the domain's, day by day
    marks = led.loan_health(100)
    assert len(marks) == len(ETH)
    for m, hf in zip(marks, ref.hf, strict=True):
        assert m["health_factor"] == pytest.approx(hf, rel=1e-9)
    # the band's moves: one decision each, one order of the collateral against the debt asset
    decisions = sorted(led.recent_decisions(100), key=lambda d: d["id"])[1:]  # [0]: the formation
    assert [d["period"] for d in decisions] == [t for t, _ in ref.moves] == [3, 7, 10]
    for d, (_, move) in zip(decisions, ref.moves, strict=True):
        assert d["state"] == "filled" and move.kind in d["reason"]
        (order,) = led.decision(d["id"])["orders"]
        assert (order["asset"], order["quote_asset"]) == ("ETH", "USDT")
        assert order["side"] == ("buy" if move.kind == "boost" else "sell")
        assert order["quantity"] == pytest.approx(abs(move.collateral_change), rel=1e-12)
    # the liquidation: repaid, seized and penalty as AaveV3 computes them on the accrued state
    events = led.loan_events(1000)
    liq = [e for e in events if e["kind"] == "liquidation"]
    ((t, expect),) = ref.liquidations
    assert len(liq) == 1 and liq[0]["period"] == t == 10
    detail = liq[0]["detail"]
    assert detail["repaid"] == pytest.approx(expect.repaid, rel=1e-9)
    assert detail["seized"]["ETH"] == pytest.approx(expect.seized[0], rel=1e-9)
    assert detail["penalty"] == pytest.approx(expect.penalty, rel=1e-9)
    assert detail["hf_before"] == pytest.approx(expect.hf_before, rel=1e-9) and 0.95 < detail["hf_before"] < 1
    assert liq[0]["collateral_units"] == pytest.approx(-expect.seized[0], rel=1e-9)
    # the loan now = the domain's state after all of it
    pos, final = loan_of(led), ref.states[-1]
    assert pos.collateral["ETH"] == pytest.approx(final.collateral[0], rel=1e-9)
    assert pos.debt == pytest.approx(final.debt, rel=1e-9)
    # alerts: the liquidation, and a warning as HF approached repay_below
    kinds = [a["kind"] for a in led.alerts()]
    assert kinds.count("health_liquidation") == 1 and "health_warn" in kinds
    (warn,) = [a for a in led.alerts() if a["kind"] == "health_warn" and a["cycle_id"] == marks_cycle(led, 6)]
    assert "1.4772" in warn["message"]
    # the loan legs ride on the fills: the wallet's ETH is what the formation bought
    formation = led.decision(min(d["id"] for d in led.recent_decisions(100)))
    eth_bought = sum(f["quantity"] for f in formation["fills"] if f["asset"] == "ETH")
    assert led.holdings()["ETH"] == pytest.approx(eth_bought, rel=1e-12)
    legs = [e for e in entries(led, 1000) if e["source"] == "loan"]
    assert {e["kind"] for e in legs} == {"borrow", "supply", "withdraw", "repay"}
    led.close()


def marks_cycle(led: Ledger, period: int) -> int:
    from sqlalchemy import select

    from ballast.live.models import Cycle

    with led.session() as s:
        cid = s.scalar(select(Cycle.id).where(Cycle.period == period))
    assert cid is not None
    return cid


def test_a_repay_and_a_boost_land_exactly_on_the_bands_targets(tmp_path: Path) -> None:
    path = loan_strategy(tmp_path)
    db = f"sqlite:///{tmp_path / 'l.db'}"
    for cycles, target in ((4, BAND.boost_to), (4, BAND.repay_to)):  # through day 3 (boost), day 7 (repay)
        svc = open_service(str(path), RunSettings(db=db, speed="max"), loans=[live_loan()])
        svc.run(until_end=False, max_cycles=cycles)
        st = svc.ledger.status()["loans"][0]
        assert st["health_factor"] == pytest.approx(target, rel=1e-12)
        svc.ledger.close()


def test_propose_mode_makes_the_repay_a_proposal_that_executes_once_approved(tmp_path: Path) -> None:
    path = loan_strategy(
        tmp_path, executor="propose", live_extra='[live.propose]\nthen = "paper"\nmax_price_move = 0.5'
    )
    db = f"sqlite:///{tmp_path / 'l.db'}"
    approved: list[int] = []

    def approve_loan_proposals(svc: object) -> None:
        led: Ledger = svc.ledger  # type: ignore[attr-defined]
        for p in led.proposals("pending"):
            if "health" in p["payload"]["reason"]:
                led.approve_proposal(p["id"], by="test")
                approved.append(p["id"])
            else:
                led.approve_proposal(p["id"], by="test")

    svc = open_service(str(path), RunSettings(db=db, speed="max"), loans=[live_loan()])
    svc.run(until_end=True, on_cycle=approve_loan_proposals)
    led = svc.ledger
    assert len(approved) >= 2  # the boost and the first repay at least
    executed = [led.proposal(pid) for pid in approved]
    assert all(p is not None and p["state"] == "executed" for p in executed)
    # each approved move carried its loan legs once: one borrow/supply or withdraw/repay pair per fill
    legs = [e for e in led.loan_events(1000) if e["order_id"] is not None]
    per_order: dict[int, list[str]] = {}
    for e in legs:
        per_order.setdefault(e["order_id"], []).append(e["kind"])
    assert len(per_order) == len(approved)
    assert all(sorted(k) in (["borrow", "supply"], ["repay", "withdraw"]) for k in per_order.values())
    assert any(p["state"] == "executed" and "repay" in p["payload"]["reason"] for p in executed if p)
    led.close()


def test_an_approved_repay_selling_more_collateral_than_the_loan_holds_does_not_fit(tmp_path: Path) -> None:
    path = loan_strategy(tmp_path, executor="propose", live_extra='[live.propose]\nthen = "paper"')
    svc = open_service(str(path), RunSettings(db=f"sqlite:///{tmp_path / 'l.db'}", speed="max"), loans=[live_loan()])
    svc.run(until_end=False, max_cycles=4)  # the formation stays pending; day 3's boost is held behind it
    led = svc.ledger
    (first,) = led.proposals("pending")
    led.approve_proposal(first["id"])
    svc.run(until_end=False, max_cycles=1)  # the formation expired (too old): re-planned with the boost
    (boost,) = led.proposals("pending")
    assert "boost to 1.9" in boost["payload"]["reason"]
    orders = led.order_rows(boost["decision_id"])
    with led.session() as s:
        linked = lending.loan_orders(s, [o["id"] for o in orders])
    assert list(linked.values()) == [("eth-loan", "boost")]
    check = lending.approved_moves_check(led)
    wallet, refused = check(orders)
    # a boost buys with what it borrows: only the rebalance's orders are fitted to the wallet
    assert refused is None and [o["id"] for o in wallet] == [o["id"] for o in orders if o["id"] not in linked]
    held = loan_of(led).collateral["ETH"]
    too_big = [{**o, "side": "sell", "quantity": held * 1.5} for o in orders if o["id"] in linked]
    _, refused = check(too_big)  # type: ignore[list-item]
    assert refused is not None and "the loan holds" in refused and f"{held:.8g}" in refused
    led.close()


def test_manual_lending_moves_keep_holdings_and_refuse_what_the_market_would(tmp_path: Path) -> None:
    led = run(loan_strategy(tmp_path), f"sqlite:///{tmp_path / 'l.db'}")
    market = PaperLendingMarket(led)
    before, pos = led.holdings(), loan_of(led)
    out = market.supply("eth-loan", "ETH", 1.0)
    assert led.holdings()["ETH"] == pytest.approx(before["ETH"] - 1.0, rel=1e-12)
    assert loan_of(led).collateral["ETH"] == pytest.approx(pos.collateral["ETH"] + 1.0, rel=1e-12)
    assert out["health_factor"] > 1
    market.borrow("eth-loan", 500.0)
    market.repay("eth-loan", 500.0)
    assert loan_of(led).debt == pytest.approx(pos.debt, rel=1e-12)
    assert led.holdings()["USDT"] == pytest.approx(before["USDT"], rel=1e-12)
    n = len(led.loan_events(10_000))
    with pytest.raises(InputError, match=r"would leave a health factor of 0\.\d+ \(below 1\).*Nothing was written"):
        market.borrow("eth-loan", 10 * pos.debt)
    with pytest.raises(InputError, match="cannot withdraw 1e\\+06 ETH"):
        market.withdraw("eth-loan", "ETH", 1e6)
    add_flow(led, "USDT", -(led.holdings()["USDT"] - 100.0))  # the wallet keeps 100 USDT
    n = len(led.loan_events(10_000))
    with pytest.raises(InputError, match="cannot repay 1000 USDT: the wallet holds 100"):
        market.repay("eth-loan", 1000.0)
    with pytest.raises(InputError, match="cannot repay .* USDT: .* is owed"):
        market.repay("eth-loan", 2 * pos.debt)
    with pytest.raises(InputError, match="'BTC' is not collateral"):
        market.supply("eth-loan", "BTC", 1.0)
    with pytest.raises(InputError, match="not in this ledger"):
        market.borrow("other", 1.0)
    with pytest.raises(InputError, match="positive number"):
        market.supply("eth-loan", "ETH", -1.0)
    assert len(led.loan_events(10_000)) == n  # nothing written by a refused move
    led.close()


def test_bad_loan_configuration_is_refused_at_start(tmp_path: Path) -> None:
    path = loan_strategy(tmp_path)
    other = LiveLoan("x", LOAN.__class__(["SOL"], "USDT", ltv=0.5, liquidation_threshold=0.6), AaveV3())
    with pytest.raises(InputError, match="loan x: no price for 'SOL'"):
        open_service(str(path), RunSettings(db=str(tmp_path / "a.db")), loans=[other])
    with pytest.raises(InputError, match="repay_from = 'reserve' is not supported live"):
        LiveLoan("y", LOAN, band=HealthBand(1.4, 1.6, repay_from="reserve"))
    with pytest.raises(InputError, match="warn_margin"):
        LiveLoan("y", LOAN, warn_margin=-1)
    with pytest.raises(InputError, match="two loans are named the same"):
        open_service(str(path), RunSettings(db=str(tmp_path / "b.db")), loans=[live_loan(), live_loan()])
    db = f"sqlite:///{tmp_path / 'c.db'}"
    run(path, db, cycles=2).close()
    moved = LiveLoan("eth-loan", LOAN.__class__(["BTC"], "USDT", ltv=0.7, liquidation_threshold=0.75))
    svc = open_service(str(path), RunSettings(db=db, speed="max"), loans=[moved])
    with pytest.raises(InputError, match="the ledger holds it with collateral ETH and debt USDT"):
        svc.run(until_end=False, max_cycles=1)
    svc.ledger.close()


def test_a_loan_without_debt_raises_nothing_and_shows_infinite_health(tmp_path: Path) -> None:
    path = loan_strategy(tmp_path)
    idle = LiveLoan("idle", LOAN, AaveV3(), None, LoanState((5.0,), 0.0))  # no band: nothing to move
    svc = open_service(str(path), RunSettings(db=f"sqlite:///{tmp_path / 'l.db'}", speed="max"), loans=[idle])
    svc.run(until_end=True)
    led = svc.ledger
    (st,) = led.status()["loans"]
    assert st["health_factor"] is None and st["debt"] == 0 and st["liquidations"] == 0
    assert not [a for a in led.alerts() if a["kind"].startswith("health")]
    assert len(led.recent_decisions(100)) == 1  # the formation only
    led.close()


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("loans")
    run(loan_strategy(folder), f"sqlite:///{folder / 'l.db'}").close()
    return folder / "l.db"


def test_status_json_terminal_and_api_show_hf_debt_collateral_and_band(replayed: Path) -> None:
    from ballast.api.app import create_app
    from ballast.api.security import Access
    from ballast.cli import app

    ref = replay_domain().states[-1]
    res = runner.invoke(app, ["status", "--db", str(replayed), "--json"])
    assert res.exit_code == 0, res.output
    st = json.loads(res.output)
    (loan,) = st["loans"]
    hf = ref.health_factor(LOAN, {"ETH": ETH[-1], "USDT": 1.0})
    assert loan["health_factor"] == pytest.approx(hf, rel=1e-9)
    assert loan["collateral"]["ETH"]["units"] == pytest.approx(ref.collateral[0], rel=1e-9)
    assert loan["debt"] == pytest.approx(ref.debt, rel=1e-9)
    assert loan["net_value"] == pytest.approx(ref.collateral[0] * ETH[-1] - ref.debt, rel=1e-9)
    assert loan["liquidation_price"] == pytest.approx(ref.debt / (ref.collateral[0] * 0.85), rel=1e-9)
    assert loan["band"]["repay_below"] == 1.4 and loan["rule"] == "AaveV3"
    assert (loan["repays"], loan["boosts"], loan["liquidations"]) == (2, 1, 1)
    assert st["net_value"] == pytest.approx(st["value"] + loan["net_value"], rel=1e-12)

    res = runner.invoke(app, ["status", "--db", str(replayed)], env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    assert "loans (paper lending market)" in res.output and "eth-loan" in res.output
    assert f"{hf:.4f}" in res.output and "1.4→1.6 | 2.2→1.9" in res.output and "2/1/1" in res.output

    with Ledger(f"sqlite:///{replayed}") as led:
        app_ = create_app(led, Access(token="t" * 24))
        client = TestClient(app_, client=("127.0.0.1", 50000), base_url="http://127.0.0.1")
        api = client.get("/status").json()
        assert api["loans"][0]["health_factor"] == pytest.approx(hf, rel=1e-9)
        assert client.get("/loans").json()[0]["debt"] == pytest.approx(ref.debt, rel=1e-9)
        health = client.get("/loans/health").json()
        assert len(health) == len(ETH) and health[-1]["loan"] == "eth-loan"
        events = client.get("/loans/events?limit=5").json()
        assert events and events[0]["loan"] == "eth-loan"
        page = client.get("/").text
        assert 'id="loans-box"' in page and 'id="health-chart"' in page
