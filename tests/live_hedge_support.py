"""Hedged treasuries for the live tests: ``examples/hedged-treasury.toml`` cut to its first closes,
and a short synthetic path whose 5x short perp is liquidated (the fault-injection tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from live_support import write_strategy

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hedged-treasury.toml"
# ETH up through the band (the short is cut), a jump that liquidates the 5x short (no top-up), back down
PATH = [2000.0, 2060.0, 2150.0, 2100.0, 2200.0, 2500.0, 2400.0, 2300.0, 2150.0, 2200.0, 2050.0, 2100.0]
LIQUIDATED = 5  # the close of the jump
HEDGE = """
[hedge]
exposure = "ETH"
band = 0.02
funding = 0.0003
leverage = 5
maintenance = 0.1
margin_topup = 0
fee_bps = 4
"""


def example_strategy(folder: Path, end: str = "2021-02-28", executor: str = "paper", live_extra: str = "") -> Path:
    """The bundled example with ``[data] end`` and a ``[live]`` section (daily closes)."""
    text = EXAMPLE.read_text(encoding="utf-8").replace('start = "2021-01-01"', f'start = "2021-01-01"\nend = "{end}"')
    path = folder / "hedged.toml"
    path.write_text(text + f'\n[live]\ninterval = "1d"\nexecutor = "{executor}"\n{live_extra}\n', encoding="utf-8")
    return path


def hedge_strategy(folder: Path, executor: str = "paper", hedge: str = HEDGE, live_extra: str = "") -> Path:
    """60 % ETH / 40 % USDT (cash), its ETH hedged with a 5x short perp in a 5 % band."""
    prices = folder / "hedge-prices.csv"
    n = len(PATH)
    pd.DataFrame(
        {"date": pd.date_range("2024-01-01", periods=n).strftime("%Y-%m-%d"), "ETH": PATH, "USDT": np.ones(n)}
    ).to_csv(prices, index=False)
    path = write_strategy(
        folder, prices, weights="{ ETH = 0.6, USDT = 0.4 }", trigger="band = 0.02", executor=executor,
        live_extra=live_extra,
    )  # fmt: skip
    path.write_text(path.read_text().replace("[live]", hedge + "\n[live]"))
    return path
