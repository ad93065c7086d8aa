"""Running a strategy over price history: prepare arrays, pick the engine, wrap the result."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ballast.data.loaders import load_prices
from ballast.engine.prepared import Prepared, prepare
from ballast.engine.result import RawRun, Result
from ballast.enums import CONVENTION_CODES
from ballast.errors import InputError
from ballast.market import Market
from ballast.strategy import Strategy, build_strategy
from ballast.targets.constraints import decision_targets

ENGINES = ("auto", "numba", "python")


def with_cash(prices: pd.DataFrame, cash: str | None) -> pd.DataFrame:
    """Add the cash asset as a constant price of 1 when the prices do not carry it."""
    if cash is None or cash in prices.columns:
        return prices
    return prices.assign(**{cash: 1.0})


def run_compiled(p: Prepared, record: bool = True, target_r: np.ndarray | None = None) -> RawRun:
    """The compiled walk and the metrics (``record``: also the weights and the logs).
    ``target_r``: `target_returns` of ``p.targets``, when the caller has it (a sweep shares it)."""
    from ballast.engine.liquidity_kernel import new_book as lp_book
    from ballast.engine.treasury import new_book
    from ballast.engine.treasury_metrics import run_metrics
    from ballast.engine.valuation import target_returns
    from ballast.engine.walk import simulate
    from ballast.flows import no_flows
    from ballast.yields import no_yields

    assert p.program is not None and p.plan is not None
    args = (
        p.market.prices,
        p.targets,
        target_returns(p.targets, p.market.prices) if target_r is None else target_r,
        p.program,
        p.plan,
        p.costs,
        p.quote,
        CONVENTION_CODES[p.strategy.convention],
        float(p.strategy.capital),
        record,
    )
    book = new_book(p.market.n_periods, p.market.n_assets, record) if p.treasury else None
    lp = lp_book(p.market.n_periods) if p.liquidity is not None else None
    optional: dict[str, Any] = {} if lp is None else {"liquidity": p.liquidity, "lp_book": lp}
    if book is None:  # the plain walk: none of the treasury machinery is compiled
        walk = simulate(*args, **optional)
    else:
        walk = simulate(*args, p.yields or no_yields(), p.flows or no_flows(), book, **optional)
    m = run_metrics(p, walk.equity, walk.acc, book)
    return RawRun(walk.equity, walk.weights, walk.acc, m, walk.rebalances, walk.trades, treasury=book, liquidity=lp)


def run_prepared(p: Prepared, engine: str = "auto") -> Result:
    from ballast.engine.python_path import simulate_python

    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "numba" and not p.compiled:
        raise ValueError(
            "this strategy has user-defined parts that only the Python engine can run; use engine='python' or 'auto'"
        )
    raw = run_compiled(p) if p.compiled and engine != "python" else simulate_python(p)

    def baseline() -> Result:
        hold = p.strategy.buy_and_hold()
        q = prepare(hold, p.market)
        return Result(hold, p.market, q.targets, run_compiled(q), prepared=q)

    targets = decision_targets(
        p.strategy.target, p.market, p.targets, raw.equity, raw.weights, float(p.strategy.capital)
    )
    return Result(p.strategy, p.market, targets, raw, baseline, prepared=p)


def universe(strategy: Strategy, assets: list[str] | None = None) -> list[str] | None:
    """The assets to load: as given, else those the target names (cash added later if absent)."""
    if assets:
        return list(assets)
    named = strategy.target.assets()
    return None if named is None else list(named)


def to_market(
    prices: pd.DataFrame | str | Path,
    cash: str | None = None,
    relatives: bool = False,
    fill: str | None = None,
    periods_per_year: float | None = None,
    start: str | None = None,
    end: str | None = None,
    assets: list[str] | None = None,
    ideal: Mapping[str, float] | None = None,
) -> Market:
    """``ideal``: stables the prices may lack, added at their constant peg (ballast.pegs)."""
    ideal = dict(ideal or {})
    df = load_prices(
        prices,
        relatives=relatives,
        fill=fill,
        start=start,
        end=end,
        assets=assets,
        optional_assets=((cash,) if cash else ()) + tuple(ideal),
    )
    df = df.assign(**{a: peg for a, peg in ideal.items() if a not in df.columns})
    return Market.from_frame(with_cash(df, cash), periods_per_year or 0.0)


def backtest(
    prices: pd.DataFrame | str | Path,
    strategy: Strategy | None = None,
    *,
    relatives: bool = False,
    fill: str | None = None,
    engine: str = "auto",
    periods_per_year: float | None = None,
    start: str | None = None,
    end: str | None = None,
    assets: list[str] | None = None,
    **keywords: Any,
) -> Result:
    """Backtest ``strategy`` (or one built from ``keywords``) on ``prices``.

    ``prices``: a wide DataFrame (dates × assets), a CSV/Parquet path, or a bundled dataset name.
    Keywords mirror the CLI: ``target``, ``rebalance``, ``band``, ``band_kind``, ``plan``,
    ``fee_bps``, ``fixed_cost``, ``min_trade``, ``cooldown``, ``cash``, ``capital``, ``convention``.
    """
    if strategy is None:
        strategy = build_strategy(**keywords)
    elif keywords:
        raise TypeError(f"give either a Strategy or keywords, not both (got {', '.join(keywords)})")
    market = to_market(
        prices,
        strategy.cash,
        relatives,
        fill,
        periods_per_year,
        start,
        end,
        universe(strategy, assets),
        strategy.pegs.ideal_columns() if strategy.pegs else None,
    )
    return run_prepared(prepare(strategy, market), engine)


Runner = Callable[[Prepared], RawRun]
__all__ = ["InputError", "Prepared", "backtest", "prepare", "run_compiled", "run_prepared", "to_market"]
