"""What a hedge protects: an exposure's delta (units of an asset it moves like) and gamma.

- `Holdings(asset)`: the strategy's own holdings of ``asset`` — spot crypto, or a treasury's
  native token held as a column of the prices. Its delta is the units held after each close's
  rebalance (read by the walk); its gamma is 0.
- `LiquidityPosition()`: the strategy's concentrated-liquidity position (`Strategy.liquidity`,
  issue 16) — only its token0 exposure dV/dP and its gamma, read from the position at each close,
  not the free tokens beside it. Its asset is the position's token0 (set by the hedge).
- `PriceExposure`: a position outside the rebalanced holdings whose delta is a function of the
  price alone (an LP position's ``delta(price)``, an option). `FullRangeLP` is the simplest one,
  a constant-product (Uniswap v2) position: the short-gamma exposure hedging exists for.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ballast.hedging.perp import check_number


class Exposure(ABC):
    """An exposure to the price of ``asset``."""

    asset: str

    def describe(self) -> str:
        return f"{type(self).__name__}({self.asset})"


@dataclass(frozen=True)
class Holdings(Exposure):
    """The units of ``asset`` the strategy holds (spot holdings, or its native token)."""

    asset: str

    def describe(self) -> str:
        return f"holdings of {self.asset}"


@dataclass(frozen=True)
class LiquidityPosition(Exposure):
    """The strategy's liquidity position: delta = its token0 amount, gamma = −L/(2·P^1.5) in range."""

    asset: str = ""  # the position's token0 and token1, filled in by `DeltaHedge.for_position`
    token1: str = ""

    def describe(self) -> str:
        return f"the liquidity position's {self.asset or 'token0'} delta"


class PriceExposure(Exposure):
    """A position whose value, delta and gamma depend on the price of ``asset`` alone."""

    @abstractmethod
    def value(self, price: np.ndarray) -> np.ndarray:
        """Value in currency at ``price``."""

    @abstractmethod
    def delta(self, price: np.ndarray) -> np.ndarray:
        """dValue/dPrice: units of ``asset`` the position moves like."""

    @abstractmethod
    def gamma(self, price: np.ndarray) -> np.ndarray:
        """d²Value/dPrice²."""


@dataclass(frozen=True)
class FullRangeLP(PriceExposure):
    """A full-range constant-product position of liquidity L = √(x·y): x = L/√P units of
    ``asset`` and y = L·√P of the quote, so value 2L√P, delta L/√P, gamma −L/(2·P^1.5)."""

    asset: str
    liquidity: float

    def __post_init__(self) -> None:
        check_number("hedge exposure", "liquidity", self.liquidity, 0.0, strict=True)

    def value(self, price: np.ndarray) -> np.ndarray:
        return 2.0 * self.liquidity * np.sqrt(np.asarray(price, np.float64))

    def delta(self, price: np.ndarray) -> np.ndarray:
        return self.liquidity / np.sqrt(np.asarray(price, np.float64))

    def gamma(self, price: np.ndarray) -> np.ndarray:
        p = np.asarray(price, np.float64)
        return -0.5 * self.liquidity / (p * np.sqrt(p))

    @classmethod
    def worth(cls, asset: str, value: float, price: float) -> "FullRangeLP":
        """The position worth ``value`` at ``price`` (half in each token)."""
        return cls(asset, value / (2.0 * math.sqrt(price)))
