"""Replaying a price file through the live service makes the backtest's decisions and trades."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ballast.config import load_strategy_file
from ballast.engine.backtest import backtest
from ballast.live.ledger import CASH, Ledger
from ballast.live.service import RunSettings, open_service
from live_support import assert_same_trades_and_holdings, write_strategy

CASES = {
    "band-edge, fixed + proportional costs": dict(trigger="band = 0.05", plan="band-edge", fee_bps=10, fixed=5),
    "monthly full, cooldown": dict(
        trigger='rebalance = "weekly"\nband = 0.03\ncooldown = 3', plan="full", fee_bps=25, fixed=0
    ),
    "relative band, bt accounting": dict(
        trigger='band = 0.15\nband_kind = "relative"', plan="full", fee_bps=30, fixed=1, convention="bt"
    ),
}


def live_vs_backtest(path: Path, db: str) -> tuple[Ledger, object]:
    svc = open_service(str(path), RunSettings(db=db, speed="max"))
    svc.run(until_end=True)
    cfg = load_strategy_file(path)
    result = backtest(cfg.prices_path(), cfg.to_strategy(), start=cfg.data.start, end=cfg.data.end)
    return svc.ledger, result


@pytest.mark.parametrize("case", list(CASES))
def test_replay_makes_the_backtests_rebalances_and_trades(case: str, tmp_path: Path, fast_tmp: Path) -> None:
    path = write_strategy(tmp_path, "crypto", data_extra='start = "2020-01-01"\nend = "2020-12-31"', **CASES[case])
    led, r = live_vs_backtest(path, str(fast_tmp / "l.db"))
    quote_leg = r.strategy.convention == "exact"
    assert_same_trades_and_holdings(led, r, "USDT" if quote_leg else None)
    decisions = sorted(led.recent_decisions(10_000), key=lambda d: d["id"])
    rebalance_t = sorted({int(x) for x in r.raw.rebalances.t[r.raw.rebalances.n_trades > 0]})
    assert [d["period"] for d in decisions] == rebalance_t
    held = led.holdings()
    cash_left = held.get(CASH, 0.0)
    assert abs(cash_left) < 1e-6 * r.raw.equity[-1] or not quote_leg
    # every cycle was observed; reasons come from the same trigger objects
    assert led.counts()["cycles"] == r.market.n_periods
    assert decisions[0]["reason"].startswith("initial")
    led.close()


def test_replay_of_the_example_treasury_file_matches_its_backtest(tmp_path: Path, fast_tmp: Path) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "treasury.toml"
    text = example.read_text().replace(
        'prices = "crypto"', 'prices = "crypto"\nstart = "2021-01-01"\nend = "2021-09-30"'
    )
    path = tmp_path / "treasury.toml"
    path.write_text(text)
    led, r = live_vs_backtest(path, str(fast_tmp / "t.db"))
    reb = r.raw.rebalances
    assert led.counts()["decisions"] == int(np.sum(reb[2] > 0)) + 0  # formation trades too (t=0 in reb)
    led.close()


def test_an_asset_the_planner_leaves_alone_is_not_traded_for_rounding() -> None:
    """With a fixed cost per trade, a rounding-sized |w·V − x| must not count as a trade (it would
    pay the fixed cost, and make live and backtest disagree on the last bit of the holdings)."""
    from ballast.costs import Costs, FixedPerTrade
    from ballast.costs.base import compile_costs
    from ballast.engine.kernel import execute, value_and_weights
    from ballast.market import Market

    p = np.array([7143.58, 320.884, 1.00818])
    m = Market(p[None, :], ("BTC", "ETH", "USDT"), pd.DatetimeIndex(["2020-01-01"]))
    costs = compile_costs(Costs(FixedPerTrade(5.0)), m)
    found = 0
    rng = np.random.default_rng(0)
    for _ in range(1000):
        units = rng.uniform(1, 100, 3) * np.array([10.0, 100.0, 1e5])
        w = np.empty(3)
        V = value_and_weights(units, 0.0, p.reshape(1, -1), 0, w)
        if w[1] * V == units[1] * p[1]:
            continue  # exact here: nothing to show
        found += 1
        w_new = w.copy()
        w_new[0] -= 0.01
        w_new[2] += 0.01  # move BTC into USDT; ETH stays where it is
        dv, cost = np.zeros(3), np.zeros(3)
        execute(units.copy(), 0.0, p, w, w_new, np.zeros(len(w), np.bool_), costs, 0, 2, 0, dv, cost)
        assert dv[1] == 0.0 and cost[1] == 0.0
        assert dv[0] < 0 and cost[0] == 5.0
    assert found > 50


def test_replay_on_postgresql_matches_the_backtest(db_url: str, fast_tmp: Path) -> None:
    path = write_strategy(
        fast_tmp,
        "crypto",
        data_extra='start = "2021-03-01"\nend = "2021-05-31"',
        trigger="band = 0.04",
        plan="band-edge",
        fee_bps=10,
        fixed=2,
    )
    led, r = live_vs_backtest(path, db_url)
    rebalance_t = sorted({int(x) for x in r.raw.rebalances[0][r.raw.rebalances[2] > 0]})
    assert sorted(d["period"] for d in led.recent_decisions(1000)) == rebalance_t and len(rebalance_t) > 3
    final_units = r.raw.weights[-1] * r.raw.equity[-1] / r.market.prices[-1]
    held = led.holdings()
    for i, name in enumerate(r.market.assets):
        assert held[name] == pytest.approx(final_units[i], rel=1e-9), name
    led.close()


def test_the_terminal_views_render_holdings_decisions_and_alerts(fast_tmp: Path) -> None:
    from rich.console import Console

    from ballast.live.display import running_view, status_view

    path = write_strategy(
        fast_tmp, "crypto", data_extra='start = "2021-03-01"\nend = "2021-03-20"', trigger="band = 0.01", plan="full"
    )
    svc = open_service(str(path), RunSettings(db=str(fast_tmp / "v.db"), speed="max"))
    svc.run(until_end=True)
    svc.ledger.add_alert("price_jump", "ETH: moved +60.0%", asset="ETH")
    console = Console(record=True, width=140)
    console.print(running_view(svc))
    led = svc.ledger
    console.print(
        status_view(
            led.status(),
            led.recent_decisions(5),
            led.open_orders(),
            led.alerts(open_only=True),
            led.proposals("pending"),
        )
    )
    out = console.export_text()
    assert "ballast run" in out and "pre-trade holdings" in out and "BTC" in out and "40.00%" in out
    assert "last decisions" in out and "open alerts" in out and "ETH: moved +60.0%" in out
    assert f"cycles {svc.view.cycles} " in " ".join(out.split())
