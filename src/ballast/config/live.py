"""The ``[live]`` section of a strategy file, validated with pydantic (errors name file and field).

    [live]
    interval = "15m"          # one cycle per interval ("30s", "15m", "1h", "1d" or seconds)
    source = "replay"         # replay | ccxt | json | web3
    executor = "paper"        # paper | ccxt | propose
    db = "ballast.db"         # SQLite file or postgresql://... (``--db`` overrides)
    dry_run = false
    lease_expiry = "60s"      # one runner per ledger: another may take over after this long unheard
    [live.holdings]           # starting units per asset; default: [portfolio] capital in cash
    [live.guards]             # stale_after (intervals), max_jump (fraction, 0 = off),
                              # max_notional_cycle / max_notional_day (currency, 0 = no cap),
                              # clock_skew (seconds a price time may lie ahead of the clock)
    [live.replay]             # file (default: the strategy's [data] prices), speed (cycles/s or "max")
    [live.json]               # file: {"time": ISO-8601, "prices": {"BTC": 64000.0, ...}}
    [live.web3]               # chain, safe, oracles = {ASSET = {address, decimals}}, rpc_url_env
    [live.ccxt]               # exchange id, quote, order_type, slippage, order_timeout, key env names
    [live.propose]            # then = "paper" | "ccxt" | "none": who executes approved proposals;
                              # max_price_move (fraction), valid_for (duration): when they expire

API keys and RPC URLs are never read from the file: only the *names* of the environment variables
holding them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ballast.config.fields import validation_message
from ballast.errors import InputError
from ballast.live.location import DEFAULT_LEDGER

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_interval(value: str | float | int) -> float:
    """Seconds in ``"30s"``, ``"15m"``, ``"1h"``, ``"1d"``, ``"1w"`` or a plain number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(value))
        if not m:
            raise ValueError(f"expected a duration like '30s', '15m', '1h', '1d' or seconds, got {value!r}")
        seconds = float(m.group(1)) * UNITS[m.group(2)]
    if not seconds > 0:
        raise ValueError(f"must be positive, got {value!r}")
    return seconds


def parse_speed(value: str | float | int) -> float | None:
    """Replay speed in cycles per second; ``"max"`` (None) means as fast as possible."""
    if isinstance(value, str):
        if value.strip().lower() == "max":
            return None
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"expected 'max' or a number of cycles per second, got {value!r}") from None
    if not float(value) > 0:
        raise ValueError(f"must be positive or 'max', got {value!r}")
    return float(value)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Guards(Section):
    stale_after: float = Field(default=3.0, gt=0, description="prices older than this many intervals are stale")
    max_jump: float = Field(default=0.0, ge=0, description="a move larger than this fraction needs confirmation")
    max_notional_cycle: float = Field(default=0.0, ge=0)
    max_notional_day: float = Field(default=0.0, ge=0)
    clock_skew: float = Field(default=60.0, ge=0, description="seconds a price time may lie in the future")


class Replay(Section):
    file: str | None = None
    speed: str | float = 20.0

    @field_validator("speed")
    @classmethod
    def _speed(cls, v: str | float) -> str | float:
        parse_speed(v)
        return v


class JsonSource(Section):
    file: str


class Oracle(Section):
    address: str
    decimals: int = Field(ge=0, le=36)  # declared; checked against the feed's decimals() at start


class Web3(Section):
    chain: str
    safe: str  # the treasury whose balances are read (EIP-55 checksummed)
    oracles: dict[str, Oracle] = Field(default_factory=dict)  # asset → Chainlink-style feed in currency
    rpc_url_env: str = "BALLAST_RPC_URL"  # the variable holding the RPC URL (never the URL itself)


class Ccxt(Section):
    exchange: str = "binance"
    quote: str | None = None  # defaults to the strategy's [portfolio] cash
    symbols: dict[str, str] = Field(default_factory=dict)  # asset → market symbol, default ASSET/QUOTE
    order_type: Literal["market", "limit"] = "limit"
    slippage: float = Field(default=0.005, ge=0, lt=0.5)  # limit price = observed · (1 ± slippage)
    order_timeout: float = Field(default=60.0, gt=0)  # seconds before an open order is cancelled
    poll: float = Field(default=1.0, gt=0)  # seconds between fill polls
    max_order_age: float = Field(default=900.0, gt=0)  # never send a planned order older than this
    api_key_env: str = "BALLAST_API_KEY"
    secret_env: str = "BALLAST_API_SECRET"
    password_env: str | None = None
    sandbox: bool = False
    timeout_ms: int = Field(default=10_000, gt=0)
    retries: int = Field(default=3, ge=0)


class Propose(Section):
    then: Literal["paper", "ccxt", "none"] = "none"
    max_price_move: float = Field(default=0.03, gt=0)  # an approved plan expires past this price move
    valid_for: str | float = "1d"  # ... or when older than this (measured on the observation clock)

    @field_validator("valid_for")
    @classmethod
    def _valid_for(cls, v: str | float) -> str | float:
        parse_interval(v)
        return v

    @property
    def valid_seconds(self) -> float:
        return parse_interval(self.valid_for)


class LiveSection(Section):
    interval: str | float = "15m"
    source: Literal["replay", "ccxt", "json", "web3"] = "replay"
    executor: Literal["paper", "ccxt", "propose"] = "paper"
    db: str = DEFAULT_LEDGER
    dry_run: bool = False
    holdings: dict[str, float] = Field(default_factory=dict)
    guards: Guards = Field(default_factory=Guards)
    replay: Replay = Field(default_factory=Replay)
    json_: JsonSource | None = Field(default=None, alias="json")
    ccxt: Ccxt = Field(default_factory=Ccxt)
    web3: Web3 | None = None
    propose: Propose = Field(default_factory=Propose)
    lease_expiry: str | float = "60s"  # a second runner may take the ledger over after this silence

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: str | float) -> str | float:
        parse_interval(v)
        return v

    @field_validator("lease_expiry")
    @classmethod
    def _lease_expiry(cls, v: str | float) -> str | float:
        if parse_interval(v) < 2:
            raise ValueError(f"must be at least 2 seconds (the runner renews its lease every few seconds), got {v!r}")
        return v

    @field_validator("holdings")
    @classmethod
    def _holdings(cls, v: dict[str, float]) -> dict[str, float]:
        for k, u in v.items():
            if not (u == u and abs(u) != float("inf")) or u < 0:
                raise ValueError(f"units of {k!r} must be a non-negative number, got {u!r}")
        return v

    @property
    def interval_seconds(self) -> float:
        return parse_interval(self.interval)

    @property
    def lease_expiry_seconds(self) -> float:
        return parse_interval(self.lease_expiry)


def load_live_section(raw: dict[str, Any] | None, path: Path | str) -> LiveSection:
    """Validate the file's ``[live]`` section (an absent section means all defaults)."""
    try:
        return LiveSection.model_validate(raw or {})
    except ValidationError as exc:
        raise InputError(validation_message(exc, "[live]", prefix=f"{path}: ")) from None
