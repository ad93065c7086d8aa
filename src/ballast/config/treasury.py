"""The strategy file's treasury sections: ``[yield]``, ``[[flows]]`` and ``[treasury]``.

    [yield]
    day_count = 365                       # days in a year for accrual (default 365)
    USDC = 0.05                           # a constant APY
    stETH = { apy = 0.03, borrow = 0.05, mode = "compounding" }
    sDAI = { rates = "dsr.csv", column = "rate", max_gap_days = 7, mode = "payout" }
    aUSDC = { curve = { base = 0, slope1 = 0.04, slope2 = 0.6, optimal = 0.9, reserve_factor = 0.1 },
              utilization = "util.csv" }  # or supplied = "...", borrowed = "...", own_deposit = 1e6

    [[flows]]                             # one table per flow
    amount = -50_000                      # units of asset, signed (negative = paid out)
    every = "monthly"                     # daily, weekly, monthly, quarterly, yearly
    asset = "USDC"                        # default: the cash asset; start/end dates optional
    [[flows]]
    spend = "50000/month"                 # the CLI's --spend
    [[flows]]
    file = "grants.csv"                   # dated table: date, asset, amount
    [[flows]]
    nav_rate = 0.04                       # spending rule: 4 % of NAV a year, paid every period

    [treasury]
    routing = "cash"                      # cash | pro-rata | rebalance
    runway_floor = 12                     # months, for the runway metrics

Files are CSV or Parquet, relative to the strategy file. Every problem is an InputError naming the
section and field (the caller prefixes the file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ballast.config.fields import validation_message
from ballast.errors import InputError
from ballast.flows import Dated, Flow, Flows, Recurring, SpendingRule, parse_spend
from ballast.yields import ConstantAPY, RateSeries, UtilizationCurve, Yields, YieldSource

Every = Literal["daily", "weekly", "monthly", "quarterly", "yearly"]


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CurveEntry(Entry):
    base: float = Field(ge=0)
    slope1: float = Field(ge=0)
    slope2: float = Field(ge=0)
    optimal: float = Field(gt=0, lt=1)
    reserve_factor: float = Field(default=0.1, ge=0, le=1)


class YieldEntry(Entry):
    """One asset's yield: exactly one of ``apy``, ``rates`` (a file) or ``curve``."""

    apy: float | None = Field(default=None, gt=-1)
    borrow: float | None = Field(default=None, gt=-1)
    mode: Literal["compounding", "payout"] = "compounding"
    rates: str | None = None
    column: str = "rate"
    borrow_column: str | None = None
    max_gap_days: float = Field(default=7.0, gt=0)
    curve: CurveEntry | None = None
    utilization: str | None = None
    supplied: str | None = None
    borrowed: str | None = None
    own_deposit: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _one_source(self) -> "YieldEntry":
        given = [k for k in ("apy", "rates", "curve") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of apy, rates, curve (got {', '.join(given) or 'none'})")
        if self.curve is None and (self.utilization or self.supplied or self.borrowed or self.own_deposit):
            raise ValueError("utilization, supplied, borrowed and own_deposit belong to a curve")
        return self


class FlowEntry(Entry):
    """One flow: exactly one of ``amount`` (recurring), ``spend``, ``file`` or ``nav_rate``."""

    amount: float | None = None
    spend: str | None = None
    file: str | None = None
    nav_rate: float | None = Field(default=None, ge=0, lt=1)
    every: Every = "monthly"
    asset: str | None = None
    start: str | None = None
    end: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "FlowEntry":
        given = [k for k in ("amount", "spend", "file", "nav_rate") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of amount, spend, file, nav_rate (got {', '.join(given) or 'none'})")
        return self


class TreasuryEntry(Entry):
    routing: Literal["cash", "pro-rata", "rebalance"] = "cash"
    runway_floor: float | None = Field(default=None, ge=0)


def validated(model: type[Entry], table: Any, where: str) -> Any:
    """``table`` validated as ``model``; errors name ``where`` and the field."""
    try:
        return model.model_validate(table)
    except ValidationError as exc:
        raise InputError(validation_message(exc, where, sep="; ", whole="(table)")) from None


def read_table(path: Path, field: str) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame (errors name the field that points at it)."""
    try:
        return pd.read_parquet(path) if path.suffix in (".parquet", ".pq") else pd.read_csv(path)
    except FileNotFoundError:
        raise InputError(f"{field}: no such file {path}") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{field}: cannot read {path}: {exc}") from None


def read_series(path: Path, column: str, field: str) -> pd.Series:
    """A dated column of a file: the ``date`` column (else the first) is the index."""
    df = read_table(path, field)
    date = "date" if "date" in df.columns else df.columns[0]
    if column not in df.columns:
        raise InputError(f"{field}: {path.name} has no column {column!r} (it has {', '.join(map(str, df.columns))})")
    try:
        index = pd.DatetimeIndex(pd.to_datetime(df[date]))
    except (TypeError, ValueError) as exc:
        raise InputError(f"{field}: {path.name} column {date!r} is not dates: {exc}") from None
    return pd.Series(df[column].to_numpy(), index=index, name=column)


def _source(asset: str, e: YieldEntry, base: Path) -> YieldSource:
    field = f"[yield] {asset}"
    if e.apy is not None:
        return ConstantAPY(e.apy, e.mode, e.borrow)
    if e.rates is not None:
        path = base / e.rates
        borrow = read_series(path, e.borrow_column, f"{field}.borrow_column") if e.borrow_column else None
        return RateSeries(
            read_series(path, e.column, f"{field}.rates"), e.mode, borrow, e.max_gap_days, name=f"{asset} rates"
        )
    assert e.curve is not None
    # Each file holds a column named like its key: utilization, supplied or borrowed.
    series = {
        k: read_series(base / v, k, f"{field}.{k}")
        for k, v in (("utilization", e.utilization), ("supplied", e.supplied), ("borrowed", e.borrowed))
        if v is not None
    }
    return UtilizationCurve(
        **e.curve.model_dump(),
        **series,
        own_deposit=e.own_deposit,
        mode=e.mode,
        max_gap_days=e.max_gap_days,
        name=f"{asset} curve",
    )


def build_yields(raw: dict[str, Any] | None, base: Path) -> Yields | None:
    """The ``[yield]`` table as `Yields` (None when absent or empty)."""
    if not raw:
        return None
    raw = dict(raw)
    day_count = raw.pop("day_count", 365.0)
    sources: dict[str, YieldSource] = {}
    for asset, value in raw.items():
        table = {"apy": value} if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        if not isinstance(table, dict):
            raise InputError(f"[yield] {asset}: expected an APY or a table like {{ apy = 0.05 }}, got {value!r}")
        sources[asset] = _source(asset, validated(YieldEntry, table, f"[yield] {asset}"), base)
    if not (isinstance(day_count, (int, float)) and not isinstance(day_count, bool)):
        raise InputError(f"[yield] day_count: expected a number of days, got {day_count!r}")
    return Yields(sources, day_count=float(day_count))


def _flow(k: int, e: FlowEntry, base: Path) -> Flow:
    if e.amount is not None:
        return Recurring(e.amount, e.every, e.asset, e.start, e.end)
    if e.spend is not None:
        try:
            f = parse_spend(e.spend)
        except InputError as exc:
            raise InputError(f"[[flows]] {k}.spend: {exc}") from None
        return Recurring(f.amount, f.every, e.asset or f.asset, e.start, e.end)
    if e.nav_rate is not None:
        return SpendingRule(e.nav_rate, e.every, e.asset)
    assert e.file is not None
    return Dated(read_table(base / e.file, f"[[flows]] {k}.file"), source=e.file)


def build_flows(raw: list[Any] | None, treasury: dict[str, Any] | None, base: Path) -> Flows | None:
    """The ``[[flows]]`` tables and the ``[treasury]`` options as `Flows` (None without flows)."""
    options = validated(TreasuryEntry, treasury or {}, "[treasury]")
    flows: list[Flow] = []
    for k, table in enumerate(raw or (), start=1):
        if not isinstance(table, dict):
            raise InputError(f"[[flows]] {k}: expected a table, got {table!r}")
        flows.append(_flow(k, validated(FlowEntry, table, f"[[flows]] {k}"), base))
    if not flows:
        return None
    return Flows(*flows, routing=options.routing, runway_floor=options.runway_floor)
