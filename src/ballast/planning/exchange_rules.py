"""Exchange rules: lot (step) size, minimum quantity and minimum notional, per asset.

Quantities are rounded *down* to the step in decimal arithmetic, so a rounded sale never exceeds
the holding and a rounded purchase never spends more than was budgeted, and the float returned
prints as the exact multiple of the step (what an exchange API accepts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

import numpy as np


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x)))


@dataclass(frozen=True)
class AssetRules:
    """One market's rules: ``step_size`` (0 = any quantity), ``min_qty``, ``min_notional`` (quote)."""

    step_size: float = 0.0
    min_qty: float = 0.0
    min_notional: float = 0.0

    def __post_init__(self) -> None:
        for name in ("step_size", "min_qty", "min_notional"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"AssetRules: {name} must be a non-negative number, got {v!r}")

    def floor(self, qty: float) -> float:
        """``qty`` rounded down to a multiple of the step (never up)."""
        if qty <= 0:
            return 0.0
        if self.step_size == 0:
            return float(qty)
        step = _dec(self.step_size)
        return float((_dec(qty) / step).to_integral_value(rounding=ROUND_FLOOR) * step)

    def on_step(self, qty: float) -> bool:
        return self.step_size == 0 or _dec(qty) % _dec(self.step_size) == 0

    def allows(self, qty: float, price: float) -> bool:
        """True if an order of ``qty`` at ``price`` (quote) passes min quantity and min notional."""
        return qty > 0 and qty >= self.min_qty and qty * price >= self.min_notional and self.on_step(qty)


@dataclass(frozen=True)
class ExchangeRules:
    """Rules for every asset: ``default`` plus ``per_asset`` overrides."""

    default: AssetRules = field(default_factory=AssetRules)
    per_asset: Mapping[str, AssetRules] = field(default_factory=dict)

    def __post_init__(self) -> None:
        fixed = {}
        for k, v in self.per_asset.items():
            fixed[str(k)] = v if isinstance(v, AssetRules) else AssetRules(**dict(v))
        object.__setattr__(self, "per_asset", fixed)

    def of(self, asset: str) -> AssetRules:
        return self.per_asset.get(asset, self.default)
