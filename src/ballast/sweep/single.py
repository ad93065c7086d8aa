"""Sweep configurations the pooled kernel does not carry, each run as its own backtest.

The pooled sweep kernel carries no yields or flows, and only compiled pieces. A chunk in which any
configuration has yields or flows (an axis over ``yields``, ``spend`` or ``routing``), or a piece
only the pure-Python engine runs (the `Freeze` and `Hold` depeg reactions, a user-defined trigger
or planner), runs its configurations one by one: through `run_compiled` where they compile, else
through the Python engine, as a backtest picks it. Slower, and every row still equals its single
backtest bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ballast.market import Market
from ballast.strategy import Strategy


def runs_alone(strategies: Sequence[Strategy], compiled: Sequence[bool]) -> bool:
    """Whether a chunk runs configuration by configuration (``compiled``: each one's pieces
    all compile)."""
    return any(s.yields or s.flows for s in strategies) or not all(compiled)


def single_configs(
    market: Market, strategies: Sequence[Strategy], equity: np.ndarray | None = None
) -> Callable[[], np.ndarray]:
    """The chunk's metrics (and equity paths into ``equity``), one backtest per configuration."""
    from ballast.engine.backtest import run_compiled
    from ballast.engine.prepared import prepare
    from ballast.engine.python_path import simulate_python

    prepared = [prepare(s, market) for s in strategies]  # errors surface while the chunk is built

    def call() -> np.ndarray:
        rows = []
        for c, p in enumerate(prepared):
            raw = run_compiled(p, record=False) if p.compiled else simulate_python(p)
            rows.append(raw.metrics)
            if equity is not None and equity.shape[0] > 0:
                equity[c] = raw.equity
        return np.stack(rows)

    return call
