"""Triggers: when to act. Leaves answer yes/no at each close; combinators compose them."""

from ballast.state import TriggerState
from ballast.triggers.band import Band
from ballast.triggers.base import AllOf, AnyOf, Cooldown, Leaf, Trigger, all_of, any_of
from ballast.triggers.calendar import Calendar, Never
from ballast.triggers.volatility import TrackingError, VolatilityRegime

__all__ = [
    "AllOf",
    "AnyOf",
    "Band",
    "Calendar",
    "Cooldown",
    "Leaf",
    "Never",
    "Trigger",
    "TrackingError",
    "TriggerState",
    "VolatilityRegime",
    "all_of",
    "any_of",
]
