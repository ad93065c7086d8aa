"""A leveraged treasury for the live tests and an independent replay of its loan with the pure
domain alone.

The strategy (``[[loans]]`` and ``[trigger] health`` in its file) forms 90 % ETH / 10 % USDT on day
0 and opens the loan at HF 1.7 on day 1 (``open_health``, as the backtest). The price path (daily;
ETH moves, BTC and USDT flat) then drives, in the band (repay below 1.4 to 1.6, boost above 2.2 to
1.9): a boost on day 3, a ``health_warn`` on day 6, a repay on day 7, and on day 10 a crash to HF
≈ 0.97 — an Aave v3 liquidation of half the debt (HF above 0.95) — followed by a repay in the same
close.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ballast.live.loans import LiveLoan
from ballast.positions import AaveV3, HealthBand, Liquidation, Loan, LoanState, Move, apply_move
from ballast.positions.band import boost_to
from live_support import write_strategy

ETH = [2000, 2000, 2300, 2700, 2700, 2400, 2100, 1900, 1900, 1850, 1150, 1200, 1250]
RATE = 0.05
OPEN = 1.7
FEE, FIXED = 0.001, 5.0  # the strategy's costs: fee_bps = 10, fixed = 5 (write_strategy's defaults)
BAND = HealthBand(1.4, 1.6, 2.2, 1.9, min_debt_change=100.0)
LOAN = Loan(["ETH"], "USDT", ltv=0.8, liquidation_threshold=0.85, liquidation_bonus=0.05, borrow_rate=RATE)
NAME = "ETH/USDT"
LOANS_TOML = f"""
[[loans]]
collateral = ["ETH"]
debt = "USDT"
ltv = 0.8
liquidation_threshold = 0.85
liquidation_bonus = 0.05
borrow_rate = {RATE}
rule = "aave-v3"
open_health = {OPEN}
"""


def live_loan(name: str = NAME, debt: float = 0.0) -> LiveLoan:
    """The file's loan as a Python object (for tests that pass loans in)."""
    return LiveLoan(name, LOAN, AaveV3(), BAND, OPEN, debt)


def loan_prices(folder: Path) -> Path:
    n = len(ETH)
    path = folder / "loan-prices.csv"
    pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=n).strftime("%Y-%m-%d"),
            "BTC": np.full(n, 40_000.0),
            "ETH": np.array(ETH, dtype=float),
            "USDT": np.ones(n),
        }
    ).to_csv(path, index=False)
    return path


def loan_strategy(folder: Path, executor: str = "paper", live_extra: str = "") -> Path:
    """The leveraged treasury: formed at day 0, then only the loan's band trades."""
    path = write_strategy(
        folder,
        loan_prices(folder),
        weights="{ ETH = 0.9, USDT = 0.1 }",
        trigger="health = { repay_below = 1.4, repay_to = 1.6, boost_above = 2.2, boost_to = 1.9, "
        "min_debt_change = 100 }",
        plan="full",
        executor=executor,
        live_extra=live_extra,
    )
    text = path.read_text().replace("[live]", LOANS_TOML + "\n[live]")
    path.write_text(text)
    return path


@dataclass
class Replay:
    """What the pure domain does on the same path: per day the HF after accrual and liquidations,
    the liquidations, the moves (the opening first) and the state after them."""

    hf: list[float] = field(default_factory=list)
    liquidations: list[tuple[int, Liquidation]] = field(default_factory=list)
    moves: list[tuple[int, Move]] = field(default_factory=list)
    states: list[LoanState] = field(default_factory=list)


def replay_domain(formed_eth: float, days: int = len(ETH)) -> Replay:
    """The loan replayed with `Loan`, `AaveV3`, `HealthBand` and `band.boost_to` only, from the ETH
    the formation bought (at day 0, after the loan's step). The venue charges f·v + G on a trade of
    value v, so a repay's swap is the band's with fee f and gas G, and a boost that spends Δ buys
    (Δ − G)/(1 + f): the band's swap with fee f/(1 + f) and gas G/(1 + f)."""
    out = Replay()
    state = LoanState((0.0,), 0.0)  # the loan acts before the formation's trades: nothing pledged yet
    boost_fee, boost_gas = FEE / (1 + FEE), FIXED / (1 + FEE)
    for t in range(days):
        prices = {"ETH": float(ETH[t]), "USDT": 1.0, "BTC": 40_000.0}
        if t > 0:
            state = state.accrue((1.0 + RATE) ** (1.0 / 365.0))
        while (liq := AaveV3().liquidate(LOAN, state, prices)) is not None:
            state, ev = liq
            out.liquidations.append((t, ev))
        hf = state.health_factor(LOAN, prices)
        out.hf.append(hf)
        if t == 1 and state.debt == 0.0:
            move = boost_to(LOAN, state, prices, OPEN, boost_fee, boost_gas, 0)
        else:
            boost = hf > (BAND.boost_above or np.inf)
            fee, gas = (boost_fee, boost_gas) if boost else (FEE, FIXED)
            move = BAND.plan(LOAN, state, prices, fee=fee, gas=gas)
        if move is not None:
            state = apply_move(state, move)
            out.moves.append((t, move))
        if t == 0:
            state = LoanState((formed_eth,), 0.0)  # the formation bought the ETH: all of it pledged
        out.states.append(state)
    return out
