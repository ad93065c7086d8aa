"""What a delta hedge did: its metrics and its per-close record (the comparison with a
fixed-interval hedge and no hedge is engine/hedge_compare.py).

- ``hedge_error``: the variance of the portfolio's per-period value changes, in units of the
  starting capital (what a hedge exists to shrink; the unhedged run has the same metric);
- ``hedge_fees`` / ``hedge_slippage`` / ``hedge_funding`` / ``hedge_liquidation``: the hedge's
  costs in currency (funding: paid minus received), ``hedge_cost`` their sum;
- ``n_rehedges`` (the opening excluded) and ``n_liquidations``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ballast.enums import (
    HC_DELTA,
    HC_FEES,
    HC_FUNDING,
    HC_HALF_WIDTH,
    HC_LIQUIDATION,
    HC_MARGIN,
    HC_PNL,
    HC_REASON,
    HC_SIZE,
    HC_SLIPPAGE,
    HC_TARGET,
    HC_TRADE,
    HEDGE_BAND,
    HEDGE_CALENDAR,
    HEDGE_LIQUIDATED,
)
from ballast.hedging import reason_text

if TYPE_CHECKING:
    from ballast.engine.hedge import HedgeBook
    from ballast.engine.result import Result

HEDGE_DOCS = {
    "hedge_error": "variance of the per-period changes of the portfolio's value, in units of the starting capital",
    "hedge_fees": "fees of the hedge's trades (proportional and fixed costs), currency",
    "hedge_slippage": "price impact of the hedge's trades (pools), currency",
    "hedge_funding": "perp funding paid minus received, currency",
    "hedge_liquidation": "liquidation penalties paid, currency",
    "hedge_cost": "fees + slippage + funding + liquidation penalties, currency",
    "n_rehedges": "re-hedges after the opening (band, calendar, or the reopening after a liquidation)",
    "n_liquidations": "times the perp's margin fell below maintenance",
}
COLUMNS = {
    "size": HC_SIZE,
    "target": HC_TARGET,
    "half_width": HC_HALF_WIDTH,
    "delta": HC_DELTA,
    "margin": HC_MARGIN,
    "pnl": HC_PNL,
    "funding": HC_FUNDING,
    "fees": HC_FEES,
    "slippage": HC_SLIPPAGE,
    "liquidation": HC_LIQUIDATION,
    "traded": HC_TRADE,
}


def hedge_error(equity: np.ndarray, capital: float) -> float:
    changes = np.diff(np.asarray(equity, np.float64)) / capital
    return float(np.var(changes)) if len(changes) else 0.0


def hedge_metrics(equity: np.ndarray, book: "HedgeBook | None", capital: float) -> dict[str, float]:
    """The hedge metrics of one run (zeros without a hedge: the unhedged comparison)."""
    rows = book.rows if book is not None else np.zeros((len(equity), HC_REASON + 1))
    bits = rows[:, HC_REASON].astype(np.int64)
    fees, slip = float(rows[:, HC_FEES].sum()), float(rows[:, HC_SLIPPAGE].sum())
    funding, liq = float(rows[:, HC_FUNDING].sum()), float(rows[:, HC_LIQUIDATION].sum())
    traded = rows[:, HC_TRADE] != 0.0
    rehedge = traded & ((bits & (HEDGE_BAND | HEDGE_CALENDAR)) != 0)
    reopen = traded & (np.arange(len(bits)) > 0) & ((bits & (HEDGE_BAND | HEDGE_CALENDAR)) == 0)
    return {
        "hedge_error": hedge_error(equity, capital),
        "hedge_fees": fees,
        "hedge_slippage": slip,
        "hedge_funding": funding,
        "hedge_liquidation": liq,
        "hedge_cost": fees + slip + funding + liq,
        "n_rehedges": float(rehedge.sum() + reopen.sum()),
        "n_liquidations": float(((bits & HEDGE_LIQUIDATED) != 0).sum()),
    }


def hedge_frame(result: "Result") -> pd.DataFrame:
    """Per close: the exposure's delta, the hedge and its target and band, margin, PnL, costs, why."""
    assert result.raw.hedge is not None
    rows = result.raw.hedge.rows
    frame = pd.DataFrame({name: rows[:, col] for name, col in COLUMNS.items()}, index=result.market.index)
    frame["reason"] = [reason_text(int(b)) if b else "" for b in rows[:, HC_REASON]]
    return frame


def rehedges(result: "Result") -> pd.DataFrame:
    """Every close at which the hedge traded or was liquidated, with the reason."""
    frame = hedge_frame(result)
    return frame[frame["reason"] != ""]
