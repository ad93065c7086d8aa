"""Range policies: where a concentrated-liquidity position's new range goes when it is reset.

Every policy answers with log distances below and above the price at each close,
``down[t]`` and ``up[t]`` (range [Pₜ·e^(−down), Pₜ·e^(up)], snapped outward to ticks), using only
the prices up to t. The backtest reads those arrays; `bounds` gives one range for the live service.

- `FixedWidth`: ±pct of the price or ±ticks.
- `VolatilityScaled`: ±k·σ·√h, σ the trailing volatility per period, h the horizon in periods.
- `CharmStyle` (Charm's Alpha Vaults): a base range of ±base ticks holding as much of both tokens as
  balances allow, plus a one-sided limit range of ``limit`` ticks holding the surplus token, so a
  reset needs no swap.
- `QuantileRange` (Gamma's active strategy framework): from quantiles of the trailing h-period
  log returns.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ballast.errors import InputError
from ballast.positions import uniswap_v3 as v3


def _positive(who: str, name: str, value: object, *, whole: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    v = float(value) if ok else math.nan  # type: ignore[arg-type]
    if not (math.isfinite(v) and v > 0.0) or (whole and v != int(v)):
        kind = "a positive whole number" if whole else "a positive number"
        raise InputError(f"{who}: {name} must be {kind}, got {value!r}")
    return v


class RangePolicy(ABC):
    """Where a reset at close t puts the range, from prices up to t."""

    limit_ticks: int = 0  # width of a one-sided limit range for the surplus token (0: swap instead)

    @abstractmethod
    def widths(self, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(down, up): log distances below and above each close's price (float64[T] each)."""

    @abstractmethod
    def describe(self) -> str: ...

    def bounds(self, prices: np.ndarray) -> tuple[float, float]:
        """The range for a reset at the last price of ``prices``."""
        down, up = self.widths(np.asarray(prices, dtype=np.float64))
        p = float(prices[-1])
        return p * math.exp(-float(down[-1])), p * math.exp(float(up[-1]))


@dataclass(frozen=True)
class FixedWidth(RangePolicy):
    """±``pct`` of the price (0.1: from 0.9·P to 1.1·P), or ±``ticks`` ticks."""

    pct: float | None = None
    ticks: int | None = None

    def __post_init__(self) -> None:
        if (self.pct is None) == (self.ticks is None):
            raise InputError("range policy fixed: give the width as pct or as ticks (one of them)")
        if self.pct is not None and not (_positive("range policy fixed", "pct", self.pct) < 1.0):
            raise InputError(f"range policy fixed: pct must be a fraction in (0, 1), got {self.pct!r}")
        if self.ticks is not None:
            _positive("range policy fixed", "ticks", self.ticks, whole=True)

    def widths(self, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = prices.shape[0]
        if self.pct is not None:
            return np.full(n, -math.log1p(-self.pct)), np.full(n, math.log1p(self.pct))
        w = float(self.ticks) * v3.LOG_TICK_BASE  # type: ignore[arg-type]
        return np.full(n, w), np.full(n, w)

    def describe(self) -> str:
        return f"fixed ±{self.pct:.2%}" if self.pct is not None else f"fixed ±{self.ticks} ticks"


def trailing_log_returns(prices: np.ndarray, horizon: int) -> np.ndarray:
    """log(Pₜ/Pₜ₋ₕ) (NaN for the first ``horizon`` rows)."""
    out = np.full(prices.shape[0], np.nan)
    out[horizon:] = np.log(prices[horizon:] / prices[:-horizon])
    return out


@dataclass(frozen=True)
class VolatilityScaled(RangePolicy):
    """±k·σ·√h: σ the standard deviation of the last ``window`` one-period log returns, ``horizon``
    h in periods; never narrower than ``min_pct`` (also the width before two returns exist)."""

    k: float = 2.0
    window: int = 30
    horizon: int = 7
    min_pct: float = 0.01

    def __post_init__(self) -> None:
        _positive("range policy volatility", "k", self.k)
        _positive("range policy volatility", "window", self.window, whole=True)
        _positive("range policy volatility", "horizon", self.horizon, whole=True)
        if not (_positive("range policy volatility", "min_pct", self.min_pct) < 1.0):
            raise InputError(f"range policy volatility: min_pct must be a fraction in (0, 1), got {self.min_pct!r}")

    def widths(self, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = np.zeros(prices.shape[0])
        r[1:] = np.diff(np.log(prices))
        sigma = np.zeros_like(r)
        for t in range(2, r.shape[0]):  # returns r[1..t]: at least two
            sigma[t] = r[max(1, t - self.window + 1) : t + 1].std(ddof=1)
        w = np.maximum(self.k * sigma * math.sqrt(self.horizon), math.log1p(self.min_pct))
        return w, w.copy()

    def describe(self) -> str:
        return f"volatility-scaled ±{self.k:g}·σ·√{self.horizon} (σ over {self.window})"


@dataclass(frozen=True)
class CharmStyle(RangePolicy):
    """Charm's passive strategy: base ±``base_ticks`` and a one-sided limit range of ``limit_ticks``."""

    base_ticks: int = 3600
    limit: int = 1200

    def __post_init__(self) -> None:
        _positive("range policy charm", "base_ticks", self.base_ticks, whole=True)
        _positive("range policy charm", "limit", self.limit, whole=True)
        object.__setattr__(self, "limit_ticks", int(self.limit))

    def widths(self, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = float(self.base_ticks) * v3.LOG_TICK_BASE
        return np.full(prices.shape[0], w), np.full(prices.shape[0], w)

    def describe(self) -> str:
        return f"charm base ±{self.base_ticks} ticks + limit {self.limit} ticks"


@dataclass(frozen=True)
class QuantileRange(RangePolicy):
    """Gamma-style: from the ``lower_q`` and ``upper_q`` quantiles of the last ``window`` h-period log
    returns; each side at least ``min_pct`` (also the width before enough history exists)."""

    window: int = 60
    horizon: int = 7
    lower_q: float = 0.05
    upper_q: float = 0.95
    min_pct: float = 0.01

    def __post_init__(self) -> None:
        who = "range policy quantile"
        _positive(who, "window", self.window, whole=True)
        _positive(who, "horizon", self.horizon, whole=True)
        if not (0.0 <= self.lower_q < 0.5 < self.upper_q <= 1.0):
            raise InputError(f"{who}: need 0 ≤ lower_q < 0.5 < upper_q ≤ 1, got {self.lower_q!r}, {self.upper_q!r}")
        if not (_positive(who, "min_pct", self.min_pct) < 1.0):
            raise InputError(f"{who}: min_pct must be a fraction in (0, 1), got {self.min_pct!r}")

    def widths(self, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = trailing_log_returns(prices, self.horizon)
        floor = math.log1p(self.min_pct)
        down, up = np.full(r.shape[0], floor), np.full(r.shape[0], floor)
        for t in range(self.horizon + 1, r.shape[0]):
            past = r[max(self.horizon, t - self.window + 1) : t + 1]
            down[t] = max(-float(np.quantile(past, self.lower_q)), floor)
            up[t] = max(float(np.quantile(past, self.upper_q)), floor)
        return down, up

    def describe(self) -> str:
        return f"quantile range {self.lower_q:g}–{self.upper_q:g} of {self.horizon}-period returns over {self.window}"
