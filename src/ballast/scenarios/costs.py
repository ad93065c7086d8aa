"""A strategy's costs under a scenario: pool depth scaled and gas added where the shocks say."""

from __future__ import annotations

import numpy as np

from ballast.costs.base import CostArrays, CostModel
from ballast.market import Market


class ShockedCosts(CostModel):
    """``inner``'s costs with pool depth × ``depth_factor`` (T×N) and ``gas`` (T) per trade added."""

    def __init__(self, inner: CostModel, depth_factor: np.ndarray, gas: np.ndarray) -> None:
        self.inner = inner
        self.depth_factor = depth_factor
        self.gas = gas

    def contribute(self, arrays: CostArrays, market: Market) -> CostArrays:
        out = self.inner.contribute(arrays, market)
        if self.depth_factor.shape != out.pool_depth.shape:
            raise ValueError("ShockedCosts: the depth shocks were made for another market")
        return out._replace(pool_depth=out.pool_depth * self.depth_factor, fixed=out.fixed + self.gas)

    def describe(self) -> str:
        return f"{self.inner.describe()} under shocks"
