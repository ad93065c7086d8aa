"""Constraints that wrap any target.

Weight constraints change the target path itself:
- `Bounds(inner, min_weight=, max_weight=)` — per-asset limits; each row is the Euclidean
  projection of the inner weights onto {min ≤ w ≤ max, Σw = 1} (over the inner's assets);
- `Reserve(inner, asset, min_weight)` — the asset holds at least ``min_weight``; the others
  are scaled down pro rata.

State constraints need the portfolio at the decision, so the engine applies them
(planning/constraints_kernel.py) from fields this module puts on the `PlanSpec`:
- `Runway(inner, asset, monthly_spend, months)` — the asset holds at least
  ``monthly_spend × months`` in *value* after every rebalance (a weight floor F/V that rises as
  the portfolio shrinks); it has priority over every other constraint;
- `TurnoverLimit(inner, max_turnover)` — at most ``max_turnover`` one-way turnover
  (½Σ|Δw|) per rebalance; a rebalance that wants more moves part of the way.

Wrappers nest: ``Runway(Bounds(RiskParity(60), max_weight=0.4), "USDT", 50_000, 12)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ballast.market import Market
from ballast.targets.base import Target
from ballast.targets.risk import CachedPath

Limit = float | Mapping[str, float]


def _number(owner: str, name: str, value: object, lo: float, hi: float, open_lo: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    v = float(value) if ok else float("nan")  # type: ignore[arg-type]
    if not (np.isfinite(v) and (v > lo if open_lo else v >= lo) and v <= hi):
        bound = f"> {lo:g}" if open_lo else f">= {lo:g}"
        raise ValueError(f"{owner}: {name} must be a number {bound} and <= {hi:g}, got {value!r}")
    return v


class Constraint(CachedPath):
    """A target wrapped by a constraint; the unconstrained weights come from ``inner``."""

    label = "constraint"

    def __init__(self, inner: Target) -> None:
        if not isinstance(inner, Target):
            raise ValueError(f"{type(self).__name__}: inner must be a Target, got {type(inner).__name__}")
        self.inner = inner

    def compute(self, market: Market) -> np.ndarray:
        return np.asarray(self.inner.path(market), dtype=np.float64)

    def assets(self) -> tuple[str, ...] | None:
        return self.inner.assets()

    def settings(self) -> dict[str, object]:
        return {}

    def params(self) -> dict[str, object]:
        inner = self.inner.params()
        return {**inner, **self.settings()}

    def kernel_fields(self, market: Market) -> dict[str, Any]:
        """PlanSpec fields this constraint sets (none for weight constraints)."""
        return {}


def _limit(lim: Limit) -> float | dict[str, float]:
    return {str(k): float(v) for k, v in lim.items()} if isinstance(lim, Mapping) else float(lim)


def _with_asset(named: tuple[str, ...] | None, asset: str) -> tuple[str, ...] | None:
    return None if named is None else (named if asset in named else (*named, asset))


class Bounds(Constraint):
    """Per-asset minimum and maximum weights: a number for every asset or a mapping by asset."""

    def __init__(self, inner: Target, min_weight: Limit = 0.0, max_weight: Limit = 1.0) -> None:
        super().__init__(inner)
        for name, lim in (("min_weight", min_weight), ("max_weight", max_weight)):
            items = lim.items() if isinstance(lim, Mapping) else [(None, lim)]
            for k, v in items:
                _number("Bounds", name if k is None else f"{name}[{k}]", v, 0.0, 1.0)
        self.min_weight = _limit(min_weight)
        self.max_weight = _limit(max_weight)

    def limits(self, market: Market) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lo, hi, members): the inner's assets are the members the projection may move."""
        named = self.inner.assets()
        members = np.array([named is None or a in named for a in market.assets], np.bool_)

        def vec(lim: Limit, default: float) -> np.ndarray:
            if not isinstance(lim, Mapping):
                return np.where(members, lim, 0.0)
            unknown = [a for a in lim if a not in market.assets]
            if unknown:
                raise KeyError(
                    f"Bounds: unknown asset(s) {', '.join(map(repr, unknown))}; "
                    f"the prices have: {', '.join(market.assets)}"
                )
            return np.array([lim.get(a, default) if m else 0.0 for a, m in zip(market.assets, members, strict=True)])

        lo, hi = vec(self.min_weight, 0.0), vec(self.max_weight, 1.0)
        bad = np.flatnonzero(lo > hi)
        if len(bad):
            a = market.assets[bad[0]]
            raise ValueError(f"Bounds: min_weight of {a!r} ({lo[bad[0]]:g}) is above its max_weight ({hi[bad[0]]:g})")
        if lo.sum() > 1.0 + 1e-12 or hi.sum() < 1.0 - 1e-12:
            raise ValueError(
                f"Bounds: infeasible over {int(members.sum())} assets: the minimums sum to {lo.sum():g} "
                f"and the maximums to {hi.sum():g}, but weights sum to 1"
            )
        return lo, hi, members

    def compute(self, market: Market) -> np.ndarray:
        from ballast.numerics.projection import project_to_budget

        W = super().compute(market).copy()
        lo, hi, members = self.limits(market)
        out = np.zeros(market.n_assets)
        for t in range(market.n_periods):
            if not project_to_budget(W[t], lo, hi, members, 1.0 - W[t, ~members].sum(), out):
                raise ValueError(
                    f"Bounds: no weights within the bounds at {market.index[t]}: the target puts "
                    f"{W[t, ~members].sum():.2%} outside its own assets"
                )
            W[t, members] = out[members]
        return W

    def settings(self) -> dict[str, object]:
        d: dict[str, object] = {}
        if self.min_weight != 0.0:
            d["min_weight"] = self.min_weight
        if self.max_weight != 1.0:
            d["max_weight"] = self.max_weight
        return d


class Reserve(Constraint):
    """``asset`` holds at least ``min_weight`` of the portfolio; the rest is scaled pro rata."""

    def __init__(self, inner: Target, asset: str, min_weight: float) -> None:
        super().__init__(inner)
        self.asset = str(asset)
        self.min_weight = _number("Reserve", "min_weight", min_weight, 0.0, 1.0)

    def compute(self, market: Market) -> np.ndarray:
        from ballast.planning.constraints_kernel import raise_floor

        a = market.asset_index(self.asset)
        W = super().compute(market).copy()
        for t in range(market.n_periods):
            raise_floor(W[t], a, self.min_weight)
        return W

    def assets(self) -> tuple[str, ...] | None:
        return _with_asset(self.inner.assets(), self.asset)

    def settings(self) -> dict[str, object]:
        return {"min_reserve": {"asset": self.asset, "min_weight": self.min_weight}}


class Runway(Constraint):
    """``asset`` (a stable reserve) never holds less than ``months`` × ``monthly_spend`` in value
    after a rebalance; if the whole portfolio is worth less, all of it goes there. With ``peg``
    (a pegged stable: set from ``[pegs]``) the stable counts at min(price, peg): above its peg it
    must hold floor × price/peg at market value, never trusting a premium to pay the bills."""

    def __init__(
        self, inner: Target, asset: str, monthly_spend: float, months: float, peg: float | None = None
    ) -> None:
        super().__init__(inner)
        self.asset = str(asset)
        self.monthly_spend = _number("Runway", "monthly_spend", monthly_spend, 0.0, np.inf, open_lo=True)
        self.months = _number("Runway", "months", months, 0.0, np.inf, open_lo=True)
        self.peg = None if peg is None else _number("Runway", "peg", peg, 0.0, np.inf, open_lo=True)

    @property
    def floor(self) -> float:
        return self.monthly_spend * self.months

    def assets(self) -> tuple[str, ...] | None:
        return _with_asset(self.inner.assets(), self.asset)

    def kernel_fields(self, market: Market) -> dict[str, Any]:
        a = market.asset_index(self.asset)
        if self.peg is None:
            return {"floor_value": np.full(market.n_periods, self.floor), "floor_asset": a}
        return {"floor_value": self.floor * np.maximum(1.0, market.prices[:, a] / self.peg), "floor_asset": a}

    def settings(self) -> dict[str, object]:
        return {"runway": {"asset": self.asset, "monthly_spend": self.monthly_spend, "months": self.months}}


class TurnoverLimit(Constraint):
    """At most ``max_turnover`` one-way turnover (½Σ|Δw|) per rebalance after formation."""

    def __init__(self, inner: Target, max_turnover: float) -> None:
        super().__init__(inner)
        self.max_turnover = _number("TurnoverLimit", "max_turnover", max_turnover, 0.0, 1.0, open_lo=True)

    def kernel_fields(self, market: Market) -> dict[str, Any]:
        return {"max_turnover": self.max_turnover}

    def settings(self) -> dict[str, object]:
        return {"max_turnover": self.max_turnover}


def kernel_constraints(target: Target, market: Market) -> dict[str, Any]:
    """The PlanSpec fields set by the constraints anywhere in ``target``'s wrapper chain."""
    fields: dict[str, Any] = {}
    node: object = target
    while node is not None:
        if isinstance(node, Constraint):
            for k, v in node.kernel_fields(market).items():
                if k in fields:
                    what = "value floor (Runway)" if k.startswith("floor") else k
                    raise ValueError(f"a target may carry only one {what}")
                fields[k] = v
        node = getattr(node, "inner", None)
    return fields


def with_constraints(plan: Any, target: Target, market: Market) -> Any:
    """``plan`` (a PlanSpec, or None for a Python-only planner) with the target's constraints."""
    if plan is None:
        return None
    fields = kernel_constraints(target, market)
    return plan._replace(**fields) if fields else plan


def decision_targets(
    target: Target, market: Market, targets: np.ndarray, equity: np.ndarray, weights: np.ndarray, capital: float
) -> np.ndarray:
    """The targets the triggers and planner saw: with a value floor, the path's rows raised to
    F/V at each close's pre-trade value V (rebuilt from the recorded post-trade weights)."""
    from ballast.planning.base import NO_FLOOR, PlanSpec
    from ballast.planning.constraints_kernel import floor_target

    fields = kernel_constraints(target, market)
    if fields.get("floor_asset", -1) < 0:
        return targets
    z = np.zeros(market.n_assets)
    spec = PlanSpec(0, z, z, z, fields.get("floor_value", NO_FLOOR), fields["floor_asset"])
    p = market.prices
    v_pre = np.empty(market.n_periods)
    v_pre[0] = capital
    held = weights[:-1] * equity[:-1, None]
    # Whatever the weights do not cover is cash (the bt convention keeps fees' change there).
    v_pre[1:] = (held / p[:-1] * p[1:]).sum(axis=1) + equity[:-1] - held.sum(axis=1)
    out = np.empty_like(targets)
    for t in range(market.n_periods):
        floor_target(spec, t, float(v_pre[t]), targets[t], out[t])
    return out
