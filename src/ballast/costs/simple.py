"""The everyday costs: a proportional fee, a fixed cost per trade, a minimum trade size."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ballast.costs.base import CostArrays, CostModel, per_asset_vector
from ballast.market import Market


def _non_negative(who: str, name: str, value: float) -> float:
    value = float(value)
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{who}: {name} must be a non-negative number, got {value!r}")
    return value


class Proportional(CostModel):
    """A fee of ``bps`` basis points of the traded value (per asset overrides allowed)."""

    def __init__(self, bps: float, per_asset: Mapping[str, float] | None = None) -> None:
        self.bps = _non_negative("Proportional", "bps", bps)
        self.per_asset = {
            str(k): _non_negative("Proportional", f"per_asset[{k}]", v) for k, v in (per_asset or {}).items()
        }

    def contribute(self, arrays: CostArrays, market: Market) -> CostArrays:
        bps = per_asset_vector(self.bps, self.per_asset, market, "Proportional")
        return arrays._replace(prop=arrays.prop + bps * 1e-4)

    def describe(self) -> str:
        return f"{self.bps:g} bps"


class FixedPerTrade(CostModel):
    """A fixed ``amount`` (in the price currency) charged on every executed trade."""

    def __init__(self, amount: float) -> None:
        self.amount = _non_negative("FixedPerTrade", "amount", amount)

    def contribute(self, arrays: CostArrays, market: Market) -> CostArrays:
        return arrays._replace(fixed=arrays.fixed + self.amount)

    def describe(self) -> str:
        return f"{self.amount:g} per trade"


class MinTradeSize(CostModel):
    """Skip any trade worth less than ``amount``: it would cost more in fixed fees than it fixes."""

    def __init__(self, amount: float) -> None:
        self.amount = _non_negative("MinTradeSize", "amount", amount)

    def contribute(self, arrays: CostArrays, market: Market) -> CostArrays:
        return arrays._replace(min_trade=max(arrays.min_trade, self.amount))

    def describe(self) -> str:
        return f"min trade {self.amount:g}"
