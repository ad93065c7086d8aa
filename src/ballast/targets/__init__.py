"""Targets: what to hold. Each maps the market seen up to t to weights at t."""

from ballast.targets.base import Target
from ballast.targets.constraints import Bounds, Reserve, Runway, TurnoverLimit
from ballast.targets.fixed import Fixed
from ballast.targets.risk import InverseVol, MinVariance, RiskParity, VolTarget

__all__ = [
    "Bounds",
    "Fixed",
    "InverseVol",
    "MinVariance",
    "Reserve",
    "RiskParity",
    "Runway",
    "Target",
    "TurnoverLimit",
    "VolTarget",
]
