"""What a concentrated-liquidity position earned and lost, from the walk's `LiquidityBook`.

- ``lp_fees``: fees earned (currency).
- ``lp_impermanent_loss``: Σ over the position's deposits of (holding the deposit's tokens − the
  position), each taken just before the next reset and at the end; fees and reset costs excluded.
- ``lp_lvr``: loss-versus-rebalancing, Σ over closes of (old tokens at new prices − the position).
- ``lp_time_in_range``: share of the closes after the first deposit whose fees were earned in range.
- ``lp_resets`` (the first deposit excluded), ``lp_gas`` and ``lp_swap_costs`` (the first deposit's included).
- ``lp_net``: fees − impermanent loss − gas − swap costs: what providing liquidity added over
  holding the deposited tokens.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ballast.engine.liquidity_kernel import (
    C_COST,
    C_FEES,
    C_GAS,
    C_IL,
    C_IN_RANGE,
    C_LVR,
    C_RESET,
    COLUMN_NAMES,
    LiquidityBook,
)
from ballast.market import Market

LIQUIDITY_DOCS = {
    "lp_fees": "fees the liquidity position earned while in range (currency)",
    "lp_impermanent_loss": "holding each deposit's tokens minus the position, summed over deposits (fees excluded)",
    "lp_lvr": "loss-versus-rebalancing of the position: Σ (previous tokens at new prices − position value)",
    "lp_time_in_range": "share of closes after the first deposit with the price inside the range",
    "lp_resets": "range resets (the first deposit excluded)",
    "lp_gas": "gas paid for deposits and resets (currency)",
    "lp_swap_costs": "pool costs of the swaps made at deposits and resets (currency)",
    "lp_net": "fees − impermanent loss − gas − swap costs (currency)",
}


def first_deposit(closes: np.ndarray) -> int:
    hits = np.flatnonzero(closes[:, C_RESET] > 0.0)
    return int(hits[0]) if hits.size else closes.shape[0]


def liquidity_metrics(book: LiquidityBook) -> dict[str, float]:
    c = book.closes
    start = first_deposit(c)
    after = c[start + 1 :]
    resets = after[:, C_RESET] > 0.0
    il = float(after[resets, C_IL].sum())
    if after.shape[0] and not resets[-1]:
        il += float(after[-1, C_IL])
    fees, gas, swaps = float(c[:, C_FEES].sum()), float(c[:, C_GAS].sum()), float(c[:, C_COST].sum())
    return {
        "lp_fees": fees,
        "lp_impermanent_loss": il,
        "lp_lvr": float(c[:, C_LVR].sum()),
        "lp_time_in_range": float(after[:, C_IN_RANGE].mean()) if after.shape[0] else float("nan"),
        "lp_resets": float(resets.sum()),
        "lp_gas": gas,
        "lp_swap_costs": swaps,
        "lp_net": fees - il - gas - swaps,
    }


def liquidity_frame(book: LiquidityBook, market: Market) -> pd.DataFrame:
    """The book's columns per close (engine/liquidity_kernel.py: COLUMN_NAMES); ``lower``/``upper`` in
    token1 per token0, values in the portfolio's currency."""
    frame = pd.DataFrame(book.closes, index=market.index, columns=list(COLUMN_NAMES))
    frame["in_range"] = frame["in_range"] > 0.0
    frame["reset"] = frame["reset"] > 0.0
    frame["reason_bits"] = frame["reason_bits"].astype(np.int64)
    return frame
