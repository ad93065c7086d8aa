"""A delta hedge in the live service, on SQLite and PostgreSQL: ``examples/hedged-treasury.toml``
replayed through ``run`` re-hedges on the backtest's closes by the backtest's sizes, with its
fees, mark-to-market and funding (funding also against the pure domain's `accrue_funding`); a
5x short is liquidated on the backtest's close; every re-hedge records why; status (terminal,
--json) and the API show delta, band and the perp; what cannot run live is refused, naming the
``[hedge]`` field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from ballast.errors import InputError
from ballast.live.ledger import Ledger
from ballast.live.models import Alert, Fill, HedgeMark, LedgerEntry
from ballast.live.service import RunSettings, open_service
from live_hedge_support import HEDGE, LIQUIDATED, PATH, example_strategy, hedge_strategy
from live_support import db_url  # noqa: F401  (fixture)

runner = CliRunner()
SYMBOL = "ETH/USDC:USDC"


def replayed(path: Path, db: str):  # type: ignore[no-untyped-def]
    """(the ledger after replaying ``path`` through the service, the backtest of ``path``)."""
    from ballast.config import load_strategy_file
    from ballast.engine.backtest import backtest

    svc = open_service(str(path), RunSettings(db=db, speed="max"))
    svc.run(until_end=True)
    cfg = load_strategy_file(path)
    return svc.ledger, backtest(cfg.prices_path(), cfg.to_strategy(), start=cfg.data.start, end=cfg.data.end)


def assert_as_backtest(led: Ledger, r, symbol: str) -> None:  # type: ignore[no-untyped-def]
    """Every close's mark, every perp fill and the wallet equal the backtest's (to ~1e-9)."""
    h = r.hedge
    with led.session() as s:
        marks = s.scalars(select(HedgeMark).order_by(HedgeMark.period)).all()
        fills = s.execute(
            select(Fill.quantity, Fill.price, Fill.fee).where(Fill.asset == symbol).order_by(Fill.id)
        ).all()
        settled = s.scalars(select(LedgerEntry.units).where(LedgerEntry.key.like("%:hedge:settle"))).all()
    assert [m.period for m in marks] == list(range(len(h)))
    scale = float(np.abs(h["size"]).max())
    for m, (_, row) in zip(marks, h.iterrows(), strict=True):
        assert m.planned == pytest.approx(row["size"], rel=1e-9, abs=1e-9 * scale), m.period
        assert m.target == pytest.approx(row["target"], rel=1e-9, abs=1e-9 * scale), m.period
        assert (m.band_hi - m.band_lo) / 2 == pytest.approx(row["half_width"], rel=1e-9, abs=1e-9 * scale)
        assert m.funding == pytest.approx(row["funding"], rel=1e-9, abs=1e-6), m.period
        assert m.pnl == pytest.approx(row["pnl"], rel=1e-9, abs=1e-6), m.period
        assert m.liquidation == pytest.approx(row["liquidation"], rel=1e-9, abs=1e-9), m.period
        assert bool(m.reason) == (row["traded"] != 0.0), m.period
    traded = h[h["traded"] != 0.0]
    assert len(fills) == len(traded) > 0
    mark = r.market.prices[:, r.market.asset_index(symbol.split("/")[0])]
    for (qty, price, fee), (when, row) in zip(fills, traded.iterrows(), strict=True):
        assert qty == pytest.approx(row["traded"], rel=1e-9), when
        assert price == mark[h.index.get_loc(when)], when  # the paper venue fills at the mark
        assert fee == pytest.approx(row["fees"] + row["slippage"], rel=1e-9, abs=1e-9), when
    # the cash the settlements moved: mark-to-market + funding received − penalties
    assert sum(settled) == pytest.approx((h["pnl"] - h["funding"] - h["liquidation"]).sum(), rel=1e-9, abs=1e-6)
    # the wallet after the last close: the backtest's units (weights x equity / price)
    held = led.holdings()
    equity, prices = float(r.equity.iloc[-1]), r.market.prices[-1]
    for i, a in enumerate(r.market.assets):
        want = float(r.weights.iloc[-1, i]) * equity / prices[i]
        assert held.get(a, 0.0) == pytest.approx(want, rel=1e-9, abs=1e-6 * equity / prices[i]), a


def test_the_example_replayed_live_rehedges_as_its_backtest(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    from ballast.hedging import Funding, accrue_funding

    led, r = replayed(example_strategy(tmp_path), db_url)
    assert_as_backtest(led, r, SYMBOL)
    h = r.hedge
    assert (h["reason"] == "band").sum() >= 5  # the band, not only the opening, trades
    # funding booked = the domain's: a constant rate on the size held over each period
    market = r.market
    rates = Funding(0.0001).per_period(market)
    received = accrue_funding(h["size"].to_numpy()[:-1], market.prices[1:, market.asset_index("ETH")], rates[1:])
    st = led.status()["hedge"]
    assert st["funding_paid"] == pytest.approx(-received.sum(), rel=1e-9)
    assert st["funding_paid"] < 0  # a short receives a positive rate
    # every re-hedge records why: which side of the band and to which edge
    with led.session() as s:
        why = s.execute(select(HedgeMark.reason, HedgeMark.planned, HedgeMark.size).where(HedgeMark.reason != "")).all()
    for reason, planned, size in why[1:]:
        side = "below" if planned > size else "above"
        edge = "lower" if side == "below" else "upper"
        assert reason.startswith(f"band: hedge {size:+.8g} is {side} the band"), reason
        assert f"to the band's {edge} edge" in reason
    assert why[0][0].startswith("open the hedge at the target")
    assert st["size"] == pytest.approx(h["size"].iloc[-1], rel=1e-12)
    assert st["rehedges"] == int((h["traded"] != 0).sum())
    assert st["band"] == pytest.approx([h["target"].iloc[-1] - h["half_width"].iloc[-1],
                                        h["target"].iloc[-1] + h["half_width"].iloc[-1]], rel=1e-9)  # fmt: skip
    assert st["fees"] == pytest.approx((h["fees"] + h["slippage"]).sum(), rel=1e-9)
    # the perp is no wallet holding; the decisions' reasons carry the re-hedge
    assert SYMBOL not in led.holdings()
    assert any("hedge: band: hedge" in d["reason"] for d in led.recent_decisions(1000))
    # faces: status terminal and --json, the API
    from ballast.api.app import create_app
    from ballast.api.security import Access
    from ballast.cli import app as cli

    out = runner.invoke(cli, ["status", "--db", db_url, "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["hedge"]["size"] == pytest.approx(st["size"])
    out = runner.invoke(cli, ["status", "--db", db_url], env={"COLUMNS": "220"})
    assert out.exit_code == 0, out.output
    assert "delta hedge" in out.output and SYMBOL in out.output and "last re-hedge" in out.output
    client = TestClient(
        create_app(led, Access(token="t" * 24)), client=("127.0.0.1", 50000), base_url="http://127.0.0.1"
    )
    api = client.get("/status").json()["hedge"]
    assert api["delta"] == pytest.approx(st["delta"]) and api["band"] == pytest.approx(st["band"])
    assert api["margin"] == pytest.approx(st["margin"]) and api["funding_paid"] == pytest.approx(st["funding_paid"])
    led.close()


def test_a_short_is_liquidated_on_the_backtests_close(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    led, r = replayed(hedge_strategy(tmp_path), db_url)
    assert_as_backtest(led, r, "ETH/USDT:USDT")
    assert r.hedge["liquidation"].to_numpy().nonzero()[0].tolist() == [LIQUIDATED]
    with led.session() as s:
        liq = s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "liquidation")).all()
        alerts = s.scalars(select(Alert).where(Alert.kind == "hedge_liquidated")).all()
        mark = s.scalars(select(HedgeMark).where(HedgeMark.period == LIQUIDATED)).one()
    assert [e.period for e in liq] == [LIQUIDATED] and len(alerts) == 1
    assert liq[0].units == pytest.approx(-r.hedge["size"].iloc[LIQUIDATED - 1], rel=1e-12)  # the short closed
    assert mark.size == 0.0 and mark.reason.startswith("open the hedge")  # reopened at the same close
    assert led.status()["hedge"]["liquidation_penalties"] == pytest.approx(r.hedge["liquidation"].sum(), rel=1e-12)
    led.close()


def test_dry_run_sends_no_rehedge_and_keeps_the_hedge_closed(tmp_path: Path) -> None:
    path = hedge_strategy(tmp_path)
    svc = open_service(str(path), RunSettings(db=f"sqlite:///{tmp_path / 'd.db'}", speed="max", dry_run=True))
    svc.run(until_end=True)
    st = svc.ledger.status()["hedge"]
    assert st["size"] == 0.0 and st["fees"] == 0.0 and st["funding_paid"] == 0.0
    with svc.ledger.session() as s:  # every close tries to open it again, none is sent
        opens = s.scalars(select(HedgeMark.reason).where(HedgeMark.reason.like("open the hedge%"))).all()
    assert len(opens) == len(PATH)
    svc.ledger.close()


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        ("funding = 0.0003\n", 'funding_file = "funding.csv"\n', "funding_file: live, funding must be a constant"),
        ('exposure = "ETH"\n', 'exposure = "position"\n', r'exposure = "position" needs .*\[\[positions\]\]'),
    ],
)
def test_what_cannot_run_live_is_refused_naming_the_field(
    tmp_path: Path, change: str, field: str, expected: str
) -> None:
    pd.DataFrame({"date": pd.date_range("2024-01-01", periods=20), "rate": 0.0001}).to_csv(tmp_path / "funding.csv")
    path = hedge_strategy(tmp_path, hedge=HEDGE.replace(change, field))
    with pytest.raises(InputError, match=rf"strategy.toml: \[hedge\] {expected}"):
        open_service(str(path), RunSettings(db=f"sqlite:///{tmp_path / 'l.db'}", speed="max"))
    assert not (tmp_path / "l.db").exists()


def test_a_liquidity_positions_delta_is_hedged_as_in_the_backtest(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    """``exposure = "position"``: the perp follows the paper pool position's token0 (and its gamma
    sizes a Whalley-Wilmott band), close by close as the backtest's."""
    from test_live_lp import lp_strategy

    path = lp_strategy(tmp_path)
    hedge = '[hedge]\nexposure = "position"\nband_kind = "whalley-wilmott"\ncost = 0.0005\nrisk_aversion = 0.0001\n'
    path.write_text(path.read_text().replace("[live]", hedge + "funding = 0.0001\n\n[live]"))
    led, r = replayed(path, db_url)
    assert_as_backtest(led, r, "ETH/USDT:USDT")
    h = r.hedge
    assert (h["reason"] == "band").sum() >= 2 and (h["half_width"].iloc[1:] > 0).all()
    led.close()


def test_an_instrument_without_prices_is_refused(tmp_path: Path) -> None:
    path = hedge_strategy(tmp_path, hedge=HEDGE.replace('exposure = "ETH"\n', 'exposure = "ETH"\ninstrument = "SOL"\n'))
    with pytest.raises(InputError, match="SOL"):
        open_service(str(path), RunSettings(db=f"sqlite:///{tmp_path / 'l.db'}", speed="max"))


def test_a_correlated_instrument_is_hedged_with_the_rolling_ratio_as_in_the_backtest(tmp_path: Path) -> None:
    """ETH hedged with a BTC perp: BTC is observed though the target does not hold it, and the
    hedge ratio is the backtest's rolling regression over the closes seen so far."""
    path = example_strategy(tmp_path)
    path.write_text(
        path.read_text().replace('exposure = "ETH"\n', 'exposure = "ETH"\ninstrument = "BTC"\nratio_window = 10\n')
    )
    led, r = replayed(path, f"sqlite:///{tmp_path / 'l.db'}")
    assert_as_backtest(led, r, "BTC/USDC:USDC")
    h = r.hedge
    assert (h["target"].iloc[:10] == 0).all() and (h["traded"] != 0).sum() >= 3  # no hedge before the window fills
    led.close()
