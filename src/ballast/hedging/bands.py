"""No-trade bands around the hedge target, and the re-hedge to the band's edge.

A band answers one question at each close: how far (in units of the hedge instrument) may the
hedge sit from its target before it is worth trading? Three kinds, combined by their maximum
one band per hedge:

- `AbsoluteBand(value)`: a fixed half-width in currency (Hummingbot's minimum trade);
- `RelativeBand(fraction)`: a fraction of the target hedge's size;
- `WhalleyWilmott(cost, risk_aversion)`: the asymptotically optimal band of Whalley & Wilmott
  (1997) for a proportional cost c and exponential-utility risk aversion λ: half-width
  (3·c·Γ²·S / (2·λ))^(1/3) in units of the underlying, Γ the exposure's gamma at price S
  (pfhedge's ``ww_width``). It is zero without gamma or without cost, and narrows as λ grows.

A band-triggered re-hedge trades only to the nearer edge (as `BandEdge` does for weights): the
smallest trade that puts the hedge back inside.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ballast.hedging.kernel import band_edge
from ballast.hedging.perp import check_number

rehedge_to_edge = band_edge  # the compiled walk's own step (hedging/kernel.py), callable from Python


def ww_half_width(
    cost: float, gamma: float | np.ndarray, price: float | np.ndarray, risk_aversion: float
) -> np.ndarray:
    """Whalley–Wilmott half-width (3·c·Γ²·S / (2·λ))^(1/3), in units of the underlying."""
    g = np.asarray(gamma, np.float64)
    return np.cbrt(3.0 * cost * g * g * np.asarray(price, np.float64) / (2.0 * risk_aversion))


class HedgeBand(ABC):
    """A band's contribution to the encoded half-width: (currency, fraction of target, WW)."""

    @abstractmethod
    def parts(self) -> tuple[float, float, float, float]:
        """(absolute value, relative fraction, WW cost c, WW risk aversion λ); unused parts 0 (λ 1)."""

    def describe(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class AbsoluteBand(HedgeBand):
    """Re-hedge when the hedge is off its target by more than ``value`` (currency)."""

    value: float

    def __post_init__(self) -> None:
        check_number("hedge band", "value", self.value, 0.0, strict=False)

    def parts(self) -> tuple[float, float, float, float]:
        return float(self.value), 0.0, 0.0, 1.0

    def describe(self) -> str:
        return f"absolute band {self.value:g}"


@dataclass(frozen=True)
class RelativeBand(HedgeBand):
    """Re-hedge when the hedge is off its target by more than ``fraction`` of the target."""

    fraction: float

    def __post_init__(self) -> None:
        check_number("hedge band", "fraction", self.fraction, 0.0, strict=False, high=1.0)

    def parts(self) -> tuple[float, float, float, float]:
        return 0.0, float(self.fraction), 0.0, 1.0

    def describe(self) -> str:
        return f"relative band {self.fraction:g}"


@dataclass(frozen=True)
class WhalleyWilmott(HedgeBand):
    """The Whalley–Wilmott band for proportional ``cost`` c (0.001 = 10 bps) and ``risk_aversion`` λ."""

    cost: float
    risk_aversion: float

    def __post_init__(self) -> None:
        check_number("hedge band whalley_wilmott", "cost", self.cost, 0.0, strict=False, high=1.0)
        check_number("hedge band whalley_wilmott", "risk_aversion", self.risk_aversion, 0.0, strict=True)

    def half_width(self, gamma: float | np.ndarray, price: float | np.ndarray) -> np.ndarray:
        return ww_half_width(self.cost, gamma, price, self.risk_aversion)

    def parts(self) -> tuple[float, float, float, float]:
        return 0.0, 0.0, float(self.cost), float(self.risk_aversion)

    def describe(self) -> str:
        return f"Whalley-Wilmott band (cost {self.cost:g}, risk aversion {self.risk_aversion:g})"
