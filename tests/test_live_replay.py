"""Replaying a price file through the live service makes the backtest's decisions and trades."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from live_support import fast_tmp, write_strategy  # noqa: F401

from ballast.config import load_strategy_file
from ballast.engine.backtest import backtest
from ballast.live.ledger import CASH, Ledger
from ballast.live.service import RunSettings, open_service

CASES = {
    "band-edge, fixed + proportional costs": dict(trigger="band = 0.05", plan="band-edge", fee_bps=10, fixed=5),
    "monthly full, cooldown": dict(trigger='rebalance = "weekly"\nband = 0.03\ncooldown = 3', plan="full",
                                   fee_bps=25, fixed=0),
    "relative band, bt accounting": dict(trigger='band = 0.15\nband_kind = "relative"', plan="full", fee_bps=30,
                                         fixed=1, convention="bt"),
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
    t, a, q, v, c = r.raw.trades
    assets = r.market.assets
    quote_leg = r.strategy.convention == "exact"
    bt = {(int(t[k]), assets[a[k]]): (q[k], c[k]) for k in range(len(t))
          if not (quote_leg and assets[a[k]] == "USDT" and t[k] > 0)}
    live = {}
    decisions = sorted(led.recent_decisions(10_000), key=lambda d: d["id"])
    for d in decisions:
        for f in led.decision(d["id"])["fills"]:
            live[(d["period"], f["asset"])] = (f["quantity"], f["fee"])
    rebalance_t = sorted({int(x) for x in r.raw.rebalances.t[r.raw.rebalances.n_trades > 0]})
    assert [d["period"] for d in decisions] == rebalance_t
    assert len(rebalance_t) > 5
    assert live.keys() == bt.keys()
    for key, (qty, fee) in bt.items():
        assert live[key][0] == pytest.approx(qty, rel=1e-9, abs=1e-12), key
        assert live[key][1] == pytest.approx(fee, rel=1e-9, abs=1e-9), key
    # the ledger's final holdings are the backtest's final holdings
    held = led.holdings()
    final_units = r.raw.weights[-1] * r.raw.equity[-1] / r.market.prices[-1]
    for i, name in enumerate(assets):
        assert held.get(name, 0.0) == pytest.approx(final_units[i], rel=1e-9), name
    cash_left = held.get(CASH, 0.0)
    assert abs(cash_left) < 1e-6 * r.raw.equity[-1] or not quote_leg
    # every cycle was observed; reasons come from the same trigger objects
    assert led.counts()["cycles"] == r.market.n_periods
    assert decisions[0]["reason"].startswith("initial")
    led.close()


def test_replay_of_the_example_treasury_file_matches_its_backtest(tmp_path: Path, fast_tmp: Path) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "treasury.toml"
    text = example.read_text().replace('prices = "crypto"', 'prices = "crypto"\nstart = "2021-01-01"\nend = "2021-09-30"')
    path = tmp_path / "treasury.toml"
    path.write_text(text)
    led, r = live_vs_backtest(path, str(fast_tmp / "t.db"))
    reb = r.raw.rebalances
    assert led.counts()["decisions"] == int(np.sum(reb[2] > 0)) + 0  # formation trades too (t=0 in reb)
    led.close()
