"""Live: a stable leaving its peg is not dropped as an outlier, and warn/act raise alerts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ballast.live.service import RunSettings, open_service
from live_support import write_strategy


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
