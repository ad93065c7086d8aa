"""Live: a stable leaving its peg is not dropped as an outlier, and warn/act raise alerts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ballast.live.service import RunSettings, open_service
from live_support import assert_same_trades_and_holdings, write_strategy


def test_a_depeg_is_information_and_raises_alerts(fast_tmp: Path, db_url: str) -> None:
    n = 40
    rng = np.random.default_rng(2)
    idx = pd.date_range("2023-01-01", periods=n, freq="D")
    usdc = np.ones(n)
    usdc[20:23] = [0.985, 0.88, 0.88]  # warn, then a 12 % break in one close: beyond max_jump
    df = pd.DataFrame(
        {
            "date": idx.strftime("%Y-%m-%d"),
            "ETH": 2000 * np.exp(np.cumsum(rng.normal(0, 0.01, n))),
            "USDC": usdc,
            "USDT": 1.0,
        }
    )
    df.to_csv(fast_tmp / "p.csv", index=False)
    path = write_strategy(
        fast_tmp,
        fast_tmp / "p.csv",
        weights="{ ETH = 0.4, USDC = 0.3, USDT = 0.3 }",
        trigger='rebalance = "monthly"\ndepeg = { act = 0.02, warn = 0.01, recover = 2 }',
        plan="full",
        live_extra="[live.guards]\nmax_jump = 0.1",
    )
    path.write_text(path.read_text() + "\n[pegs]\nUSDC = 1.0\nUSDT = 1.0\n")
    svc = open_service(str(path), RunSettings(db=db_url, speed="max"))
    svc.run(until_end=True)
    led = svc.ledger
    alerts = {(a["kind"], a["asset"]) for a in led.alerts(limit=100)}
    assert ("depeg_warn", "USDC") in alerts and ("depeg_act", "USDC") in alerts
    assert not any(k == "price_jump" for k, _ in alerts)  # the 12 % move was not dropped
    decided = {d["observed_at"][:10]: d for d in led.recent_decisions(100)}
    assert "2023-01-22" in decided and "USDC depegged" in decided["2023-01-22"]["reason"]


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stable-reserve.toml"


def example_copy(folder: Path, start: str, end: str, prices: str = "crypto") -> Path:
    text = (
        EXAMPLE.read_text()
        .replace('prices = "crypto"', f'prices = "{prices}"')
        .replace('start = "2022-06-01"', f'start = "{start}"\nend = "{end}"')
    )
    path = folder / "reserve.toml"
    path.write_text(text + '\n[live]\ninterval = "1d"\n', encoding="utf-8")
    return path


def test_the_example_replays_a_usdc_break_with_alerts_and_the_backtests_exit(fast_tmp: Path, db_url: str) -> None:
    """examples/stable-reserve.toml under usdc-2023 through the live service: act alerts for USDC
    and DAI, the exit on 2023-03-10 and the return on 2023-03-16, and every fill (and
    the monthly spend) as the backtest on the same shocked prices makes them."""
    from ballast.config import load_strategy_file
    from ballast.engine.backtest import backtest, to_market, universe
    from ballast.live.treasury import entries
    from ballast.scenarios.builtins import builtin

    cfg = load_strategy_file(example_copy(fast_tmp, "2023-02-01", "2023-04-10"))
    s = cfg.to_strategy()
    assert s.pegs is not None
    m = to_market(
        cfg.prices_path(),
        s.cash,
        start=cfg.data.start,
        end=cfg.data.end,
        assets=universe(s, cfg.data.assets),
        ideal=s.pegs.ideal_columns(),
    )
    frame = pd.DataFrame(m.prices, index=m.index, columns=list(m.assets))
    builtin("usdc-2023").apply(frame).prices.rename_axis("date").to_csv(fast_tmp / "shocked.csv")
    path = example_copy(fast_tmp, "2023-02-01", "2023-04-10", str(fast_tmp / "shocked.csv"))
    svc = open_service(str(path), RunSettings(db=db_url, speed="max"))
    svc.run(until_end=True)
    led = svc.ledger
    alerts = {(a["kind"], a["asset"]) for a in led.alerts(limit=100)}
    assert {("depeg_act", "USDC"), ("depeg_act", "DAI")} <= alerts  # 0.94 at once: act, never warn
    decided = {d["observed_at"][:10]: d for d in led.recent_decisions(100)}
    assert "USDC depegged" in decided["2023-03-10"]["reason"] and "USDC recovered" in decided["2023-03-16"]["reason"]
    r = backtest(fast_tmp / "shocked.csv", load_strategy_file(path).to_strategy(), start="2023-02-01", end="2023-04-10")
    live = assert_same_trades_and_holdings(led, r, "USDT")
    exit_day = r.market.index.get_loc(pd.Timestamp("2023-03-10"))
    assert live[(exit_day, "USDC")][0] < 0  # the exit sold USDC, live as in the backtest
    spent = [e for e in entries(led, 1000) if e["kind"] == "withdrawal"]
    assert len(spent) == 2 and all(e["units"] == -150_000 and e["asset"] == "USDT" for e in spent)
    led.close()


def test_the_example_replays_on_the_bundled_prices_with_its_ideal_stables(fast_tmp: Path) -> None:
    """The bundled closes have no USDC or DAI: the replay prices them at their peg, as the backtest."""
    path = example_copy(fast_tmp, "2023-01-01", "2023-01-12")
    svc = open_service(str(path), RunSettings(db=str(fast_tmp / "l.db"), speed="max"))
    svc.run(until_end=True)
    snap = svc.ledger.recent_decisions(10)
    assert snap and snap[-1]["period"] == 0  # formed at the first close
    held = svc.ledger.holdings()
    assert held["USDC"] == pytest.approx(held["DAI"]) and held["USDC"] > 0
    svc.ledger.close()
