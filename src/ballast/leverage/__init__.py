"""How likely is a loan to be liquidated, and which repay/boost band to keep (docs/loans.md).

`probability.py`: the GBM first-passage closed form and the block bootstrap of real history;
`bands.py`: a sweep of health bands over history and its bootstrap resamplings, choosing the
band that earns the most carry net of expected liquidation penalties and rebalancing costs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ballast.leverage.probability import (
    BootstrapEstimate,
    bootstrap_liquidation_probability,
    gbm_liquidation_probability,
    liquidated_windows,
)

if TYPE_CHECKING:
    from ballast.leverage.bands import Thresholds, band_grid, thresholds

__all__ = [
    "BootstrapEstimate",
    "Thresholds",
    "band_grid",
    "bootstrap_liquidation_probability",
    "gbm_liquidation_probability",
    "liquidated_windows",
    "thresholds",
]


def __getattr__(name: str) -> Any:
    """The threshold sweep runs the engine: imported on first use only."""
    if name in ("Thresholds", "band_grid", "thresholds"):
        from ballast.leverage import bands as module

        return getattr(module, name)
    raise AttributeError(f"module 'ballast.leverage' has no attribute {name!r}")
