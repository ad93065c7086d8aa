"""What a decision may look at on one close: shared by triggers, planners, targets and the live service.

It lives on neutral ground (beside market.py) so that planners can read it without importing the
triggers package.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ballast.market import Market


@dataclass(frozen=True)
class TriggerState:
    """The state at the close of period ``t`` (pure-Python engine and live service)."""

    market: Market  # only rows 0..t may be used
    t: int
    weights: np.ndarray  # pre-trade weights at the close of t
    target: np.ndarray  # target weights at t
    last_rebalance: int  # period of the last executed rebalance (0 = formation)
