"""Calendar triggers: rebalance on the first close of each new period, or every N periods."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ballast.enums import LEAF_MASK, LEAF_NEVER
from ballast.market import Market
from ballast.state import TriggerState
from ballast.triggers.base import Leaf, LeafSpec

FREQUENCIES = ("daily", "weekly", "monthly", "quarterly", "yearly")


def calendar_mask(index: pd.Index, freq: str | int) -> np.ndarray:
    """True on the first close of each new calendar period (bt's ``RunMonthly`` convention).

    Row 0 is never marked: the portfolio is formed there anyway.
    """
    T = len(index)
    mask = np.zeros(T, np.bool_)
    if isinstance(freq, int):
        mask[::freq] = True
        mask[0] = False
        return mask
    if freq == "daily":
        mask[1:] = True
        return mask
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError(
            f"rebalance = {freq!r} needs dated prices; these prices have no dates "
            "(use an integer number of periods instead)"
        )
    # numpy calendar arithmetic: microseconds instead of pandas' field accessors.
    days = index.values.astype("datetime64[D]").astype(np.int64)
    if freq == "weekly":
        key = (days + 3) // 7  # ISO weeks start on Monday; 1970-01-01 was a Thursday
    elif freq == "monthly":
        key = index.values.astype("datetime64[M]").astype(np.int64)
    elif freq == "quarterly":
        key = index.values.astype("datetime64[M]").astype(np.int64) // 3
    elif freq == "yearly":
        key = index.values.astype("datetime64[Y]").astype(np.int64)
    else:
        raise ValueError(f"unknown calendar frequency {freq!r}; expected one of {', '.join(FREQUENCIES)} or a number")
    key = np.asarray(key)
    mask[1:] = key[1:] != key[:-1]
    return mask


class Calendar(Leaf):
    """Rebalance on a calendar: ``"daily"``, ``"weekly"``, ``"monthly"``, ``"quarterly"``,
    ``"yearly"``, or an integer N for every N periods (counted from the first close)."""

    def __init__(self, freq: str | int) -> None:
        if isinstance(freq, str) and freq.isdigit():
            freq = int(freq)
        if isinstance(freq, int):
            if freq < 1:
                raise ValueError(f"Calendar: every-N-periods needs N >= 1, got {freq}")
        elif freq not in FREQUENCIES:
            raise ValueError(
                f"Calendar: unknown frequency {freq!r}; expected one of {', '.join(FREQUENCIES)} or a number"
            )
        self.freq = freq

    def check(self, state: TriggerState) -> bool:
        if state.t == 0:
            return False
        if isinstance(self.freq, int):
            return state.t % self.freq == 0
        # Only the current and previous dates are needed: no look-ahead.
        return bool(calendar_mask(state.market.index[state.t - 1 : state.t + 1], self.freq)[1])

    def encode(self, market: Market) -> LeafSpec:
        return LeafSpec(LEAF_MASK, mask=calendar_mask(market.index, self.freq))

    def describe(self) -> str:
        return f"every {self.freq} periods" if isinstance(self.freq, int) else self.freq

    def reason(self, state: TriggerState) -> str:
        return f"calendar: {self.describe()}"


class Never(Leaf):
    """Never rebalance after forming the portfolio: buy and hold."""

    def check(self, state: TriggerState) -> bool:
        return False

    def encode(self, market: Market) -> LeafSpec:
        return LeafSpec(LEAF_NEVER)

    def describe(self) -> str:
        return "never"
