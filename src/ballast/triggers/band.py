"""Drift bands: rebalance when a weight strays too far from its target."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ballast.enums import LEAF_BAND
from ballast.market import Market
from ballast.state import TriggerState
from ballast.triggers.base import Leaf, LeafSpec

BAND_KINDS = ("absolute", "relative", "hybrid")


class Band(Leaf):
    """Fires when any |wᵢ − targetᵢ| is strictly greater than asset i's band half-width.

    - ``absolute``: half-width = ``width``;
    - ``relative``: half-width = ``width``·targetᵢ (bt's ``RunIfOutOfBounds``; Shrimpy's threshold);
    - ``hybrid``: half-width = max(``width``·targetᵢ, ``floor``) — relative for big positions, an
      absolute floor for small ones.

    ``per_asset`` overrides ``width`` for the named assets.
    """

    def __init__(
        self,
        width: float,
        kind: str = "absolute",
        per_asset: Mapping[str, float] | None = None,
        floor: float | None = None,
    ) -> None:
        if kind not in BAND_KINDS:
            raise ValueError(f"Band: kind must be one of {', '.join(BAND_KINDS)}, got {kind!r}")
        for name, w in [("width", width), *((f"per_asset[{k}]", v) for k, v in (per_asset or {}).items())]:
            if not (np.isfinite(w) and w >= 0):
                raise ValueError(f"Band: {name} must be a non-negative number, got {w!r}")
        if kind == "hybrid" and floor is None:
            floor = 0.01
        if floor is not None and not (np.isfinite(floor) and floor >= 0):
            raise ValueError(f"Band: floor must be a non-negative number, got {floor!r}")
        self.width = float(width)
        self.kind = kind
        self.per_asset = {str(k): float(v) for k, v in (per_asset or {}).items()}
        self.floor = float(floor) if floor is not None else 0.0

    def widths(self, assets: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(absolute floor, relative factor) per asset: half-width = max(abs, rel·target)."""
        unknown = [a for a in self.per_asset if a not in assets]
        if unknown:
            raise KeyError(f"Band: per_asset names unknown asset(s) {', '.join(map(repr, unknown))}")
        if self.per_asset:
            w = np.array([self.per_asset.get(a, self.width) for a in assets], dtype=np.float64)
        else:
            w = np.full(len(assets), self.width)
        zero = np.zeros(len(assets))
        if self.kind == "absolute":
            return w, zero
        if self.kind == "relative":
            return zero, w
        return np.full_like(w, self.floor), w

    def half_widths(self, assets: tuple[str, ...], target: np.ndarray) -> np.ndarray:
        a, r = self.widths(assets)
        return np.maximum(a, r * target)

    def check(self, state: TriggerState) -> bool:
        hw = self.half_widths(state.market.assets, state.target)
        return bool(np.any(np.abs(state.weights - state.target) > hw))

    def reason(self, state: TriggerState) -> str:
        hw = self.half_widths(state.market.assets, state.target)
        dev = np.abs(state.weights - state.target) - hw
        i = int(np.argmax(dev))
        return f"band: {state.market.assets[i]} at {state.weights[i]:.2%} vs target {state.target[i]:.2%} ± {hw[i]:.2%}"

    def encode(self, market: Market) -> LeafSpec:
        a, r = self.widths(market.assets)
        return LeafSpec(LEAF_BAND, width_abs=a, width_rel=r)

    def describe(self) -> str:
        extra = f", floor {self.floor:g}" if self.kind == "hybrid" else ""
        return f"{self.kind} band {self.width:g}{extra}"
