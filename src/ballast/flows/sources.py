"""Scheduled cash flows: a fixed amount per period, a dated table, or a share of NAV.

Amounts are in units of the flow's asset (the strategy's cash asset unless named), signed:
negative is money leaving the treasury (spending), positive money arriving (revenue). A flow
dated between two closes is applied at the first close on or after its date.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod

import numpy as np
import pandas as pd

from ballast.errors import InputError
from ballast.market import Market
from ballast.triggers.calendar import FREQUENCIES, calendar_mask

PER_YEAR = {"daily": 365.0, "weekly": 52.0, "monthly": 12.0, "quarterly": 4.0, "yearly": 1.0}
UNITS = {"day": "daily", "week": "weekly", "month": "monthly", "quarter": "quarterly", "year": "yearly"}


def check_every(owner: str, every: str) -> str:
    if every not in FREQUENCIES:
        raise InputError(f"{owner}: every must be one of {', '.join(FREQUENCIES)}, got {every!r}")
    return every


def _number(owner: str, field: str, value: object) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    v = float(value) if ok else float("nan")  # type: ignore[arg-type]
    if not np.isfinite(v):
        raise InputError(f"{owner}: {field} must be a finite number, got {value!r}")
    return v


class Flow(ABC):
    """One source of scheduled flows; ``asset`` None means the strategy's cash asset."""

    asset: str | None = None

    @abstractmethod
    def schedule(self, market: Market, asset: str | None) -> tuple[np.ndarray, np.ndarray]:
        """(units[T], share of NAV[T]) of this flow paid in ``asset`` (as the flow names it,
        None for the cash asset) at each close."""

    def assets(self) -> tuple[str | None, ...]:
        """The assets this flow pays in, as named (None: the cash asset)."""
        return (self.asset,)

    def monthly(self) -> float:
        """Signed amount per month for recurring flows (0 for one-off tables): for runway."""
        return 0.0

    def describe(self) -> str:
        return type(self).__name__


def window_mask(market: Market, owner: str, start: str | None, end: str | None) -> np.ndarray:
    keep = np.ones(market.n_periods, np.bool_)
    if start is None and end is None:
        return keep
    if not market.has_dates:
        raise InputError(f"{owner}: start/end need dated prices")
    idx = pd.DatetimeIndex(market.index)
    for name, value in (("start", start), ("end", end)):
        if value is None:
            continue
        try:
            when = pd.Timestamp(value)
        except (TypeError, ValueError):
            raise InputError(f"{owner}: {name} is not a date: {value!r}") from None
        keep &= (idx >= when) if name == "start" else (idx <= when)
    return keep


class Recurring(Flow):
    """``amount`` units of ``asset`` at the first close of every new period (``every``), from
    ``start`` to ``end``: ``Recurring(-50_000, "monthly", "USDC")`` is a monthly budget."""

    def __init__(
        self,
        amount: float,
        every: str = "monthly",
        asset: str | None = None,
        start: str | None = None,
        end: str | None = None,
    ) -> None:
        self.amount = _number("flow", "amount", amount)
        self.every = check_every("flow", every)
        self.asset, self.start, self.end = asset, start, end

    def schedule(self, market: Market, asset: str | None) -> tuple[np.ndarray, np.ndarray]:
        owner = f"flow {self.describe()!r}"
        try:
            mask = calendar_mask(market.index, self.every)
        except ValueError as e:
            raise InputError(f"{owner}: {e}") from None
        mask &= window_mask(market, owner, self.start, self.end)
        return np.where(mask, self.amount, 0.0), np.zeros(market.n_periods)

    def monthly(self) -> float:
        return self.amount * PER_YEAR[self.every] / 12.0

    def describe(self) -> str:
        return f"{self.amount:+,.0f} {self.asset or 'cash'} {self.every}"


class SpendingRule(Flow):
    """An endowment's spending rule: ``rate`` of NAV a year, paid ``every`` period (4 % a year
    paid monthly is 0.04/12 of the NAV at each month's first close)."""

    def __init__(self, rate: float, every: str = "monthly", asset: str | None = None) -> None:
        self.rate = _number("spending rule", "rate", rate)
        if not (0.0 <= self.rate < 1.0):
            raise InputError(f"spending rule: rate must be within [0, 1) of NAV a year, got {rate!r}")
        self.every = check_every("spending rule", every)
        self.asset = asset

    def schedule(self, market: Market, asset: str | None) -> tuple[np.ndarray, np.ndarray]:
        try:
            mask = calendar_mask(market.index, self.every)
        except ValueError as e:
            raise InputError(f"spending rule: {e}") from None
        return np.zeros(market.n_periods), np.where(mask, -self.rate / PER_YEAR[self.every], 0.0)

    def describe(self) -> str:
        return f"spend {self.rate:.2%} of NAV a year, {self.every}"


class Dated(Flow):
    """A table of dated flows: columns ``date``, ``asset`` (optional: the cash asset), ``amount``.
    ``source`` names the table in errors (a file name)."""

    def __init__(self, table: pd.DataFrame, source: str = "flows table") -> None:
        missing = [c for c in ("date", "amount") if c not in table.columns]
        if missing:
            raise InputError(f"{source}: missing column(s) {', '.join(missing)} (expected date, asset, amount)")
        self.source = source
        self.table = table.reset_index(drop=True)
        try:
            self.dates = pd.DatetimeIndex(pd.to_datetime(self.table["date"]))
        except (TypeError, ValueError) as e:
            raise InputError(f"{source}: column date: {e}") from None
        amounts = pd.to_numeric(self.table["amount"], errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(~np.isfinite(amounts))
        if bad.size:
            raise InputError(
                f"{source}: row {bad[0] + 1}, field amount: not a number: {self.table['amount'].iloc[bad[0]]!r}"
            )
        self.amounts = amounts
        col = self.table["asset"] if "asset" in self.table.columns else pd.Series([None] * len(self.table))
        self.row_assets = [
            None if (a is None or (isinstance(a, float) and np.isnan(a)) or a == "") else str(a) for a in col
        ]

    def assets(self) -> tuple[str | None, ...]:
        return tuple(dict.fromkeys(self.row_assets))

    def schedule(self, market: Market, asset: str | None) -> tuple[np.ndarray, np.ndarray]:
        rows = np.array([a == asset for a in self.row_assets], np.bool_)
        if not market.has_dates:
            raise InputError(f"{self.source}: dated flows need dated prices")
        idx = pd.DatetimeIndex(market.index)
        dates = self.dates
        if idx.tz is not None and dates.tz is None:
            dates = dates.tz_localize(idx.tz)
        units = np.zeros(market.n_periods)
        for k in np.flatnonzero(rows):
            when = dates[k]
            if when < idx[0] or when > idx[-1]:
                raise InputError(
                    f"{self.source}: row {k + 1}, field date: {when.date()} is outside the "
                    f"prices ({idx[0].date()} to {idx[-1].date()})"
                )
            units[int(idx.searchsorted(when, side="left"))] += self.amounts[k]
        return units, np.zeros(market.n_periods)

    def describe(self) -> str:
        return f"{len(self.table)} dated flows from {self.source}"


SPEND = re.compile(r"^\s*([-+]?[\d_,.]+)\s*(?:/|\s+per\s+)\s*(day|week|month|quarter|year)\s*(?:in\s+(\S+))?\s*$")


def parse_spend(text: str) -> Recurring:
    """``"50000/month"``, ``"50_000 per month in USDC"``: an outflow (a positive amount is spent;
    a negative one, ``"-50000/month"``, reads the same way as the issue's ``-50_000 per month``)."""
    m = SPEND.match(str(text))
    if not m:
        raise InputError(
            f"spend {text!r}: expected AMOUNT/PERIOD like '50000/month' or "
            "'50_000 per month in USDC' (period: day, week, month, quarter, year)"
        )
    try:
        amount = float(m.group(1).replace("_", "").replace(",", ""))
    except ValueError:
        raise InputError(f"spend {text!r}: the amount is not a number: {m.group(1)!r}") from None
    return Recurring(-abs(amount), UNITS[m.group(2)], m.group(3))
