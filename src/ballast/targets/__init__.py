"""Targets: what to hold. Each maps the market seen up to t to weights at t."""
from ballast.targets.base import Target
from ballast.targets.fixed import Fixed

__all__ = ["Fixed", "Target"]
