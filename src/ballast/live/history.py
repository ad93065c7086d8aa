"""The live market so far, kept in memory so each cycle can hand the strategy's own objects a
`Market` exactly like the backtest's (rebuilt from the ledger's prices on restart)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from ballast.market import Market


class History:
    """The live market so far: prices appended in place (amortised), viewed as a `Market`."""

    def __init__(self, assets: tuple[str, ...], periods_per_year: float) -> None:
        self.assets = assets
        self.ppy = periods_per_year
        self.prices = np.empty((256, len(assets)))
        self.stamps = np.empty(256, "datetime64[ns]")
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def append(self, when: datetime, row: np.ndarray) -> None:
        if self.n == self.prices.shape[0]:
            self.prices = np.concatenate([self.prices, np.empty_like(self.prices)])
            self.stamps = np.concatenate([self.stamps, np.empty_like(self.stamps)])
        self.prices[self.n] = row
        self.stamps[self.n] = np.datetime64(when, "ns")
        self.n += 1

    def pop(self) -> None:
        self.n -= 1

    def market(self) -> Market:
        return Market(self.prices[: self.n], self.assets, pd.DatetimeIndex(self.stamps[: self.n]), self.ppy)

    def last(self) -> np.ndarray | None:
        return self.prices[self.n - 1] if self.n else None

    def last_time(self) -> datetime | None:
        return pd.Timestamp(self.stamps[self.n - 1]).to_pydatetime() if self.n else None

    def recent(self) -> tuple[Market, int]:
        """The last two closes as a market, and the current close's row in it.

        Per-period cost and constraint arrays are built on this, so period 0 is the formation
        (no turnover cap) exactly as in the backtest, without rebuilding them over all history.
        """
        n = self.n
        lo = max(n - 2, 0)
        return Market(self.prices[lo:n], self.assets, pd.DatetimeIndex(self.stamps[lo:n]), self.ppy), n - 1 - lo
