"""Reactions to a broken peg that depend on what is held, so they wrap a planner:

- `Freeze(planner, rule)` — while a stable is depegged or recovering, never buy more of it; what
  is held is kept unless the planner sells it;
- `Hold(planner, rule, floor=)` — never sell a stable while its price is below ``floor`` (default
  the peg × (1 − act)): wait for the recovery instead of realising the loss.

The locked weight's difference is taken from (or given to) the unlocked assets pro rata to their
planned weights. Both run on the pure-Python engine (they need the pre-trade weights at each
decision), which the backtest picks by itself; the plain compiled walk is untouched.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from ballast.pegs import WARN, DepegRule, Peg, Pegs
from ballast.planning.base import Planner, PlanOutcome, plan_step
from ballast.state import TriggerState

if TYPE_CHECKING:
    from ballast.costs.base import CostArrays


def lock_weights(w_new: np.ndarray, w_pre: np.ndarray, no_buy: np.ndarray, no_sell: np.ndarray) -> np.ndarray:
    """``w_new`` with w ≤ w_pre where ``no_buy`` and w ≥ w_pre where ``no_sell``; the difference is
    spread over the free assets pro rata to their planned weights (equally if they plan none)."""
    w = np.asarray(w_new, dtype=np.float64).copy()
    locked = (no_buy & (w > w_pre)) | (no_sell & (w < w_pre))
    if not locked.any():
        return w
    freed = float((w[locked] - w_pre[locked]).sum())  # > 0: weight the locked assets give back
    w[locked] = w_pre[locked]
    free = ~(no_buy | no_sell)
    if not free.any():
        return w / w.sum()
    base = w[free] if w[free].sum() > 0 else np.ones(int(free.sum()))
    if freed < 0:  # the locked assets keep more: the free ones give it, at most what they hold
        take = min(-freed, float(w[free].sum()))
        w[free] -= take * base / base.sum()
        w[free] = np.maximum(w[free], 0.0)
    else:
        w[free] += freed * base / base.sum()
    return w / w.sum()


class _PegReaction(Planner):
    def __init__(self, inner: Planner, rule: DepegRule | Mapping[str, Peg] | Pegs) -> None:
        if not hasattr(inner, "plan"):
            raise ValueError(f"{type(self).__name__}: inner must be a planner, got {type(inner).__name__}")
        self.inner = inner
        self.rule = rule if isinstance(rule, DepegRule) else DepegRule(rule)

    @abstractmethod
    def locks(self, state: TriggerState) -> tuple[np.ndarray, np.ndarray]:
        """(no_buy, no_sell) per asset of the market at ``state.t``."""

    def plan(self, state: TriggerState) -> np.ndarray:
        no_buy, no_sell = self.locks(state)
        return lock_weights(np.asarray(self.inner.plan(state), dtype=np.float64), state.weights, no_buy, no_sell)

    def plan_costed(self, state: TriggerState, value: float, costs: "CostArrays") -> PlanOutcome:
        out = plan_step(self.inner, state, value, costs)
        no_buy, no_sell = self.locks(state)
        return out._replace(weights=lock_weights(out.weights, state.weights, no_buy, no_sell))

    def _per_asset(self, state: TriggerState, per_stable: np.ndarray) -> np.ndarray:
        out = np.zeros(state.market.n_assets, np.bool_)
        out[self.rule.pegs.columns(state.market)] = per_stable
        return out

    def describe(self) -> str:
        return f"{self.inner.describe()} with {type(self).__name__.lower()} on {self.rule.describe()}"


class Freeze(_PegReaction):
    """Never buy more of a stable while it is depegged or recovering."""

    def locks(self, state: TriggerState) -> tuple[np.ndarray, np.ndarray]:
        s = self.rule.path(state.market).state[state.t]
        return self._per_asset(state, s > WARN), np.zeros(state.market.n_assets, np.bool_)


class Hold(_PegReaction):
    """Never sell a stable below ``floor`` × its peg (default 1 − act)."""

    def __init__(self, inner: Planner, rule: DepegRule | Mapping[str, Peg] | Pegs, floor: float | None = None) -> None:
        super().__init__(inner, rule)
        floor = 1.0 - self.rule.act if floor is None else floor
        if not (isinstance(floor, (int, float)) and 0 < floor <= 1):
            raise ValueError(f"Hold: floor must be a fraction of the peg in (0, 1], got {floor!r}")
        self.floor = float(floor)

    def locks(self, state: TriggerState) -> tuple[np.ndarray, np.ndarray]:
        dev = self.rule.pegs.deviations(state.market.head(state.t)).absolute[-1]
        return np.zeros(state.market.n_assets, np.bool_), self._per_asset(state, 1.0 + dev < self.floor)
