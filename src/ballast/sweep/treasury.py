"""Sweep configurations with yields, flows, a liquidity position or a hedge: each runs as a single
compiled backtest.

The pooled sweep kernel carries no yields or flows, so a chunk in which any configuration has them
(an axis over ``yields``, ``spend`` or ``routing``) runs its configurations one by one through
`run_compiled` — slower, and every row still equals its single backtest bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ballast.engine.prepared import Prepared, signed_yields
from ballast.market import Market
from ballast.strategy import Strategy
from ballast.sweep.single import each_config


def has_treasury(strategies: Sequence[Strategy]) -> bool:
    return any(s.yields or s.flows or s.liquidity is not None or s.hedge is not None for s in strategies)


def treasury_configs(
    market: Market,
    strategies: Sequence[Strategy],
    parts: Sequence[tuple[Any, ...]],
    equity: np.ndarray | None = None,
) -> Callable[[], np.ndarray]:
    """The chunk's metrics (and equity paths into ``equity``), one backtest per configuration.

    ``parts``: per configuration, the compiled (targets, program, plan, costs, quote, yields,
    flows, scaled walk) from the sweep's `Preparer`, so that arrays shared by configurations are built once."""
    from ballast.engine.prepared import prepare

    # A hedge or a liquidity position is encoded by `prepare` (the Preparer's parts do not carry them).
    prepared = [
        prepare(s, market) if s.hedge is not None or s.liquidity is not None else _prepared(s, market, *p)
        for s, p in zip(strategies, parts, strict=True)
    ]
    return each_config(market, prepared, equity)


def _prepared(
    s: Strategy,
    market: Market,
    targets: np.ndarray,
    program: Any,
    plan: Any,
    costs: Any,
    quote: int,
    yields: Any,
    flows: Any,
    scaled: Any,
) -> Prepared:
    """A `Prepared` from the sweep's shared parts: yields marked unsigned, and then walked scaled,
    as `prepare` would (``scaled``: the Preparer's `ScaledWalk` for them, shared by configurations)."""
    yields = signed_yields(yields, targets, s)
    keep = yields is not None and yields.signed == 0 and yields.payers.shape[0] == 0
    return Prepared(s, market, targets, program, plan, costs, quote, yields, flows, scaled=scaled if keep else None)


def shared_treasury(
    market: Market, strategies: Sequence[Strategy], books: Sequence[tuple[Any, ...]]
) -> tuple[np.ndarray, tuple[Any, Any, np.ndarray]] | None:
    """(the walk's prices, the sweep kernel's ``treasury``) when every configuration shares one
    flow schedule and either no yields or one `ScaledWalk` (compounding yields, never-negative
    holdings) — an axis over bands, triggers or costs; None when they differ (an axis over
    ``yields``, ``spend`` or ``routing``) or another piece is present: one backtest each then."""
    from ballast.flows import no_flows
    from ballast.yields import no_yields

    if any(s.hedge is not None or s.liquidity is not None or s.loans is not None for s in strategies):
        return None
    first = books[0]
    checked: set[int] = set()  # target paths already checked (configurations share them)
    for parts in books:
        targets, yields, flows, scaled = parts[0], parts[5], parts[6], parts[7]
        if flows is not first[6] or yields is not first[5] or scaled is not first[7]:
            return None
        if yields is None or id(targets) in checked:
            continue
        checked.add(id(targets))
        if scaled is None or signed_yields(yields, targets, strategies[0]).signed != 0:  # type: ignore[union-attr]
            return None
    yields, flows, scaled = first[5], first[6], first[7]
    walked = market.prices if scaled is None else scaled.prices
    walk_flows = flows if scaled is None else scaled.flows
    return walked, (no_yields(), walk_flows if walk_flows is not None else no_flows(), market.prices)
