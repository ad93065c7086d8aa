"""Loans in the live service (paper lending market), on SQLite and PostgreSQL: a strategy file's
``[[loans]]`` replayed through ``run`` opens its loan at ``open_health``, then the price path drives
a boost, a repay and an Aave liquidation whose amounts equal the pure domain's
(`tests/live_loans_support.py` replays the same path with `Loan`, `AaveV3`, `HealthBand` alone);
the loan legs ride on the fills; alerts; proposals; manual borrow/repay; the example file's live
replay against its backtest; status, CLI and API faces."""

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
from ballast.positions import AaveV3
from live_loans_support import BAND, ETH, LOAN, NAME, OPEN, live_loan, loan_strategy, replay_domain
from live_support import db_url  # noqa: F401  (fixture)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "leveraged-treasury.toml"
runner = CliRunner()


def run(path: Path, db: str, cycles: int | None = None) -> Ledger:
    svc = open_service(str(path), RunSettings(db=db, speed="max"))
    svc.run(until_end=cycles is None, max_cycles=cycles)
    return svc.ledger


def loan_of(led: Ledger) -> lending.Position:
    with led.session() as s:
        return lending.positions(s, led.holdings(s))[NAME]


def formed_eth(led: Ledger) -> float:
    first = led.decision(min(d["id"] for d in led.recent_decisions(1000)))
    assert first is not None and first["period"] == 0
    return float(sum(f["quantity"] for f in first["fills"] if f["asset"] == "ETH"))


def test_replay_opens_boosts_repays_and_is_liquidated_as_the_domain_says(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    led = run(loan_strategy(tmp_path), db_url)
    ref = replay_domain(formed_eth(led))
    # HF marked at every close after accrual and liquidation = the domain's, day by day
    marks = led.loan_health(100)
    assert len(marks) == len(ETH) and marks[0]["health_factor"] is marks[1]["health_factor"] is None  # no debt yet
    for m, hf in zip(marks[2:], ref.hf[2:], strict=True):
        assert m["health_factor"] == pytest.approx(hf, rel=1e-9)
    # the opening and the band's moves: one decision each, an order of the collateral against the debt asset
    decisions = sorted(led.recent_decisions(100), key=lambda d: d["id"])[1:]  # [0]: the formation
    assert [d["period"] for d in decisions] == [t for t, _ in ref.moves] == [1, 3, 7, 10]
    assert f"open at HF {OPEN:g}" in decisions[0]["reason"]
    for d, (_, move) in zip(decisions, ref.moves, strict=True):
        assert d["state"] == "filled" and (move.kind in d["reason"] or "open" in d["reason"])
        (order,) = led.decision(d["id"])["orders"]
        assert (order["asset"], order["quote_asset"]) == ("ETH", "USDT")
        assert order["side"] == ("buy" if move.kind == "boost" else "sell")
        assert order["quantity"] == pytest.approx(abs(move.collateral_change), rel=1e-12)
    # the liquidation: repaid, seized and penalty as AaveV3 computes them on the accrued state
    liq = [e for e in led.loan_events(1000) if e["kind"] == "liquidation"]
    ((t, expect),) = ref.liquidations
    assert len(liq) == 1 and liq[0]["period"] == t == 10
    detail = liq[0]["detail"]
    assert detail["repaid"] == pytest.approx(expect.repaid, rel=1e-9)
    assert detail["seized"]["ETH"] == pytest.approx(expect.seized[0], rel=1e-9)
    assert detail["penalty"] == pytest.approx(expect.penalty, rel=1e-9)
    assert detail["hf_before"] == pytest.approx(expect.hf_before, rel=1e-9) and 0.95 < detail["hf_before"] < 1
    # the loan now = the domain's state after all of it: the wallet's ETH is the collateral
    pos, final = loan_of(led), ref.states[-1]
    assert pos.collateral["ETH"] == pytest.approx(final.collateral[0], rel=1e-9)
    assert pos.debt == pytest.approx(final.debt, rel=1e-9)
    # borrowed USDT bought ETH and repays came from sales: the wallet keeps the formation's USDT
    first = led.decision(min(d["id"] for d in led.recent_decisions(1000)))
    usdt = sum(f["quantity"] for f in first["fills"] if f["asset"] == "USDT")
    assert led.holdings()["USDT"] == pytest.approx(usdt, rel=1e-9)
    legs = [e for e in entries(led, 1000) if e["source"] == "loan"]
    assert {e["kind"] for e in legs} == {"borrow", "repay", "liquidation"}
    # alerts: the liquidation, and a warning as HF approached repay_below (+0.1)
    alerts = led.alerts()
    assert [a["kind"] for a in alerts].count("health_liquidation") == 1
    assert any(a["kind"] == "health_warn" and f"{ref.hf[6]:.4f}" in a["message"] for a in alerts)
    led.close()


def test_a_repay_and_a_boost_land_exactly_on_the_bands_targets(tmp_path: Path) -> None:
    path = loan_strategy(tmp_path)
    db = f"sqlite:///{tmp_path / 'l.db'}"
    for cycles, target in ((2, OPEN), (2, BAND.boost_to), (4, BAND.repay_to)):  # days 0-1, 2-3, 4-7
        led = run(path, db, cycles)
        assert led.status()["loans"][0]["health_factor"] == pytest.approx(target, rel=1e-12)
        led.close()


def test_the_examples_live_replay_repays_and_boosts_as_its_backtest(tmp_path: Path) -> None:
    from ballast.config import load_strategy_file
    from ballast.engine.backtest import backtest

    cfg = load_strategy_file(EXAMPLE)
    r = backtest(cfg.prices_path(), cfg.to_strategy(), start=cfg.data.start, end=cfg.data.end)
    metrics = r.metrics
    text = EXAMPLE.read_text() + '\n[live]\ninterval = "1d"\n'
    path = tmp_path / "leveraged.toml"
    path.write_text(text)
    led = run(path, f"sqlite:///{tmp_path / 'l.db'}")
    (loan,) = led.status()["loans"]
    assert (loan["repays"], loan["boosts"], loan["liquidations"]) == (
        int(metrics["n_repays"]),
        int(metrics["n_boosts"]),
        int(metrics["n_liquidations"]),
    )
    # the same moves on the same days (the opening is a boost)
    live = [
        (d["observed_at"][:10], "repay" if "repay" in d["reason"] else "boost")
        for d in sorted(led.recent_decisions(1000), key=lambda d: d["id"])[1:]
    ]
    events = r.loans.events
    assert live == [(str(ts)[:10], k) for ts, k in zip(events["time"], events["kind"], strict=True)]
    # the paper venue charges the fee on the value bought, the backtest on the swap's output: a
    # boost's debt differs in the fee's second order, so the end values agree to a small fraction
    assert led.status()["value"] == pytest.approx(float(r.raw.equity[-1]), rel=2e-3)
    assert loan["health_factor"] == pytest.approx(float(r.loans.health_factor.iloc[-1, 0]), rel=2e-3)
    led.close()


def test_propose_mode_makes_each_move_a_proposal_that_executes_once_approved(tmp_path: Path) -> None:
    path = loan_strategy(tmp_path, executor="propose", live_extra='[live.propose]\nthen = "paper"\nvalid_for = "30d"')
    approved: list[int] = []

    def approve_all(svc: object) -> None:
        led: Ledger = svc.ledger  # type: ignore[attr-defined]
        for p in led.proposals("pending"):
            led.approve_proposal(p["id"], by="test")
            approved.append(p["id"])

    svc = open_service(str(path), RunSettings(db=f"sqlite:///{tmp_path / 'l.db'}", speed="max"))
    svc.run(until_end=True, on_cycle=approve_all)
    led = svc.ledger
    reasons = [led.proposal(pid)["payload"]["reason"] for pid in approved]  # type: ignore[index]
    assert any("open at HF" in r for r in reasons) and any("repay" in r for r in reasons)
    executed = [pid for pid in approved if led.proposal(pid)["state"] == "executed"]  # type: ignore[index]
    moves = [pid for pid in executed if "health" in led.proposal(pid)["payload"]["reason"]]  # type: ignore[index]
    assert moves
    # each executed move carried its loan leg once (a boost's buy is not fitted to the wallet's USDT)
    legs = [e for e in led.loan_events(1000) if e["order_id"] is not None]
    assert len(legs) == len({e["order_id"] for e in legs}) == len(moves)
    assert all(e["kind"] in ("borrow", "repay") for e in legs)
    assert loan_of(led).debt > 0
    led.close()


def test_manual_borrow_and_repay_keep_holdings_and_refuse_what_the_market_would(tmp_path: Path) -> None:
    led = run(loan_strategy(tmp_path), f"sqlite:///{tmp_path / 'l.db'}")
    market = PaperLendingMarket(led)
    before, pos = led.holdings(), loan_of(led)
    out = market.borrow(NAME, 500.0)
    assert led.holdings()["USDT"] == pytest.approx(before["USDT"] + 500.0, rel=1e-12)
    assert loan_of(led).debt == pytest.approx(pos.debt + 500.0, rel=1e-12) and out["health_factor"] > 1
    market.repay(NAME, 500.0)
    assert loan_of(led).debt == pytest.approx(pos.debt, rel=1e-12)
    assert led.holdings()["USDT"] == pytest.approx(before["USDT"], rel=1e-12)
    n = len(led.loan_events(10_000))
    with pytest.raises(InputError, match=r"would leave a health factor of 0\.\d+ \(below 1\).*Nothing was written"):
        market.borrow(NAME, 10 * pos.debt)
    with pytest.raises(InputError, match="cannot repay .* USDT: .* is owed"):
        market.repay(NAME, 2 * pos.debt)
    add_flow(led, "USDT", -(led.holdings()["USDT"] - 100.0))  # the wallet keeps 100 USDT
    with pytest.raises(InputError, match="cannot repay 1000 USDT: the wallet holds 100"):
        market.repay(NAME, 1000.0)
    with pytest.raises(InputError, match="not in this ledger"):
        market.borrow("other", 1.0)
    with pytest.raises(InputError, match="positive number"):
        market.borrow(NAME, -1.0)
    assert len(led.loan_events(10_000)) == n  # nothing written by a refused move
    led.close()


def test_bad_loan_configuration_is_refused_at_start(tmp_path: Path) -> None:
    from ballast.positions import HealthBand, Loan

    path = loan_strategy(tmp_path)
    sol = LiveLoan("x", Loan(["SOL"], "USDT", ltv=0.5, liquidation_threshold=0.6), AaveV3())
    with pytest.raises(InputError, match="loan x: no price for 'SOL'"):
        open_service(str(path), RunSettings(db=str(tmp_path / "a.db")), loans=[sol])
    with pytest.raises(InputError, match="repay_from = 'reserve' is not supported live"):
        LiveLoan("y", LOAN, band=HealthBand(1.4, 1.6, repay_from="reserve"))
    with pytest.raises(InputError, match="warn_margin"):
        LiveLoan("y", LOAN, warn_margin=-1)
    with pytest.raises(InputError, match="two loans are named the same"):
        open_service(str(path), RunSettings(db=str(tmp_path / "b.db")), loans=[live_loan(), live_loan()])
    db = f"sqlite:///{tmp_path / 'c.db'}"
    run(path, db, cycles=2).close()
    moved = LiveLoan(NAME, Loan(["USDT"], "ETH", ltv=0.7, liquidation_threshold=0.75))
    svc = open_service(str(path), RunSettings(db=db, speed="max"), loans=[moved])
    with pytest.raises(InputError, match="the ledger holds it with collateral ETH and debt USDT"):
        svc.run(until_end=False, max_cycles=1)
    svc.ledger.close()


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("loans")
    run(loan_strategy(folder), f"sqlite:///{folder / 'l.db'}").close()
    return folder / "l.db"


def test_status_json_terminal_and_api_show_hf_debt_collateral_and_band(
    replayed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ballast.api.app import create_app
    from ballast.api.security import Access
    from ballast.cli import app

    with Ledger(f"sqlite:///{replayed}") as led:
        ref = replay_domain(formed_eth(led)).states[-1]
        wallet = led.holdings()
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
    assert (loan["repays"], loan["boosts"], loan["liquidations"]) == (2, 2, 1)
    # the debt is a negative holding of USDT: value = the wallet's value less the debt
    assert st["holdings"]["USDT"] == pytest.approx(wallet["USDT"] - ref.debt, rel=1e-9)
    assert st["value"] == pytest.approx(wallet["ETH"] * ETH[-1] + wallet["USDT"] - ref.debt, rel=1e-9)

    from ballast.cli.output import console

    # The CLI's console is made once per process: an earlier test's environment fixed its width.
    monkeypatch.setattr(console, "_width", 160)
    res = runner.invoke(app, ["status", "--db", str(replayed)])
    assert res.exit_code == 0, res.output
    assert "loans (paper lending market)" in res.output and NAME in res.output
    assert f"{hf:.4f}" in res.output and "1.4→1.6 | 2.2→1.9" in res.output and "2/2/1" in res.output

    with Ledger(f"sqlite:///{replayed}") as led:
        app_ = create_app(led, Access(token="t" * 24))
        client = TestClient(app_, client=("127.0.0.1", 50000), base_url="http://127.0.0.1")
        assert client.get("/status").json()["loans"][0]["health_factor"] == pytest.approx(hf, rel=1e-9)
        assert client.get("/loans").json()[0]["debt"] == pytest.approx(ref.debt, rel=1e-9)
        health = client.get("/loans/health").json()
        assert len(health) == len(ETH) and health[-1]["loan"] == NAME
        events = client.get("/loans/events?limit=5").json()
        assert events and events[0]["loan"] == NAME
        page = client.get("/").text
        assert 'id="loans-box"' in page and 'id="health-chart"' in page
