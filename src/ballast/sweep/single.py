"""Sweep configurations with a piece only the pure-Python engine runs, one backtest each.

The pooled sweep kernel (and the compiled one-by-one path of sweep/treasury.py) needs compiled
pieces. A chunk in which any configuration has a trigger or planner that does not compile — the
`Freeze` and `Hold` depeg reactions (they read the holdings at each decision), a user-defined
trigger or planner — runs its configurations one by one as `ballast.backtest` would: compiled
where they compile, else through the Python engine. Slower, and every row still equals its single
backtest bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ballast.market import Market
from ballast.strategy import Strategy


def needs_python(rows: Sequence[tuple[Any, ...]]) -> bool:
    """Whether a configuration's compiled parts (`Preparer.components`) lack a trigger program
    or a plan (False: only the Python engine runs that piece)."""
    return any(r[1] is False or r[2] is False for r in rows)


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
