"""A loan for the live tests and an independent replay of it with the pure domain alone.

The price path (daily; ETH moves, BTC and USDT flat) drives, from an opening HF of 1.7 in the
band (repay below 1.4 to 1.6, boost above 2.2 to 1.9): a boost on day 3, a ``health_warn`` on
day 6, a repay on day 7, and on day 10 a crash to HF ≈ 0.97 — an Aave v3 liquidation of half the
debt (HF above 0.95) — followed by a repay in the same close.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ballast.live.loans import LiveLoan
from ballast.positions import AaveV3, HealthBand, Liquidation, Loan, LoanState, Move, apply_move
from live_support import write_strategy

ETH = [2000, 2000, 2300, 2700, 2700, 2400, 2100, 1900, 1900, 1850, 1150, 1200, 1250]
RATE = 0.05
FEE, FIXED = 0.001, 5.0  # the strategy's costs: fee_bps = 10, fixed = 5 (write_strategy's defaults)
BAND = HealthBand(1.4, 1.6, 2.2, 1.9, min_debt_change=100.0)
LOAN = Loan(["ETH"], "USDT", ltv=0.8, liquidation_threshold=0.85, liquidation_bonus=0.05, borrow_rate=RATE)
OPENING = LoanState((100.0,), 100_000.0)


def live_loan(warn_margin: float = 0.1) -> LiveLoan:
    return LiveLoan("eth-loan", LOAN, AaveV3(), BAND, OPENING, warn_margin=warn_margin)


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
    """Formation at day 0, then no rebalance (band 0.9): every later decision is the loan's."""
    return write_strategy(folder, loan_prices(folder), trigger="band = 0.9", executor=executor, live_extra=live_extra)


@dataclass
class Replay:
    """What the pure domain does on the same path: per day the HF after accrual and liquidations,
    the liquidations, the band's moves and the state after them."""

    hf: list[float] = field(default_factory=list)
    liquidations: list[tuple[int, Liquidation]] = field(default_factory=list)
    moves: list[tuple[int, Move]] = field(default_factory=list)
    states: list[LoanState] = field(default_factory=list)


def replay_domain(days: int = len(ETH)) -> Replay:
    """The loan replayed with `Loan`, `AaveV3` and `HealthBand` only. The venue charges f·v + G on a
    trade of value v, so a repay's swap is the band's with fee f and gas G, and a boost that spends
    Δ buys (Δ − G)/(1 + f): the band's swap with fee f/(1 + f) and gas G/(1 + f)."""
    out = Replay()
    state = OPENING
    for t in range(days):
        prices = {"ETH": float(ETH[t]), "USDT": 1.0, "BTC": 40_000.0}
        if t > 0:
            state = state.accrue((1.0 + RATE) ** (1.0 / 365.0))
        while (liq := AaveV3().liquidate(LOAN, state, prices)) is not None:
            state, ev = liq
            out.liquidations.append((t, ev))
        hf = state.health_factor(LOAN, prices)
        out.hf.append(hf)
        boost = hf > (BAND.boost_above or np.inf)
        fee, gas = (FEE / (1 + FEE), FIXED / (1 + FEE)) if boost else (FEE, FIXED)
        move = BAND.plan(LOAN, state, prices, fee=fee, gas=gas)
        if move is not None:
            state = apply_move(state, move)
            out.moves.append((t, move))
        out.states.append(state)
    return out
