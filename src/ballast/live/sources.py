"""Where live prices come from: a replayed price file, a static JSON file, or exchange tickers.

A source only observes; it never judges. NaN, zero and jumping prices are passed through as
seen, and the service's guards decide whether a cycle may trade on them.
"""

from __future__ import annotations

import json
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ballast.errors import InputError
from ballast.live.models import utcnow


@dataclass(frozen=True)
class Observation:
    """Prices of every asset at ``time``; ``stamps`` says how old each price is."""

    time: datetime
    prices: dict[str, float]
    stamps: dict[str, datetime] = field(default_factory=dict)


class SourceUnavailable(Exception):
    """The source could not be read this cycle (network, exchange down): skip, alert, retry."""


class Source(ABC):
    name: str = "source"
    replay: bool = False  # replays resume after the ledger's last observation instead of "now"

    @abstractmethod
    def next(self, after: datetime | None) -> Observation | None:
        """The next observation (strictly after ``after`` for replays); None when a replay ends."""

    def describe(self) -> str:
        return self.name


def _naive_utc(t: pd.Timestamp | datetime) -> datetime:
    ts = pd.Timestamp(t)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    out: datetime = ts.to_pydatetime()
    return out


def read_replay_table(
    path: str | Path,
    assets: list[str],
    start: str | None = None,
    end: str | None = None,
    cash: str | None = None,
    fill: str | None = None,
    ideal: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """A price file for replay: dated rows, the named assets; NaN and zero cells are kept
    (the guards must see them), text cells and unsorted or duplicate dates are errors.
    The cash asset, if absent, is priced 1, and an ``ideal`` stable the file lacks at its peg
    (`[pegs] ideal`), as in the backtest; ``fill="forward"`` carries prices over gaps (as in the
    backtest)."""
    from ballast.data.bundled import bundled_path
    from ballast.data.loaders import dated_index, numeric_columns, read_table

    p = bundled_path(str(path)) or Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such price file, and not a bundled dataset (see `ballast datasets`)")
    df = dated_index(read_table(p), str(path))
    if not isinstance(df.index, pd.DatetimeIndex):
        raise InputError(f"{path}: replay needs dated rows (a date column)")
    constant = {a: peg for a, peg in (ideal or {}).items() if a in assets and a not in df.columns}
    if cash is not None and cash in assets and cash not in df.columns:
        constant.setdefault(cash, 1.0)
    assets = [a for a in assets if a not in constant]
    missing = [a for a in assets if a not in df.columns]
    if missing:
        raise InputError(
            f"{path}: unknown asset(s) {', '.join(map(repr, missing))}; the file has: {', '.join(map(str, df.columns))}"
        )
    df = df[assets]
    if start is not None or end is not None:
        df = df.loc[start:end]
    if df.index.has_duplicates:
        raise InputError(f"{path}: duplicate date {df.index[df.index.duplicated()][0]}")
    if not df.index.is_monotonic_increasing:
        raise InputError(f"{path}: dates are not sorted")
    out = numeric_columns(df, str(path))
    if out.empty:
        raise InputError(f"{path}: no rows to replay")
    if fill == "forward":
        out = out.ffill()
    for a, peg in constant.items():
        out[a] = peg
    return out


class ReplaySource(Source):
    """Rows of a price file, one per cycle; the row's date is both the clock and the price time."""

    replay = True

    def __init__(self, frame: pd.DataFrame, label: str = "replay") -> None:
        self.frame = frame
        self.times = [_naive_utc(t) for t in frame.index]
        self.values = frame.to_numpy(dtype=np.float64)
        self.assets = [str(c) for c in frame.columns]
        self.name = label
        self._pos = 0

    def next(self, after: datetime | None) -> Observation | None:
        if after is not None:
            while self._pos < len(self.times) and self.times[self._pos] <= after:
                self._pos += 1
        if self._pos >= len(self.times):
            return None
        t = self.times[self._pos]
        row = self.values[self._pos]
        self._pos += 1
        return Observation(t, {a: float(v) for a, v in zip(self.assets, row, strict=True)}, {a: t for a in self.assets})


class JsonSource(Source):
    """A static JSON file read every cycle: ``{"time": ISO-8601, "prices": {asset: price}}`` or a
    flat ``{asset: price}`` (its time is then the file's modification time).

    The boundary between a configuration error and a passing fault: `check` (at start-up) turns
    any unreadable file — missing, not JSON, the wrong shape, a price that is not a number — into
    an `InputError`; once running, the same faults (a file being rewritten, removed for a moment)
    are `SourceUnavailable`: the cycle is skipped with an alert and the file is read again."""

    def __init__(self, path: str | Path, assets: list[str]) -> None:
        self.path = Path(path)
        self.assets = assets
        self.name = f"json {self.path.name}"

    def check(self) -> None:
        try:
            self.next(None)
        except SourceUnavailable as exc:
            raise InputError(str(exc)) from None

    def next(self, after: datetime | None) -> Observation | None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SourceUnavailable(f"{self.path}: no such price file") from None
        except (OSError, ValueError) as exc:
            raise SourceUnavailable(f"{self.path}: not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise SourceUnavailable(f"{self.path}: expected an object of prices")
        if "prices" in raw:
            prices = raw["prices"]
            try:
                stamp = _naive_utc(pd.Timestamp(raw["time"])) if "time" in raw else None
            except (ValueError, TypeError):
                raise SourceUnavailable(f"{self.path}: time {raw['time']!r} is not an ISO-8601 time") from None
        else:
            prices, stamp = raw, None
        if not isinstance(prices, dict):
            raise SourceUnavailable(f"{self.path}: prices must be an object of asset → price")
        if stamp is None:
            try:
                stamp = datetime.fromtimestamp(os.path.getmtime(self.path), UTC).replace(tzinfo=None)
            except OSError as exc:
                raise SourceUnavailable(f"{self.path}: {exc}") from None
        out: dict[str, float] = {}
        for a in self.assets:
            v = prices.get(a)
            if isinstance(v, bool):
                raise SourceUnavailable(f"{self.path}: price of {a!r} is not a number: {v!r}")
            try:
                out[a] = float(v) if v is not None else math.nan
            except (TypeError, ValueError):
                raise SourceUnavailable(f"{self.path}: price of {a!r} is not a number: {v!r}") from None
        return Observation(utcnow(), out, {a: stamp for a in self.assets})


def ccxt_exchange(cfg: Any) -> Any:
    """A ccxt exchange from the ``[live.ccxt]`` settings; keys come only from the environment."""
    try:
        import ccxt
    except ImportError:
        raise InputError("the ccxt source/executor needs ccxt: pip install 'ballast[live]'") from None
    cls = getattr(ccxt, cfg.exchange, None)
    if cls is None or cfg.exchange not in ccxt.exchanges:
        raise InputError(f"[live.ccxt] exchange: unknown ccxt exchange id {cfg.exchange!r}")
    params: dict[str, Any] = {
        "timeout": cfg.timeout_ms,
        "enableRateLimit": True,
        "options": {
            "defaultType": "spot",
            "fetchMarkets": {"types": ["spot"]},
            "fetchCurrencies": False,
            "fetchMargins": False,
        },
    }
    for key, env in (("apiKey", cfg.api_key_env), ("secret", cfg.secret_env), ("password", cfg.password_env)):
        if env and os.environ.get(env):
            params[key] = os.environ[env]
    ex = cls(params)
    if cfg.sandbox:
        ex.set_sandbox_mode(True)
    return ex


def symbol_of(asset: str, quote: str, symbols: dict[str, str]) -> str:
    return symbols.get(asset, f"{asset}/{quote}")


class CcxtSource(Source):
    """Last prices from exchange tickers, in units of the quote asset (which is priced 1)."""

    def __init__(self, exchange: Any, assets: list[str], quote: str, symbols: dict[str, str]) -> None:
        self.exchange = exchange
        self.assets = assets
        self.quote = quote
        self.symbols = {a: symbol_of(a, quote, symbols) for a in assets if a != quote}
        self.name = f"ccxt {getattr(exchange, 'id', '?')}"

    def next(self, after: datetime | None) -> Observation | None:
        import ccxt

        try:
            tickers = self.exchange.fetch_tickers(list(self.symbols.values()))
        except ccxt.OperationFailed as exc:
            raise SourceUnavailable(f"{self.name}: {type(exc).__name__}: {str(exc)[:300]}") from None

        def read(a: str, now: datetime) -> tuple[float, datetime]:
            tk = tickers.get(self.symbols[a]) or {}
            last = tk.get("last") if tk.get("last") is not None else tk.get("close")
            ts = tk.get("timestamp")
            return (
                float(last) if last is not None else math.nan,
                datetime.fromtimestamp(ts / 1000, UTC).replace(tzinfo=None) if ts else now,
            )

        return quoted_observation(self.assets, self.quote, read)


def quoted_observation(
    assets: list[str], quote: str | None, read: Callable[[str, datetime], tuple[float, datetime]]
) -> Observation:
    """An observation now: the quote asset at 1, every other asset as ``read(asset, now)`` gives
    its price and price time."""
    now = utcnow()
    prices: dict[str, float] = {}
    stamps: dict[str, datetime] = {}
    for a in assets:
        prices[a], stamps[a] = (1.0, now) if a == quote else read(a, now)
    return Observation(now, prices, stamps)
