"""The compiled engine's entry points, for callers outside the engine (the live service, tests).

The kernel lives in three modules: engine/accounting.py (trading to planned weights with exact
costs), engine/valuation.py (value, weights and drift at a close) and engine/walk.py (the path
walk and the rebalance step).
"""

from __future__ import annotations

from ballast.engine.accounting import execute
from ballast.engine.valuation import max_abs_drift, target_return, target_returns, value_and_weights
from ballast.engine.walk import rebalance, simulate

__all__ = ["execute", "max_abs_drift", "rebalance", "simulate", "target_return", "target_returns", "value_and_weights"]
