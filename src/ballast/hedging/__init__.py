"""Delta hedges: a perpetual future held against an exposure, re-hedged inside cost-aware bands
(see docs/hedging.md). Pure domain: no I/O."""

from ballast.hedging.bands import AbsoluteBand, HedgeBand, RelativeBand, WhalleyWilmott, rehedge_to_edge, ww_half_width
from ballast.hedging.exposures import Exposure, FullRangeLP, Holdings, LiquidityPosition, PriceExposure
from ballast.hedging.hedge import DeltaHedge, HedgeArrays, reason_text
from ballast.hedging.perp import Funding, PerpPosition, accrue_funding, funding_payment
from ballast.hedging.ratio import rolling_hedge_ratio

__all__ = [
    "AbsoluteBand",
    "DeltaHedge",
    "Exposure",
    "FullRangeLP",
    "Funding",
    "HedgeArrays",
    "HedgeBand",
    "Holdings",
    "LiquidityPosition",
    "PerpPosition",
    "PriceExposure",
    "RelativeBand",
    "WhalleyWilmott",
    "accrue_funding",
    "funding_payment",
    "reason_text",
    "rehedge_to_edge",
    "rolling_hedge_ratio",
    "ww_half_width",
]
