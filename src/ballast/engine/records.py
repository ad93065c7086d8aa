"""The kernel's results as NamedTuples: callers read fields by name, and a new field is one line.

numba builds and returns these like plain tuples (a NamedTuple of scalars is a struct in
registers), so naming them costs nothing at run time.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ballast.planning.base import PlanVerdict


class Execution(NamedTuple):
    """What one execution of planned weights did (engine/accounting.py `execute`)."""

    value: float  # portfolio value after the trades and their costs
    cash: float  # cash after the trades
    n_trades: int  # trades, the quote asset's leg not counted
    cost: float  # total cost paid
    traded_value: float  # Σ |traded value|, the quote asset's leg not counted


class StepResult(NamedTuple):
    """One rebalance: the plan's verdict, then what its execution did (engine/walk.py `rebalance`)."""

    verdict: PlanVerdict
    execution: Execution


class RebalanceLog(NamedTuple):
    """One row per trigger firing (the formation included), as the kernel records it."""

    t: np.ndarray  # period
    bits: np.ndarray  # leaves of the trigger that were true
    n_trades: np.ndarray
    cost: np.ndarray  # costs paid
    value: np.ndarray  # traded value
    status: np.ndarray  # PLAN_EXECUTED or PLAN_SKIPPED (cost gate)
    est_cost: np.ndarray  # the planner's expected cost (cost-aware)
    benefit: np.ndarray  # the planner's expected benefit (cost-aware)


class TradeLog(NamedTuple):
    """One row per executed trade."""

    t: np.ndarray
    asset: np.ndarray
    quantity: np.ndarray
    value: np.ndarray
    cost: np.ndarray


class WalkResult(NamedTuple):
    """The walk's output (engine/walk.py `simulate`)."""

    equity: np.ndarray  # float64[T]: value after each close's trades
    weights: np.ndarray  # float64[T, N] post-trade weights when recorded, else [1, N]
    acc: np.ndarray  # float64[N_ACC]: the accumulators (ballast.enums ACC_*)
    rebalances: RebalanceLog  # empty unless recorded
    trades: TradeLog  # empty unless recorded
