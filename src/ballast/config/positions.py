"""The strategy file's ``[[positions]]`` tables: a concentrated-liquidity position.

    [[positions]]
    kind = "concentrated_lp"
    pair = ["ETH", "USDC"]                # token0, token1: prices in token1 per token0
    fee_tier = 3000                       # 100, 500, 3000 or 10000 (hundredths of a bip)
    share = 0.6                           # of the portfolio, deposited at the first close and at each reset
    reset_gas = 40                        # currency per reset (burn, collect, mint)
    range = { policy = "fixed", pct = 0.10 }                # or ticks = 1200
    # range = { policy = "volatility", k = 2, window = 30, horizon = 7, min_pct = 0.01 }
    # range = { policy = "charm", base_ticks = 3600, limit = 1200 }
    # range = { policy = "quantile", window = 60, horizon = 7, lower_q = 0.05, upper_q = 0.95 }
    reset = { out_of_range = true, min_tick_move = 600, cooldown = 3, twap_window = 3,
              twap_max_ticks = 100, gas_max_days = 2 }
    fees = { apr = 0.05 }                 # or { volume = "volume.csv", column = "volume", tvl = 3e8 }
    sweep = { pct = [0.02, 0.05, 0.1, 0.2, 0.4] }   # `ballast lp-sweep`: axes over range/reset keys

Every problem is an InputError naming the table and field (the caller prefixes the file).
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import Field, model_validator

from ballast.config.treasury import Entry, read_series, validated
from ballast.errors import InputError
from ballast.positions.provision import AprFees, LiquidityProvision, VolumeFees
from ballast.positions.ranges import CharmStyle, FixedWidth, QuantileRange, RangePolicy, VolatilityScaled
from ballast.positions.resets import ResetRule

WHERE = "[[positions]]"
POLICY_KEYS = {
    "fixed": {"pct", "ticks"},
    "volatility": {"k", "window", "horizon", "min_pct"},
    "charm": {"base_ticks", "limit"},
    "quantile": {"window", "horizon", "lower_q", "upper_q", "min_pct"},
}


class RangeEntry(Entry):
    policy: Literal["fixed", "volatility", "charm", "quantile"] = "fixed"
    pct: float | None = None
    ticks: int | None = None
    k: float | None = None
    window: int | None = None
    horizon: int | None = None
    min_pct: float | None = None
    base_ticks: int | None = None
    limit: int | None = None
    lower_q: float | None = None
    upper_q: float | None = None

    @model_validator(mode="after")
    def _keys_of_policy(self) -> "RangeEntry":
        given = {k for k in self.model_fields_set if k != "policy"}
        foreign = given - POLICY_KEYS[self.policy]
        if foreign:
            allowed = ", ".join(sorted(POLICY_KEYS[self.policy]))
            raise ValueError(
                f"{', '.join(sorted(foreign))} do not apply to policy {self.policy!r} (it takes {allowed})"
            )
        return self

    def policy_object(self) -> RangePolicy:
        args = {k: getattr(self, k) for k in POLICY_KEYS[self.policy] if getattr(self, k) is not None}
        if self.policy == "fixed":
            return FixedWidth(**args) if args else FixedWidth(pct=0.1)
        builder = {"volatility": VolatilityScaled, "charm": CharmStyle, "quantile": QuantileRange}[self.policy]
        return builder(**args)  # type: ignore[no-any-return]


RESET_KEYS = frozenset(f.name for f in dataclasses.fields(ResetRule))


def reset_rule(table: dict[str, Any], where: str) -> ResetRule:
    """The ``reset`` table as a `ResetRule` (it checks its own values); unknown keys name the field."""
    unknown = sorted(set(table) - RESET_KEYS)
    if unknown:
        raise InputError(f"{where}.{unknown[0]}: not a reset key (known: {', '.join(sorted(RESET_KEYS))})")
    try:
        return ResetRule(**table)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


class FeesEntry(Entry):
    """Exactly one of ``apr`` (a number, or a file's column) or ``volume`` (a file) with ``tvl``."""

    apr: float | str | None = None
    volume: str | None = None
    column: str | None = None
    tvl: float | str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "FeesEntry":
        if (self.apr is None) == (self.volume is None):
            raise ValueError("give exactly one of apr (fee APR on the pool's TVL) or volume (a file) with tvl")
        if self.volume is not None and self.tvl is None:
            raise ValueError("volume needs tvl: the pool's value locked (a number or a file), for the position's share")
        if self.apr is not None and self.tvl is not None:
            raise ValueError("tvl belongs with volume, not with apr")
        return self


class PositionEntry(Entry):
    kind: Literal["concentrated_lp"]
    pair: tuple[str, str]
    fee_tier: int = 3000
    share: float = Field(default=0.5, gt=0, le=1)
    reset_gas: float = Field(default=0.0, ge=0)
    range: RangeEntry = Field(default_factory=RangeEntry)
    reset: dict[str, Any] = Field(default_factory=dict)  # ResetRule's fields (positions/resets.py)
    fees: FeesEntry = Field(default_factory=lambda: FeesEntry(apr=0.0))
    sweep: dict[str, list[Any]] = Field(default_factory=dict)


def _series_or_number(value: float | str, column: str, base: Path, field: str) -> float | pd.Series:
    return read_series(base / value, column, field) if isinstance(value, str) else float(value)


def build_provision(entry: PositionEntry, base: Path, table: str = f"{WHERE} 1") -> LiquidityProvision:
    f = entry.fees
    where = f"{table} fees"
    fees: AprFees | VolumeFees
    if f.volume is not None:
        assert f.tvl is not None
        volume = read_series(base / f.volume, f.column or "volume", f"{where}.volume")
        fees = VolumeFees(volume, _series_or_number(f.tvl, "tvl", base, f"{where}.tvl"))
    else:
        assert f.apr is not None
        fees = AprFees(_series_or_number(f.apr, f.column or "apr", base, f"{where}.apr"))
    rule = reset_rule(entry.reset, f"{table} reset")
    try:
        return LiquidityProvision(
            entry.pair,
            entry.fee_tier,
            entry.share,
            entry.range.policy_object(),
            rule,
            fees,
            entry.reset_gas,
        )
    except InputError as exc:
        raise InputError(f"{table}: {exc}") from None


def parse_positions(raw: list[Any] | None) -> list[PositionEntry]:
    entries = []
    for k, table in enumerate(raw or (), start=1):
        if not isinstance(table, dict):
            raise InputError(f"{WHERE} {k}: expected a table, got {table!r}")
        entries.append(validated(PositionEntry, table, f"{WHERE} {k}"))
    if len(entries) > 1:
        raise InputError(f"{WHERE}: one concentrated_lp position per strategy for now (got {len(entries)})")
    return entries


def build_positions(raw: list[Any] | None, base: Path) -> LiquidityProvision | None:
    """The ``[[positions]]`` tables as the strategy's liquidity position (None without one)."""
    entries = parse_positions(raw)
    return build_provision(entries[0], base) if entries else None


def sweep_provisions(raw: list[Any] | None, base: Path) -> list[tuple[dict[str, Any], LiquidityProvision]]:
    """The product of the position's ``sweep`` axes: (the configuration, its position) per point.

    Axis names are keys of ``range`` or ``reset``; each point replaces those keys."""
    entries = parse_positions(raw)
    if not entries or not entries[0].sweep:
        raise InputError(f"{WHERE} sweep: give axes, e.g. sweep = {{ pct = [0.02, 0.05, 0.1, 0.2] }}")
    entry = entries[0]
    range_keys, reset_keys = set(RangeEntry.model_fields), set(RESET_KEYS)
    for name, values in entry.sweep.items():
        if name not in range_keys | reset_keys:
            raise InputError(
                f"{WHERE} sweep.{name}: not a key of range or reset "
                f"(range: {', '.join(sorted(range_keys))}; reset: {', '.join(sorted(reset_keys))})"
            )
        if not isinstance(values, list) or not values:
            raise InputError(f"{WHERE} sweep.{name}: expected a non-empty list of values, got {values!r}")
    names = list(entry.sweep)
    out = []
    for point in itertools.product(*(entry.sweep[n] for n in names)):
        config = dict(zip(names, point, strict=True))
        rng = {**entry.range.model_dump(exclude_unset=True), **{k: v for k, v in config.items() if k in range_keys}}
        rst = {**entry.reset, **{k: v for k, v in config.items() if k in reset_keys}}
        table = entry.model_dump(exclude={"range", "reset", "sweep"}) | {"range": rng, "reset": rst}
        where = f"{WHERE} sweep {config}"
        out.append((config, build_provision(validated(PositionEntry, table, where), base, where)))
    return out
