"""Maker's peg stability module (dss-psm `psm.sol`): swap a stable for the peg asset at 1 ± a fee.

``sellGem`` takes the stable (the *gem*) and pays 1 − ``tin`` per unit; ``buyGem`` gives the gem
for 1 + ``tout``; the module never holds more than ``ceiling`` units of the gem (the debt
ceiling, Maker's ``line``), so a sale beyond what is left is refused. `PSM.swap` is that
arithmetic exactly; in a backtest (`contribute`) the kernel's costs are symmetric per asset, so
each trade of a gem pays (tin + tout)/2 of its value: a round trip pays exactly tin + tout, a
single leg the mean of the two fees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ballast.costs.base import CostArrays, CostModel
from ballast.market import Market


class Swap(NamedTuple):
    """One PSM swap: what was paid in, what came out, and the gem the module holds afterwards."""

    paid: float
    received: float
    inventory: float


class PSM(CostModel):
    """A peg stability module for ``assets`` (the gems), fees ``tin``/``tout`` as fractions."""

    def __init__(
        self, tin: float = 0.0, tout: float = 0.0, ceiling: float = float("inf"), assets: Sequence[str] | None = None
    ) -> None:
        for name, v in (("tin", tin), ("tout", tout)):
            if not (isinstance(v, (int, float)) and 0.0 <= v < 1.0):
                raise ValueError(f"PSM: {name} must be a fee fraction in [0, 1) (0.001 = 10 bps), got {v!r}")
        if not (isinstance(ceiling, (int, float)) and ceiling > 0):
            raise ValueError(f"PSM: ceiling must be a positive amount of the gem, got {ceiling!r}")
        self.tin, self.tout, self.ceiling = float(tin), float(tout), float(ceiling)
        self.assets = None if assets is None else tuple(str(a) for a in assets)

    def sell_gem(self, amount: float, inventory: float = 0.0) -> Swap:
        """Sell ``amount`` gems to the module: receive amount·(1 − tin) of the peg asset."""
        if amount < 0:
            raise ValueError(f"PSM: amount must be >= 0, got {amount!r}")
        if inventory + amount > self.ceiling * (1 + 1e-12):
            raise ValueError(
                f"PSM: selling {amount:,.2f} would take the module to {inventory + amount:,.2f}, "
                f"above its ceiling of {self.ceiling:,.2f} (room {self.ceiling - inventory:,.2f})"
            )
        return Swap(amount, amount * (1.0 - self.tin), inventory + amount)

    def buy_gem(self, amount: float, inventory: float) -> Swap:
        """Buy ``amount`` gems from the module: pay amount·(1 + tout); it cannot give what it lacks."""
        if amount < 0:
            raise ValueError(f"PSM: amount must be >= 0, got {amount!r}")
        if amount > inventory * (1 + 1e-12):
            raise ValueError(f"PSM: buying {amount:,.2f} but the module holds only {inventory:,.2f}")
        return Swap(amount * (1.0 + self.tout), amount, inventory - amount)

    def room(self, inventory: float) -> float:
        """How many gems the module can still take."""
        return max(self.ceiling - inventory, 0.0)

    def contribute(self, arrays: CostArrays, market: Market) -> CostArrays:
        names = self.assets if self.assets is not None else market.assets
        unknown = [a for a in names if a not in market.assets]
        if unknown:
            raise KeyError(
                f"PSM: unknown asset(s) {', '.join(map(repr, unknown))}; the prices have: {', '.join(market.assets)}"
            )
        prop = arrays.prop.copy()
        idx = np.array([market.asset_index(a) for a in names], np.int64)
        prop[idx] += 0.5 * (self.tin + self.tout)
        return arrays._replace(prop=prop)

    def describe(self) -> str:
        cap = "" if np.isinf(self.ceiling) else f", ceiling {self.ceiling:,.0f}"
        return f"PSM(tin {self.tin:.2%}, tout {self.tout:.2%}{cap})"
