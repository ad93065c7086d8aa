"""Fixed weights: the classic constant-mix target."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ballast.market import Market
from ballast.targets.base import Target


class Fixed(Target):
    """Hold ``weights`` (asset → weight, summing to one) or ``"equal"`` weights across all assets.

    Assets of the market missing from the mapping get weight zero.
    """

    def __init__(self, weights: Mapping[str, float] | str = "equal") -> None:
        if isinstance(weights, str):
            if weights != "equal":
                raise ValueError(f"Fixed: weights must be a mapping or 'equal', got {weights!r}")
            self.weights: Mapping[str, float] | str = "equal"
            return
        clean = {str(k): float(v) for k, v in weights.items()}
        if not clean:
            raise ValueError("Fixed: no weights given")
        for k, v in clean.items():
            if not np.isfinite(v):
                raise ValueError(f"Fixed: weight of {k!r} is not a finite number")
        total = sum(clean.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"Fixed: weights sum to {total:.6f}, expected 1 ({', '.join(f'{k}={v:g}' for k, v in clean.items())})"
            )
        self.weights = clean

    def vector(self, assets: tuple[str, ...]) -> np.ndarray:
        if self.weights == "equal":
            return np.full(len(assets), 1.0 / len(assets))
        assert isinstance(self.weights, Mapping)
        unknown = [a for a in self.weights if a not in assets]
        if unknown:
            raise KeyError(
                f"target names unknown asset(s) {', '.join(map(repr, unknown))}; the prices have: {', '.join(assets)}"
            )
        return np.array([self.weights.get(a, 0.0) for a in assets], dtype=np.float64)

    def path(self, market: Market) -> np.ndarray:
        return np.broadcast_to(self.vector(market.assets), market.prices.shape).copy()

    def assets(self) -> tuple[str, ...] | None:
        return None if isinstance(self.weights, str) else tuple(self.weights)

    def at(self, market: Market, t: int) -> np.ndarray:
        return self.vector(market.assets)

    def params(self) -> dict[str, object]:
        return {"kind": "fixed", "weights": self.weights}
