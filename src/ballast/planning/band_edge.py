"""Trade only what drifted out of its band, and only back to the band's edge."""

from __future__ import annotations

import numpy as np

from ballast.enums import PLAN_BAND_EDGE
from ballast.planning.band_kernel import project_band
from ballast.planning.base import NO_PARAMS, Planner, PlanSpec
from ballast.state import TriggerState
from ballast.triggers.band import Band


class BandEdge(Planner):
    """Move only the assets outside their band, to the nearest point that is inside every band
    and still sums to one (a Euclidean projection, not a clip; see ``project_band``).

    ``band`` defaults to the strategy's band trigger and ``cash`` to its cash asset, which absorbs
    what the drifted assets cannot (the strategy binds both).
    """

    def __init__(self, band: Band | None = None, cash: str | None = None) -> None:
        self.band = band
        self.cash = cash

    def bind(self, band: Band | None, cash: str | None = None) -> "BandEdge":
        band = self.band or band
        if band is None:
            raise ValueError("plan 'band-edge' needs a band: give the strategy a band trigger or BandEdge(band=...)")
        return BandEdge(band, self.cash or cash)

    def plan(self, state: TriggerState) -> np.ndarray:
        spec = self.encode(state.market.assets)
        out = np.empty_like(state.weights)
        keep = np.zeros(len(out), np.bool_)
        project_band(
            np.asarray(state.weights, np.float64),
            np.asarray(state.target, np.float64),
            spec.width_abs,
            spec.width_rel,
            1.0,
            out,
            keep,
            state.market.asset_index(self.cash) if self.cash else -1,
        )
        return out

    def encode(self, assets: tuple[str, ...]) -> PlanSpec:
        if self.band is None:
            raise ValueError("BandEdge has no band; bind it to the strategy's band first")
        a, r = self.band.widths(assets)
        return PlanSpec(PLAN_BAND_EDGE, a, r, NO_PARAMS)

    def describe(self) -> str:
        return f"band-edge ({self.band.describe()})" if self.band else "band-edge"
