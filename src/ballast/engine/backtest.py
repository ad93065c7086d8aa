"""Running a strategy over price history: prepare arrays, pick the engine, wrap the result."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ballast.data.loaders import load_prices
from ballast.engine.prepared import Prepared, prepare
from ballast.engine.records import TradeLog
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


def walk_args(p: Prepared, record: bool, target_r: np.ndarray | None = None) -> tuple[Any, ...]:
    """The walk's positional arguments for ``p``; ``target_r``: `target_returns` of ``p.targets``, when
    the caller has it (a sweep shares it), else computed here."""
    from ballast.engine.valuation import target_returns

    assert p.program is not None and p.plan is not None
    return (
        p.market.prices if p.scaled is None else p.scaled.prices,
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


def run_compiled(
    p: Prepared, record: bool = True, target_r: np.ndarray | None = None, args: tuple[Any, ...] | None = None
) -> RawRun:
    """The compiled walk and the metrics (``record``: also the weights and the logs).
    ``target_r``: `target_returns` of ``p.targets``, when the caller has it (a sweep shares it);
    ``args``: the `walk_args` of ``p`` when a caller runs many variants of one preparation (loan bands)."""
    from ballast.engine.treasury_metrics import run_metrics
    from ballast.engine.walk import simulate

    args = walk_args(p, record, target_r) if args is None else args
    if p.plain:  # the common case without the optional machinery's setup (W1: 5 % of a backtest)
        walk = simulate(*args)
        return RawRun(
            walk.equity,
            walk.weights,
            walk.acc,
            run_metrics(p, walk.equity, walk.acc, None),
            walk.rebalances,
            walk.trades,
        )
    books, optional = optional_machinery(p, record)
    walk = simulate(*args, **optional)
    book, lbook, hbook, lp, rows, pre = books
    trades = walk.trades if p.scaled is None else unscaled(walk.trades, p.market.prices)
    from ballast.engine.loans import add_loan_costs

    add_loan_costs(walk.acc, lbook)
    m = run_metrics(p, walk.equity, walk.acc, book)
    return RawRun(
        walk.equity,
        walk.weights,
        walk.acc,
        m,
        walk.rebalances,
        trades,
        treasury=book,
        loans=lbook,
        hedge=hbook,
        liquidity=lp,
        pre_weights=pre,
        pre_rows=rows,
    )


def unscaled(trades: TradeLog, prices: np.ndarray) -> TradeLog:
    """A `ScaledWalk`'s trade log in units of the assets themselves: each trade's value at the
    market's price of its close (the walk logged scaled units)."""
    return trades._replace(quantity=trades.value / prices[trades.t, trades.asset])


def optional_machinery(p: Prepared, record: bool) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The books the walk writes for ``p``'s optional machinery — (treasury, loans, hedge,
    liquidity, pre-trade rows, pre-trade weights) — and the walk's keyword arguments: only what
    the strategy uses is passed (and compiled); the rest stays omitted."""
    from ballast.engine.hedge import new_hedge_book
    from ballast.engine.liquidity_kernel import new_book as lp_book
    from ballast.engine.loans import start_loans
    from ballast.engine.treasury import flow_closes, new_book, pre_record
    from ballast.flows import no_flows
    from ballast.yields import no_yields

    book = new_book(p.market.n_periods, p.market.n_assets, record, flow_closes(p)) if p.treasury else None
    loans, lbook = start_loans(p, record)
    hbook = new_hedge_book(p.market.n_periods) if p.hedge is not None else None
    lp = lp_book(p.market.n_periods) if p.liquidity is not None else None
    optional: dict[str, Any] = {}
    if book is not None and p.scaled is not None:  # the prices carry the yields; triggers read the market's
        optional.update(
            yields=no_yields(), flows=p.scaled.flows or no_flows(), treasury=book, trigger_prices=p.market.prices
        )
    elif book is not None:
        optional.update(yields=p.yields or no_yields(), flows=p.flows or no_flows(), treasury=book)
    if loans is not None:
        optional.update(loans=loans, loan_book=lbook)
    if hbook is not None:
        optional.update(hedge=p.hedge, hedge_book=hbook)
    if lp is not None:
        optional.update(liquidity=p.liquidity, lp_book=lp)
    rows, pre = pre_record(p, record)
    if pre is not None:  # units move between closes: the walk records what decisions saw
        optional.update(pre_out=pre, pre_rows=rows)
    return (book, lbook, hbook, lp, rows, pre), optional


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
    """The assets to load: as given, else those the target and the hedge name (cash added later if absent)."""
    if assets:
        return list(assets)
    named = strategy.target.assets()
    if named is None:
        return None
    loans = strategy.loans.assets() if strategy.loans is not None else ()  # a loan's assets need prices too
    hedged = (strategy.hedge.exposure.asset, strategy.hedge.instrument_asset) if strategy.hedge else ()
    extra = [*(a for a in loans if a != strategy.cash), *(a for a in hedged if a)]
    return list(dict.fromkeys([*named, *extra]))  # a position's token0 comes with it


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
    market = strategy_market(prices, strategy, relatives, fill, periods_per_year, start, end, assets)
    return run_prepared(prepare(strategy, market), engine)


def strategy_market(
    prices: pd.DataFrame | str | Path,
    strategy: Strategy,
    relatives: bool = False,
    fill: str | None = None,
    periods_per_year: float | None = None,
    start: str | None = None,
    end: str | None = None,
    assets: list[str] | None = None,
) -> Market:
    """The market ``strategy`` runs on: its assets (the loans' included), its cash and pegged stables."""
    return to_market(
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


Runner = Callable[[Prepared], RawRun]
__all__ = [
    "InputError",
    "Prepared",
    "backtest",
    "prepare",
    "run_compiled",
    "run_prepared",
    "strategy_market",
    "to_market",
]
