"""The live service wired from a strategy file: the ``[live]`` section and the command line's
choices become a `LiveService` with its ledger, source and executor, every mistake reported up
front with the file and field (see docs/live.md). The only module that reads the live config.

The service's pieces: `cycle` (the loop), `history`, `guards`, `plans` (trigger → orders),
`venue` (the order protocol), `logs`; the ledger's: see `ledger`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ballast.config.live import load_live_section, parse_speed
from ballast.errors import InputError
from ballast.live.cycle import LiveService
from ballast.live.executors import CcxtExecutor, Executor, PaperExecutor
from ballast.live.guards import check_holdings
from ballast.live.history import History
from ballast.live.loans import LiveLoan, from_strategy
from ballast.live.logs import JsonFormatter, setup_logging
from ballast.live.loop import CycleView
from ballast.live.repository import Ledger
from ballast.live.sources import CcxtSource, JsonSource, ReplaySource, Source, ccxt_exchange, read_replay_table
from ballast.live.treasury import check_live_routing
from ballast.strategy import Strategy

__all__ = [
    "CycleView",
    "History",
    "JsonFormatter",
    "LiveService",
    "RunSettings",
    "open_service",
    "setup_logging",
    "strategy_assets",
]


@dataclass(frozen=True)
class RunSettings:
    """Command-line choices layered over the file's ``[live]`` section."""

    db: str | None = None
    source: str | None = None
    executor: str | None = None
    speed: str | float | None = None
    dry_run: bool = False
    replay_file: str | None = None


def strategy_assets(cfg: Any, strategy: Strategy) -> tuple[str, ...]:
    """The traded universe: the target's assets, else ``[data] assets``; plus the cash asset."""
    named = strategy.target.assets() or (tuple(cfg.data.assets) if cfg.data.assets else None)
    if not named:
        raise InputError(
            f"{cfg.source}: the live service needs the assets by name: give target weights or [data] assets = [...]"
        )
    hedged = (strategy.hedge.exposure.asset, strategy.hedge.instrument_asset) if strategy.hedge else ()
    assets = list(dict.fromkeys([*named, *(a for a in hedged if a)]))  # a hedge's assets are observed too
    if strategy.cash and strategy.cash not in assets:
        assets.append(strategy.cash)
    return tuple(assets)


def open_service(
    path: str,
    settings: RunSettings = RunSettings(),
    ledger: Ledger | None = None,
    exchange: Any = None,
    w3: Any = None,
    loans: Sequence[LiveLoan] = (),
) -> LiveService:
    """Everything ``ballast run`` needs, validated up front; errors name the file and field.

    ``exchange`` injects a ready ccxt exchange object (tests point one at a local server);
    ``w3`` a Web3 client for the web3 source (tests: an in-process chain); ``loans`` the loans
    kept at the paper lending market (`live.loans.LiveLoan`; default: the file's ``[[loans]]``).
    """
    from ballast.config import load_strategy_file

    cfg = load_strategy_file(path)
    live = load_live_section(cfg.live, path)
    strategy = cfg.to_strategy()
    if cfg.data.relatives:
        raise InputError(f"{path}: [data] relatives: the live service needs prices, not price relatives")
    assets = strategy_assets(cfg, strategy)
    source_kind = settings.source or live.source
    mode = settings.executor or live.executor
    if source_kind not in ("replay", "ccxt", "json", "web3"):
        raise InputError(f"--source: expected replay, ccxt, json or web3, got {source_kind!r}")
    if mode not in ("paper", "ccxt", "propose"):
        raise InputError(f"--executor must be paper, ccxt or propose, got {mode!r}")
    check_live_routing(strategy, path, mode)
    if strategy.liquidity is not None:
        from ballast.live.liquidity import check_live

        try:
            check_live(strategy.liquidity, mode, assets)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
    if strategy.hedge is not None:
        from ballast.live.hedge import check_live as check_hedge

        try:
            pair = strategy.liquidity.pair if strategy.liquidity else None
            check_hedge(strategy.hedge, assets, strategy.cash, pair)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
    try:
        speed = parse_speed(settings.speed if settings.speed is not None else live.replay.speed)
    except ValueError as exc:
        raise InputError(f"--speed: {exc}") from None
    base = Path(path).resolve().parent

    def near(p: str) -> str:
        from ballast.data.bundled import DATASETS

        return p if p in DATASETS or Path(p).is_absolute() else str(base / p)

    uses_ccxt = source_kind == "ccxt" or mode == "ccxt" or (mode == "propose" and live.propose.then == "ccxt")
    quote = live.ccxt.quote or strategy.cash
    if uses_ccxt:
        if not quote:
            raise InputError(f"{path}: [live.ccxt] quote: name the quote asset (or set [portfolio] cash)")
        if (mode == "ccxt" or live.propose.then == "ccxt") and (
            strategy.cash != quote or strategy.convention != "exact"
        ):
            raise InputError(
                f"{path}: [portfolio] the ccxt executor needs cash = {quote!r} (the quote asset "
                'every order settles in) and convention = "exact"'
            )
        if exchange is None:
            exchange = ccxt_exchange(live.ccxt)
    if source_kind == "replay":
        file = settings.replay_file or (near(live.replay.file) if live.replay.file else cfg.prices_path())
        ideal = strategy.pegs.ideal_columns() if strategy.pegs is not None else None
        frame = read_replay_table(file, list(assets), cfg.data.start, cfg.data.end, strategy.cash, cfg.data.fill, ideal)
        source: Source = ReplaySource(frame, f"replay {Path(file).name}")
    elif source_kind == "json":
        if live.json_ is None:
            raise InputError(f"{path}: [live.json] file: the json source needs a file of prices")
        source = JsonSource(near(live.json_.file), list(assets))
        source.check()  # a missing or malformed file is a configuration error at start-up
    elif source_kind == "web3":
        from ballast.live.web3_source import make_web3_source

        source = make_web3_source(live.web3, cfg.onchain, list(assets), strategy.cash, path, w3)
    else:
        assert quote  # checked above: the ccxt source needs one
        source = CcxtSource(exchange, list(assets), quote, live.ccxt.symbols)

    check_holdings(live.holdings, assets)  # before a database file is created
    led = ledger or Ledger(settings.db or live.db)

    def executor_for(kind: str) -> Executor | None:
        if kind == "paper":
            return PaperExecutor(led)
        if kind == "ccxt":
            assert quote  # checked above
            return CcxtExecutor(exchange, quote, live.ccxt.symbols, live.ccxt.order_type, live.ccxt.slippage)
        return None

    executor = executor_for(live.propose.then if mode == "propose" else mode)
    ccxt_exec = isinstance(executor, CcxtExecutor)
    svc = LiveService(
        strategy,
        live,
        led,
        source,
        executor,
        assets,
        mode=mode,
        dry_run=settings.dry_run or live.dry_run,
        speed=speed,
        periods_per_year=cfg.data.periods_per_year,
        source_label=source.describe(),
        holdings=dict(live.holdings) or None,
        max_order_age=live.ccxt.max_order_age if ccxt_exec else None,
        order_timeout=live.ccxt.order_timeout if ccxt_exec else 0.0,
        poll=live.ccxt.poll,
        retries=live.ccxt.retries,
        loans=loans or from_strategy(strategy.loans),
    )
    if isinstance(executor, PaperExecutor):
        executor.cost = svc.cost_fn()
    return svc
