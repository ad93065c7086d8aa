"""What a cost model is, and how several combine into the arrays the kernel reads.

Every model contributes to one `CostArrays` record; the cost of trading a value d of asset i at
period t is then ``trade_cost`` in costs/kernel.py — one function, used by the compiled engine,
the pure-Python engine and the live paper broker alike, so they cannot disagree.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

import numpy as np

from ballast.market import Market


class CostArrays(NamedTuple):
    """All costs as arrays. Values are in the portfolio's currency (the price unit)."""

    prop: np.ndarray  # float64[N]: fraction of traded value (fees + half-spread)
    fixed: np.ndarray  # float64[T]: currency per executed trade (commission, gas)
    min_trade: float  # trades of smaller value are skipped
    pool_kind: np.ndarray  # int64[N]: POOL_* per asset (AMM price impact)
    pool_depth: np.ndarray  # float64[T, N]: quote-side pool reserve, in currency
    pool_fee: np.ndarray  # float64[N]: the pool's own fee fraction
    pool_amp: np.ndarray  # float64[N]: StableSwap amplification A
    fixed_asset: np.ndarray  # float64[T, N]: extra currency per trade of asset i (gas of extra hops)
    pool_slice: np.ndarray  # float64[N]: largest single swap as a fraction of pool_depth (0 = no cap)


class CostModel(ABC):
    """Base of cost models; ``a + b`` combines two models into one."""

    @abstractmethod
    def contribute(self, arrays: CostArrays, market: Market) -> CostArrays:
        """Return ``arrays`` with this model's costs added."""

    def __add__(self, other: "CostModel") -> "Costs":
        return Costs(self, other)

    def describe(self) -> str:
        return type(self).__name__


class Costs(CostModel):
    """Several cost models charged together."""

    def __init__(self, *models: CostModel) -> None:
        flat: list[CostModel] = []
        for m in models:
            flat.extend(m.models if isinstance(m, Costs) else [m])
        self.models: tuple[CostModel, ...] = tuple(flat)

    def contribute(self, arrays: CostArrays, market: Market) -> CostArrays:
        for m in self.models:
            arrays = m.contribute(arrays, market)
        return arrays

    def describe(self) -> str:
        return " + ".join(m.describe() for m in self.models) or "no costs"


def zero_costs(market: Market) -> CostArrays:
    T, N = market.prices.shape
    return CostArrays(
        np.zeros(N),
        np.zeros(T),
        0.0,
        np.zeros(N, np.int64),
        np.zeros((T, N)),
        np.zeros(N),
        np.zeros(N),
        np.zeros((T, N)),
        np.zeros(N),
    )


def compile_costs(model: CostModel | None, market: Market) -> CostArrays:
    arrays = zero_costs(market)
    return arrays if model is None else model.contribute(arrays, market)


def per_asset_vector(default: float, overrides: dict[str, float], market: Market, who: str) -> np.ndarray:
    """Expand a default plus per-asset overrides into a vector, naming unknown assets clearly."""
    unknown = [a for a in overrides if a not in market.assets]
    if unknown:
        raise KeyError(f"{who}: per_asset names unknown asset(s) {', '.join(map(repr, unknown))}")
    return np.array([overrides.get(a, default) for a in market.assets], dtype=np.float64)
