"""Yield on holdings and the cost of borrowing: constant APYs, dated rate series and Aave-style
utilization curves, compiled to per-period growth factors (see docs/treasury.md)."""

from ballast.yields.base import YieldArrays, Yields, no_yields, period_years
from ballast.yields.sources import ConstantAPY, RateSeries, UtilizationCurve, YieldSource

__all__ = [
    "ConstantAPY",
    "RateSeries",
    "UtilizationCurve",
    "YieldArrays",
    "YieldSource",
    "Yields",
    "no_yields",
    "period_years",
]
