"""Stress shocks: shapes that replace part of a price history, and pool-depth and gas shocks.

A `Scenario` is a list of shocks applied to a history at the dates they name. Each price shape
rewrites one asset's closes from its start for as long as the shape lasts; every other cell is
left untouched (bit-identical), which the tests check.

- `DepegShape(asset, start, to, days, hold, recover)` — from the close before ``start`` the
  price glides linearly to ``to`` over ``days`` closes, stays ``hold`` closes, then closes the
  gap to the original series linearly over ``recover`` closes (``recover=None``: never; the
  asset stays at ``to``);
- `Crash(asset, start, drop, recover)` — the return of the close at ``start`` becomes −drop;
  later closes keep their own moves from the lower level, and the gap closes over ``recover``
  closes (None: never);
- `Bleed(asset, start, total, days, recover)` — a slow bleed: −total spread geometrically over
  ``days`` closes, the lower level kept (or recovered over ``recover`` closes);
- `Liquidity(assets, start, days, factor)` — pool depth × ``factor`` over the window (a
  StableSwap or constant-product pool in the costs prices trades worse);
- `GasSpike(start, days, cost)` — ``cost`` more currency per trade over the window.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Located:
    """Where a shock sits in a history: the row of its start (errors name ``where``)."""

    start: str

    def row(self, index: pd.Index, where: str) -> int:
        try:
            when = pd.Timestamp(self.start)
        except (ValueError, TypeError):
            raise ValueError(f"{where}.start: not a date: {self.start!r}") from None
        if not isinstance(index, pd.DatetimeIndex) or len(index) == 0:
            raise ValueError(f"{where}.start: a scenario needs dated prices")
        if not index[0] < when <= index[-1]:
            raise ValueError(
                f"{where}.start: {when.date()} is outside the prices (after {index[0].date()} up to {index[-1].date()})"
            )
        return int(index.searchsorted(when))


def _gap_closing(n: int, recover: int | None) -> np.ndarray:
    """Weights of the shocked level over ``n`` closes after a shape: 1 → 0 in ``recover`` closes."""
    if recover is None:
        return np.ones(n)
    k = np.arange(1, n + 1, dtype=np.float64)
    return np.clip(1.0 - k / max(recover, 1), 0.0, 1.0) if recover > 0 else np.zeros(n)


def asset_column(asset: str, columns: pd.Index, where: str) -> int:
    """The column of ``asset`` in the prices; the error names the shock's field."""
    if asset not in columns:
        raise KeyError(f"{where}: {asset!r} is not in the prices; they have: {', '.join(map(str, columns))}")
    return int(columns.get_loc(asset))


@dataclass(frozen=True)
class PriceShape(Located, ABC):
    """A shock that rewrites one asset's prices from its start."""

    asset: str = ""

    def column(self, columns: pd.Index, where: str) -> int:
        return asset_column(self.asset, columns, f"{where}.asset")

    @abstractmethod
    def reshape(self, p: np.ndarray, s: int) -> None:
        """Rewrite the column ``p`` in place from row ``s``."""


def _check(where: str, name: str, value: float, lo: float, hi: float) -> None:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and lo < value <= hi):
        raise ValueError(f"{where}.{name}: expected a number in ({lo:g}, {hi:g}], got {value!r}")


def _count(where: str, name: str, value: int | None, allow_none: bool = True, lo: int = 0) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{where}.{name}: expected a whole number of closes >= {lo}, got {value!r}")


@dataclass(frozen=True)
class DepegShape(PriceShape):
    to: float = 1.0
    days: int = 1
    hold: int = 0
    recover: int | None = None

    def validate(self, where: str) -> None:
        _check(where, "to", self.to, 0.0, 1e12)
        _count(where, "days", self.days, False, 1)
        _count(where, "hold", self.hold, False)
        _count(where, "recover", self.recover)

    def reshape(self, p: np.ndarray, s: int) -> None:
        orig = p.copy()
        base = orig[s - 1]
        T = len(p)
        glide = base + (self.to - base) * np.arange(1, self.days + 1) / self.days
        end = min(s + self.days, T)
        p[s:end] = glide[: end - s]
        held = min(end + self.hold, T)
        p[end:held] = self.to
        w = _gap_closing(T - held, self.recover)
        p[held:] = self.to * w + orig[held:] * (1.0 - w)


@dataclass(frozen=True)
class Crash(PriceShape):
    drop: float = 0.1
    recover: int | None = None

    def validate(self, where: str) -> None:
        _check(where, "drop", self.drop, 0.0, 0.999999)
        _count(where, "recover", self.recover)

    def reshape(self, p: np.ndarray, s: int) -> None:
        m = p[s - 1] * (1.0 - self.drop) / p[s]
        w = np.r_[1.0, _gap_closing(len(p) - s - 1, self.recover)]
        p[s:] = p[s:] * (m * w + (1.0 - w))


@dataclass(frozen=True)
class Bleed(PriceShape):
    total: float = 0.1
    days: int = 30
    recover: int | None = None

    def validate(self, where: str) -> None:
        _check(where, "total", self.total, 0.0, 0.999999)
        _count(where, "days", self.days, False, 1)
        _count(where, "recover", self.recover)

    def reshape(self, p: np.ndarray, s: int) -> None:
        n = len(p) - s
        k = np.arange(1, n + 1, dtype=np.float64)
        level = (1.0 - self.total) ** np.minimum(k / self.days, 1.0)
        after = np.maximum(n - self.days, 0)
        w = np.r_[np.ones(n - after), _gap_closing(after, self.recover)]
        p[s:] = p[s:] * (level * w + (1.0 - w))


@dataclass(frozen=True)
class Liquidity(Located):
    assets: tuple[str, ...] = ()
    days: int = 1
    factor: float = 0.1

    def validate(self, where: str) -> None:
        _check(where, "factor", self.factor, 0.0, 1e6)
        _count(where, "days", self.days, False, 1)


@dataclass(frozen=True)
class GasSpike(Located):
    days: int = 1
    cost: float = 0.0

    def validate(self, where: str) -> None:
        _check(where, "cost", self.cost, 0.0, 1e12)
        _count(where, "days", self.days, False, 1)


Shock = DepegShape | Crash | Bleed | Liquidity | GasSpike


@dataclass(frozen=True)
class Shocked:
    """A history under a scenario: the prices, and per close the pool-depth factor and extra gas."""

    prices: pd.DataFrame
    depth_factor: np.ndarray  # T×N, 1 where untouched
    gas: np.ndarray  # T, currency per trade added
    changed: np.ndarray  # T×N bool: the price cells a shape rewrote


@dataclass(frozen=True)
class Scenario:
    """Named shocks with where their numbers come from."""

    name: str
    shocks: tuple[Shock, ...]
    source: str = ""
    description: str = ""
    where: str = field(default="scenario", compare=False)

    def assets(self) -> tuple[str, ...]:
        names: list[str] = []
        for s in self.shocks:
            names += [s.asset] if isinstance(s, PriceShape) else list(getattr(s, "assets", ()))
        return tuple(dict.fromkeys(names))

    def shifted(self, at: str) -> "Scenario":
        """The same shocks moved so that the first starts at ``at`` (same gaps between them)."""
        first = min(pd.Timestamp(s.start) for s in self.shocks)
        delta = pd.Timestamp(at) - first
        from dataclasses import replace

        moved = tuple(replace(s, start=str((pd.Timestamp(s.start) + delta).date())) for s in self.shocks)
        return replace(self, shocks=moved)

    def renamed(self, mapping: dict[str, str]) -> "Scenario":
        """The same shocks on other assets (``{"UST": "USDC"}``)."""
        from dataclasses import replace

        def one(s: Shock) -> Shock:
            if isinstance(s, PriceShape):
                return replace(s, asset=mapping.get(s.asset, s.asset))
            if isinstance(s, Liquidity):
                return replace(s, assets=tuple(mapping.get(a, a) for a in s.assets))
            return s

        return replace(self, shocks=tuple(one(s) for s in self.shocks))

    def apply(self, prices: pd.DataFrame) -> Shocked:
        """The history with the shocks; errors name the shock and field that do not fit it."""
        values = prices.to_numpy(dtype=np.float64, copy=True)
        T, N = values.shape
        depth = np.ones((T, N))
        gas = np.zeros(T)
        for j, shock in enumerate(self.shocks):
            where = f"{self.where}.shocks[{j}]"
            shock.validate(where)
            s = shock.row(prices.index, where)
            if isinstance(shock, PriceShape):
                i = shock.column(prices.columns, where)
                shock.reshape(values[:, i], s)
            elif isinstance(shock, Liquidity):
                cols = [asset_column(a, prices.columns, f"{where}.assets") for a in shock.assets]
                depth[s : s + shock.days, cols] *= shock.factor
            else:
                gas[s : s + shock.days] += shock.cost
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            raise ValueError(f"{self.where}: the shocks make a price non-positive")
        original = prices.to_numpy(dtype=np.float64)
        changed = values.view(np.int64) != original.view(np.int64)
        return Shocked(pd.DataFrame(values, index=prices.index, columns=prices.columns), depth, gas, changed)
