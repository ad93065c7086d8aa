"""The strategy file's ``[hedge]`` section: a delta hedge with a perpetual future.

    [hedge]
    exposure = "ETH"                 # hedge the strategy's holdings of this asset (spot or native token),
                                     # or "position": the delta of its [[positions]] liquidity position
    instrument = "BTC"               # the perp's underlying (default: the exposure's asset)
    band = 0.1                       # half-width: a fraction of the target (relative, default) or currency
    band_kind = "relative"           # relative | absolute | whalley-wilmott (with cost, risk_aversion)
    every = "weekly"                 # also re-hedge to the target on a calendar (optional)
    combine = "any"                  # any: band or calendar; all: both (a timer with a minimum deviation)
    ratio_window = 30                # periods of the rolling hedge-ratio regression (instrument ≠ exposure)
    fraction = 1.0                   # share of the delta to hedge
    funding = 0.0001                 # per funding interval (positive: longs pay), or
    funding_file = "funding.csv"     # a dated series (column funding_column, default "rate")
    funding_interval_hours = 8
    leverage = 1.0                   # initial margin = notional / leverage
    maintenance = 0.005              # liquidation below this margin / notional
    liquidation_fee = 0.01
    margin_topup = 0.5               # restore the margin from cash below half the initial (0: never)
    fee_bps = 5                      # the perp venue's fee (default: the strategy's [costs])
    compare_every = "weekly"         # the fixed-interval hedge it is compared with

Every problem is an InputError naming ``[hedge]`` and the field (the caller prefixes the file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from ballast.config.treasury import Entry, read_series, validated
from ballast.errors import InputError
from ballast.hedging import (
    AbsoluteBand,
    DeltaHedge,
    Funding,
    HedgeBand,
    Holdings,
    LiquidityPosition,
    RelativeBand,
    WhalleyWilmott,
)


class HedgeSection(Entry):
    model_config = ConfigDict(extra="forbid", strict=True)

    exposure: str
    instrument: str | None = None
    band: float = Field(default=0.1, ge=0)
    band_kind: Literal["relative", "absolute", "whalley-wilmott"] = "relative"
    cost: float | None = Field(default=None, ge=0, lt=1)  # whalley-wilmott: proportional cost c
    risk_aversion: float | None = Field(default=None, gt=0)  # whalley-wilmott: λ
    every: str | int | None = None
    combine: Literal["any", "all"] = "any"
    ratio_window: int = Field(default=30, ge=2)
    fraction: float = Field(default=1.0, ge=0, le=10)
    funding: float | None = Field(default=None, gt=-1, lt=1)
    funding_file: str | None = None
    funding_column: str = "rate"
    funding_interval_hours: float = Field(default=8.0, gt=0)
    leverage: float = Field(default=1.0, gt=0, le=125)
    maintenance: float = Field(default=0.005, ge=0, lt=1)
    liquidation_fee: float = Field(default=0.01, ge=0, lt=1)
    margin_topup: float = Field(default=0.5, ge=0, le=1)
    fee_bps: float | None = Field(default=None, ge=0, lt=10_000)
    compare_every: str | int = "weekly"

    @model_validator(mode="after")
    def _one_funding(self) -> "HedgeSection":
        if self.funding is not None and self.funding_file is not None:
            raise ValueError("give funding (a constant rate) or funding_file (a series), not both")
        if self.band_kind == "relative" and self.band > 1:
            raise ValueError(f"band = {self.band:g} is {self.band:.0%} of the target; relative bands are fractions")
        return self


def hedge_band(section: HedgeSection) -> HedgeBand:
    if section.band_kind == "whalley-wilmott":
        if section.cost is None or section.risk_aversion is None:
            raise InputError('[hedge] band_kind = "whalley-wilmott" needs cost and risk_aversion')
        return WhalleyWilmott(section.cost, section.risk_aversion)
    if section.cost is not None or section.risk_aversion is not None:
        raise InputError('[hedge] cost and risk_aversion belong to band_kind = "whalley-wilmott"')
    return RelativeBand(section.band) if section.band_kind == "relative" else AbsoluteBand(section.band)


def build_hedge(raw: dict[str, Any] | None, base: Path) -> DeltaHedge | None:
    """The ``[hedge]`` table as a `DeltaHedge` (None when absent)."""
    if raw is None:
        return None
    s: HedgeSection = validated(HedgeSection, raw, "[hedge]")
    if s.funding_file is not None:
        series = read_series(base / s.funding_file, s.funding_column, "[hedge] funding_file")
        funding = Funding(series=series, interval_hours=s.funding_interval_hours)
    else:
        funding = Funding(s.funding or 0.0, interval_hours=s.funding_interval_hours)
    from ballast.costs import Proportional
    from ballast.triggers import Calendar

    try:
        return DeltaHedge(
            LiquidityPosition() if s.exposure == "position" else Holdings(s.exposure),
            instrument=s.instrument,
            band=hedge_band(s),
            every=Calendar(s.every) if s.every is not None else None,
            combine=s.combine,
            ratio_window=s.ratio_window,
            fraction=s.fraction,
            funding=funding,
            leverage=s.leverage,
            maintenance=s.maintenance,
            liquidation_fee=s.liquidation_fee,
            margin_topup=s.margin_topup,
            costs=Proportional(s.fee_bps) if s.fee_bps is not None else None,
            compare_every=s.compare_every,
        )
    except (InputError, ValueError) as exc:
        message = str(exc.args[0] if exc.args else exc)
        raise InputError(f"[hedge] {message.removeprefix('hedge: ')}") from None
