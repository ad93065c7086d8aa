"""Target wrappers for a reserve of stables: caps per issuer and the exit from a broken peg.

- `StableBasket(inner, stables, max_weight=, min_issuers=)` — no stable above ``max_weight`` of
  the reserve (the stables' total weight), and at least ``min_issuers`` of them able to hold it
  (an effective cap of min(max_weight, 1/min_issuers)); the excess goes to the other stables pro
  rata to their room under the cap.
- `Exit(inner, rule, into=, loss_budget=, max_weight=)` — from the close a stable is depegged
  (ballast.pegs.DepegRule) until it is normal again, its weight moves into the healthy stables,
  pro rata to their weights or all to ``into``; only if the discount to the peg at the break is
  within ``loss_budget`` (beyond it, selling would lock in more loss than the treasury accepts:
  the stable is held), and without pushing a receiver above ``max_weight`` of the reserve (what
  cannot move stays).

The reactions that need the holdings (`Freeze`, `Hold`) are planners: planning/pegged.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ballast.market import Market
from ballast.pegs import DEPEGGED, NORMAL, DepegRule, Peg, Pegs
from ballast.targets.base import WEIGHT_TOL, Target
from ballast.targets.constraints import Constraint, _number


def _stables(who: str, stables: Sequence[str], market: Market) -> np.ndarray:
    missing = [s for s in stables if s not in market.assets]
    if missing:
        raise KeyError(
            f"{who}: unknown stable(s) {', '.join(map(repr, missing))}; the prices have: {', '.join(market.assets)}"
        )
    return np.array([market.asset_index(s) for s in stables], np.int64)


def cap_reserve(w: np.ndarray, idx: np.ndarray, cap: float) -> None:
    """Cap each of w[idx] at ``cap`` × Σw[idx] in place, moving the excess to the others pro rata
    to their room (water filling); the reserve's total is unchanged."""
    total = w[idx].sum()
    if total <= 0.0:
        return
    limit = cap * total
    for _ in range(len(idx) + 1):
        sub = w[idx]
        excess = np.maximum(sub - limit, 0.0).sum()
        if excess <= WEIGHT_TOL * total:
            break
        sub = np.minimum(sub, limit)
        room = limit - sub
        if room.sum() <= 0.0:
            raise ValueError(f"StableBasket: {len(idx)} stables cannot hold the reserve at a cap of {cap:.0%}")
        w[idx] = sub + room * min(1.0, excess / room.sum())


class StableBasket(Constraint):
    """Caps per issuer and a minimum number of issuers for the stables of a reserve."""

    def __init__(self, inner: Target, stables: Sequence[str], max_weight: float = 1.0, min_issuers: int = 1) -> None:
        super().__init__(inner)
        self.stables = tuple(str(s) for s in stables)
        if len(self.stables) < 1 or len(set(self.stables)) != len(self.stables):
            raise ValueError(f"StableBasket: stables must be a non-empty list without repeats, got {list(stables)}")
        self.max_weight = _number("StableBasket", "max_weight", max_weight, 0.0, 1.0, open_lo=True)
        if isinstance(min_issuers, bool) or not isinstance(min_issuers, (int, np.integer)) or min_issuers < 1:
            raise ValueError(f"StableBasket: min_issuers must be a whole number >= 1, got {min_issuers!r}")
        if min_issuers > len(self.stables):
            raise ValueError(f"StableBasket: min_issuers = {min_issuers} but only {len(self.stables)} stables")
        self.min_issuers = int(min_issuers)
        if self.cap * len(self.stables) < 1.0 - 1e-12:
            raise ValueError(
                f"StableBasket: {len(self.stables)} stables at most {self.cap:.0%} each cannot hold the whole reserve"
            )

    @property
    def cap(self) -> float:
        return min(self.max_weight, 1.0 / self.min_issuers)

    def compute(self, market: Market) -> np.ndarray:
        W = super().compute(market).copy()
        idx = _stables("StableBasket", self.stables, market)
        for t in range(market.n_periods):
            row = W[t]
            if row[idx].sum() > 0 and np.count_nonzero(row[idx]) < self.min_issuers:
                row[idx] = row[idx].sum() / len(idx)  # too few issuers named: spread evenly first
            cap_reserve(row, idx, self.cap)
        return W

    def assets(self) -> tuple[str, ...] | None:
        named = self.inner.assets()
        return None if named is None else (*named, *(s for s in self.stables if s not in named))

    def settings(self) -> dict[str, object]:
        return {
            "stable_basket": {
                "stables": list(self.stables),
                "max_weight": self.max_weight,
                "min_issuers": self.min_issuers,
            }
        }


def exit_episodes(rule: DepegRule, market: Market, loss_budget: float | None) -> np.ndarray:
    """T×S bool: the stable is out of the reserve at close t (depegged within the loss budget at
    the break, until it is normal again).

    The budget is judged on what a sale at the break locks in: the price's discount to the peg
    (1 − p/peg), not the deviation from the other stables the break is detected on — with USDC at
    0.94 and DAI at 0.945, USDC is 3.3 % off the others but sells 6 % below its peg."""
    path = rule.path(market)
    T, S = path.state.shape[0], path.state.shape[-1]
    out: np.ndarray = np.zeros((T, S), np.bool_)
    loss = np.maximum(-rule.pegs.deviations(market).absolute, 0.0) if loss_budget is not None else None
    for j in range(S):
        away = False
        for t in range(T):
            s = path.state[t, j]
            if s == NORMAL:
                away = False
            elif s == DEPEGGED and path.fired[t, j]:
                away = loss is None or loss[t, j] <= loss_budget
            out[t, j] = away
    return out


class Exit(Constraint):
    """Move a depegged stable's weight into the other stables (module docstring)."""

    def __init__(
        self,
        inner: Target,
        rule: DepegRule | Mapping[str, Peg] | Pegs,
        into: str | None = None,
        loss_budget: float | None = None,
        max_weight: float = 1.0,
    ) -> None:
        super().__init__(inner)
        self.rule = rule if isinstance(rule, DepegRule) else DepegRule(rule)
        self.into = None if into is None else str(into)
        if self.into is not None and self.into not in self.rule.pegs.assets:
            raise ValueError(
                f"Exit: into = {self.into!r} is not one of the pegged assets ({', '.join(self.rule.pegs.assets)})"
            )
        self.loss_budget = None if loss_budget is None else _number("Exit", "loss_budget", loss_budget, 0.0, 1.0)
        self.max_weight = _number("Exit", "max_weight", max_weight, 0.0, 1.0, open_lo=True)

    def compute(self, market: Market) -> np.ndarray:
        W = super().compute(market).copy()
        idx = self.rule.pegs.columns(market)
        away = exit_episodes(self.rule, market, self.loss_budget)
        for t in np.flatnonzero(away.any(axis=1)):
            move_out(W[t], idx, away[t], None if self.into is None else market.asset_index(self.into), self.max_weight)
        return W

    def assets(self) -> tuple[str, ...] | None:
        named = self.inner.assets()
        return None if named is None else (*named, *(s for s in self.rule.pegs.assets if s not in named))

    def settings(self) -> dict[str, object]:
        return {
            "exit": {
                "rule": self.rule.describe(),
                "into": self.into or "pro rata",
                "loss_budget": self.loss_budget,
                "max_weight": self.max_weight,
            }
        }


def move_out(w: np.ndarray, idx: np.ndarray, away: np.ndarray, into: int | None, cap: float) -> None:
    """Move the weight of the stables ``idx[away]`` into the healthy ones in place: all to ``into``
    if it is healthy, else pro rata to the healthy weights (equally if they hold none), never above
    ``cap`` × the reserve; what cannot move stays where it was."""
    total = w[idx].sum()
    healthy = idx[~away]
    if total <= 0.0 or len(healthy) == 0:
        return
    if into is not None and into in healthy:
        share = (healthy == into).astype(np.float64)
    else:
        share = w[healthy] if w[healthy].sum() > 0 else np.ones(len(healthy))
    room = np.maximum(cap * total - w[healthy], 0.0)
    for a in idx[away]:
        amount = w[a]
        for _ in range(len(healthy) + 1):
            if amount <= 0.0:
                break
            alive = share * (room > 0)
            if alive.sum() <= 0.0:
                break
            give = np.minimum(amount * alive / alive.sum(), room)
            w[healthy] += give
            room -= give
            amount -= give.sum()
        w[a] = max(amount, 0.0)
