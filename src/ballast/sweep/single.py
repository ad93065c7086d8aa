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
from typing import TYPE_CHECKING, Any

import numpy as np

from ballast.market import Market
from ballast.strategy import Strategy

if TYPE_CHECKING:
    from ballast.engine.prepared import Prepared


def needs_python(rows: Sequence[tuple[Any, ...]]) -> bool:
    """Whether a configuration's compiled parts (`Preparer.components`) lack a trigger program
    or a plan (False: only the Python engine runs that piece)."""
    return any(r[1] is False or r[2] is False for r in rows)


def single_configs(
    market: Market, strategies: Sequence[Strategy], equity: np.ndarray | None = None
) -> Callable[[], np.ndarray]:
    """The chunk's metrics (and equity paths into ``equity``), one backtest per configuration."""
    from ballast.engine.prepared import prepare

    return each_config(market, [prepare(s, market) for s in strategies], equity)  # errors surface now


def each_config(
    market: Market, prepared: Sequence["Prepared"], equity: np.ndarray | None = None
) -> Callable[[], np.ndarray]:
    """Run prepared configurations one after another, as `ballast.backtest` would: compiled where
    they compile (sharing `target_returns` between configurations with the same target path),
    else through the Python engine. Returns the call that fills the chunk's metrics."""
    from ballast.engine.backtest import run_compiled
    from ballast.engine.python_path import simulate_python
    from ballast.engine.valuation import target_returns

    returns: dict[int, np.ndarray] = {}  # one per target path (a sweep's Preparer shares the arrays)
    for p in prepared:
        if p.compiled and id(p.targets) not in returns:
            returns[id(p.targets)] = target_returns(p.targets, market.prices)

    def call() -> np.ndarray:
        rows = []
        for c, p in enumerate(prepared):
            raw = run_compiled(p, record=False, target_r=returns[id(p.targets)]) if p.compiled else simulate_python(p)
            rows.append(raw.metrics)
            if equity is not None and equity.shape[0] > 0:
                equity[c] = raw.equity
        return np.stack(rows)

    return call
