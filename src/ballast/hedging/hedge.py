"""`DeltaHedge`: hold a perpetual future against an exposure, re-hedged when a band or a calendar says.

At every close, after the strategy's own rebalance, the hedge's target is −ratio·delta units of
the instrument (ratio = ``fraction``·β·P_exposure/P_instrument, β = 1 when the instrument is the
exposure's own asset, else a rolling regression; hedging/ratio.py). The hedge trades when:

- the band says so (|hedge − target| > half-width): only to the band's nearer edge;
- the calendar ``every`` fires (a fixed-interval hedge): all the way to the target;
- with ``combine = "all"`` only when both do (a timer with a minimum deviation, as Hummingbot's
  hedge strategy), then to the target.

The first close with a target opens the hedge at the target. The margin is topped up from the
cash asset when it falls below ``margin_topup`` of the initial margin (0: never, an isolated
position left to its liquidation). Every re-hedge records why
(`REASONS`). Fees and slippage are the strategy's cost models (or the hedge's own ``costs``)
on the instrument's column; funding and liquidation are the perp's (hedging/perp.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from ballast.costs.base import CostArrays, CostModel, compile_costs
from ballast.enums import (
    EXPOSURE_HOLDINGS,
    EXPOSURE_PATH,
    EXPOSURE_POSITION,
    HEDGE_BAND,
    HEDGE_CALENDAR,
    HEDGE_LIQUIDATED,
    HEDGE_OPEN,
)
from ballast.errors import InputError
from ballast.hedging.bands import AbsoluteBand, HedgeBand, RelativeBand, WhalleyWilmott
from ballast.hedging.exposures import Exposure, Holdings, LiquidityPosition, PriceExposure
from ballast.hedging.perp import Funding, check_number
from ballast.hedging.ratio import rolling_hedge_ratio
from ballast.market import Market
from ballast.triggers.calendar import Calendar

COMBINE = ("any", "all")
REASONS = {
    HEDGE_OPEN: "open the hedge",
    HEDGE_BAND: "band",
    HEDGE_CALENDAR: "calendar",
    HEDGE_LIQUIDATED: "liquidated",
}


class HedgeArrays(NamedTuple):
    """A `DeltaHedge` compiled for one market (the walk reads it; engine/hedge.py)."""

    exposure: int  # price column of the exposure's asset
    source: int  # EXPOSURE_*: the units held, the ``delta`` path, or the liquidity position
    delta: np.ndarray  # float64[T]: exposure delta in units (price exposures; zeros otherwise)
    gamma: np.ndarray  # float64[T]: exposure gamma (price exposures; zeros otherwise)
    token1: int  # the liquidity position's token1 column (EXPOSURE_POSITION), else -1
    instrument: int  # price column of the perp's underlying (its mark price)
    ratio: np.ndarray  # float64[T]: instrument units per unit of exposure delta (0 = no hedge yet)
    band_value: float  # absolute half-width, currency
    band_rel: float  # relative half-width, fraction of the target
    ww_cost: float  # Whalley–Wilmott c (0 = no WW band)
    ww_risk_aversion: float  # Whalley–Wilmott λ
    calendar: np.ndarray  # bool[T]: the time-based trigger fired
    combine_all: bool  # calendar AND band instead of OR
    funding: np.ndarray  # float64[T]: summed funding rate over (t−1, t]
    leverage: float
    maintenance: float
    liquidation_fee: float
    margin_topup: float  # restore the margin when below this fraction of the initial margin (0 = never)
    costs: CostArrays  # fees and slippage of the perp's trades


@dataclass(frozen=True)
class DeltaHedge:
    """Hedge ``exposure`` with a perpetual on ``instrument`` (default: the exposure's asset)."""

    exposure: Exposure
    instrument: str | None = None
    band: HedgeBand = field(default_factory=lambda: RelativeBand(0.1))
    every: Calendar | None = None
    combine: str = "any"
    ratio_window: int = 30
    fraction: float = 1.0
    funding: Funding = field(default_factory=Funding)
    leverage: float = 1.0
    maintenance: float = 0.005
    liquidation_fee: float = 0.01
    margin_topup: float = 0.5
    costs: CostModel | None = None
    compare_every: str | int = "weekly"

    def __post_init__(self) -> None:
        if not isinstance(self.exposure, Exposure):
            raise InputError(f"hedge: exposure must be an Exposure (e.g. Holdings('ETH')), got {self.exposure!r}")
        if not isinstance(self.band, HedgeBand):
            raise InputError(
                f"hedge: band must be a hedge band (AbsoluteBand, RelativeBand, WhalleyWilmott), got {self.band!r}"
            )
        if isinstance(self.band, WhalleyWilmott) and isinstance(self.exposure, Holdings):
            raise InputError(
                "hedge: a Whalley-Wilmott band needs an exposure with gamma (an LP position); "
                f"{self.exposure.describe()} has none, so its band would be zero: use a relative or absolute band"
            )
        if self.combine not in COMBINE:
            raise InputError(f"hedge: combine must be one of {', '.join(COMBINE)}, got {self.combine!r}")
        if self.combine == "all" and self.every is None:
            raise InputError('hedge: combine = "all" needs a calendar (every = "weekly", ...)')
        if not (isinstance(self.ratio_window, int) and self.ratio_window >= 2):
            raise InputError(f"hedge: ratio_window must be a whole number of periods >= 2, got {self.ratio_window!r}")
        check_number("hedge", "fraction", self.fraction, 0.0, strict=False, high=10.0)
        check_number("hedge", "leverage", self.leverage, 0.0, strict=True, high=125.0)
        check_number("hedge", "maintenance", self.maintenance, 0.0, strict=False, high=1.0)
        check_number("hedge", "liquidation_fee", self.liquidation_fee, 0.0, strict=False, high=1.0)
        check_number("hedge", "margin_topup", self.margin_topup, 0.0, strict=False, high=1.0)
        if self.maintenance >= 1.0 / self.leverage:
            raise InputError(
                f"hedge: maintenance {self.maintenance:g} must be below the initial margin 1/leverage = "
                f"{1.0 / self.leverage:g} (the hedge would be liquidated as it opens)"
            )
        Calendar(self.compare_every)  # a bad comparison interval is refused now, not after the backtest

    @property
    def instrument_asset(self) -> str:
        return self.instrument or self.exposure.asset

    def fixed_interval(self, every: str | int | None = None) -> "DeltaHedge":
        """The same hedge re-hedged to its target on a calendar only (the comparison)."""
        return replace(self, band=AbsoluteBand(0.0), every=Calendar(every or self.compare_every), combine="all")

    def for_position(self, pair: tuple[str, str] | None) -> "DeltaHedge":
        """This hedge with a `LiquidityPosition` exposure bound to the position's token0 (``pair``:
        the strategy's liquidity pair, None without a position: an error for such an exposure)."""
        if not isinstance(self.exposure, LiquidityPosition):
            return self
        if pair is None:
            raise InputError("hedge: exposure 'position' needs a liquidity position ([[positions]]) on the strategy")
        return replace(self, exposure=LiquidityPosition(pair[0], pair[1]))

    def encode(self, market: Market, quote: int, held: np.ndarray, costs: CostModel | None = None) -> HedgeArrays:
        """Arrays for the walk. ``held``: whether each asset is ever targeted (a hedge of an asset
        the strategy never holds is an error); ``costs``: the strategy's, unless the hedge has its own."""
        if isinstance(self.exposure, LiquidityPosition) and not self.exposure.asset:
            raise InputError("hedge: bind a LiquidityPosition exposure to the strategy's position (for_position)")
        name = self.exposure.asset
        inst = self.instrument_asset
        for role, asset in (("exposure", name), ("instrument", inst)):
            if asset not in market.assets:
                raise InputError(f"hedge: {role} {asset!r} has no prices; the prices have: {', '.join(market.assets)}")
        if quote < 0:
            raise InputError(
                "hedge: the perp's margin and PnL settle in the cash asset; give the strategy a cash asset"
            )
        e, i = market.asset_index(name), market.asset_index(inst)
        T = market.n_periods
        pe, pi = market.prices[:, e], market.prices[:, i]
        delta, gamma = np.zeros(T), np.zeros(T)
        token1 = -1
        if isinstance(self.exposure, Holdings):
            source = EXPOSURE_HOLDINGS
            if not held[e]:
                raise InputError(f"hedge: exposure {name!r} is not held: the strategy's target never holds it")
        elif isinstance(self.exposure, LiquidityPosition):
            source = EXPOSURE_POSITION
            if self.exposure.token1 not in market.assets:
                raise InputError(f"hedge: the position's token1 {self.exposure.token1!r} has no prices")
            token1 = market.asset_index(self.exposure.token1)
        elif isinstance(self.exposure, PriceExposure):
            source = EXPOSURE_PATH
            delta, gamma = self.exposure.delta(pe), self.exposure.gamma(pe)
        else:
            raise InputError(f"hedge: unknown exposure {self.exposure.describe()}")
        beta = np.ones(T) if i == e else rolling_hedge_ratio(pe, pi, self.ratio_window)
        ratio = np.nan_to_num(self.fraction * beta * pe / pi, nan=0.0)
        value, rel, c, lam = self.band.parts()
        calendar = Calendar(self.every.freq).encode(market).mask if self.every else np.zeros(T, np.bool_)
        cost_arrays = compile_costs(self.costs, market) if self.costs is not None else compile_costs(costs, market)
        return HedgeArrays(
            e,
            source,
            np.ascontiguousarray(delta, np.float64),
            np.ascontiguousarray(gamma, np.float64),
            token1,
            i,
            ratio,
            value,
            rel,
            c,
            lam,
            np.ascontiguousarray(calendar, np.bool_),
            self.combine == "all",
            self.funding.per_period(market),
            float(self.leverage),
            float(self.maintenance),
            float(self.liquidation_fee),
            float(self.margin_topup),
            cost_arrays,
        )

    def describe(self) -> str:
        on = f" with a {self.instrument} perp" if self.instrument and self.instrument != self.exposure.asset else ""
        when = f" {'and' if self.combine == 'all' else 'or'} {self.every.describe()}" if self.every else ""
        return f"delta hedge of {self.exposure.describe()}{on}: {self.band.describe()}{when}, {self.funding.describe()}"


def reason_text(bits: int) -> str:
    """Why the hedge traded at a close, from the kernel's reason bits."""
    return " and ".join(text for bit, text in REASONS.items() if bits & bit) or "no re-hedge"
