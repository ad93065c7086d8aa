"""`Depeg`: rebalance when a stable breaks its peg (and again when it has recovered).

The depeg states depend on prices only (ballast.pegs.depeg_states), so the leaf compiles to a
mask of the closes where it fires: the kernel evaluates it exactly like a calendar leaf and
carries no depeg code at all, and a strategy without pegs never imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ballast.enums import LEAF_MASK
from ballast.market import Market
from ballast.pegs import NORMAL, STATE_NAMES, DepegRule, Peg, Pegs
from ballast.triggers.base import Leaf, LeafSpec, TriggerState


class Depeg(Leaf):
    """Fires when a pegged asset becomes depegged (``act`` for ``confirm`` closes) and when it is
    back to normal (``recover`` closes inside ``warn``); see `ballast.pegs.depeg_states`."""

    def __init__(
        self,
        pegs: DepegRule | Pegs | Mapping[str, Peg],
        act: float = 0.02,
        warn: float | None = None,
        two_sided: bool = False,
        confirm: int = 1,
        recover: int = 1,
    ) -> None:
        self.rule = (
            pegs
            if isinstance(pegs, DepegRule)
            else DepegRule(pegs, act=act, warn=warn, two_sided=two_sided, confirm=confirm, recover=recover)
        )

    def check(self, state: TriggerState) -> bool:
        return bool(self.rule.path(state.market).fired[state.t].any())

    def events(self, market: Market, t: int) -> list[tuple[str, float, str]]:
        """(asset, deviation, state) of each stable that fired at close ``t``."""
        p = self.rule.path(market)
        assets = self.rule.pegs.assets
        return [(assets[j], float(p.deviation[t, j]), STATE_NAMES[p.state[t, j]]) for j in np.flatnonzero(p.fired[t])]

    def reason(self, state: TriggerState) -> str:
        parts = [
            f"{asset} {'recovered' if s == STATE_NAMES[NORMAL] else s} at {dev:+.2%} from its peg"
            for asset, dev, s in self.events(state.market, state.t)
        ]
        return "depeg: " + ", ".join(parts) if parts else self.describe()

    def encode(self, market: Market) -> LeafSpec:
        return LeafSpec(LEAF_MASK, mask=np.asarray(self.rule.path(market).fired.any(axis=1)))

    def describe(self) -> str:
        return self.rule.describe()
