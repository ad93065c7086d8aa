"""ballast: dynamic asset rebalancing — targets, triggers, planning and costs, backtested fast,
swept at scale, run live.

``import ballast`` stays light: numba, cvxpy, SQLAlchemy and the rest load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "backtest": "ballast.engine.backtest",
    "Result": "ballast.engine.result",
    "Strategy": "ballast.strategy",
    "build_strategy": "ballast.strategy",
    "load_prices": "ballast.data.loaders",
    "load_strategy": "ballast.config",
    "Market": "ballast.market",
    "InputError": "ballast.errors",
    "write_tearsheet": "ballast.report.html",
    "sweep": "ballast.sweep.runner",
    "walk_forward": "ballast.sweep.runner",
    "Ledger": "ballast.live.ledger",
    # targets
    "Fixed": "ballast.targets",
    "InverseVol": "ballast.targets",
    "RiskParity": "ballast.targets",
    "MinVariance": "ballast.targets",
    "VolTarget": "ballast.targets",
    "Bounds": "ballast.targets",
    "Reserve": "ballast.targets",
    "Runway": "ballast.targets",
    "TurnoverLimit": "ballast.targets",
    # triggers
    "Calendar": "ballast.triggers",
    "Band": "ballast.triggers",
    "Never": "ballast.triggers",
    "Cooldown": "ballast.triggers",
    "VolatilityRegime": "ballast.triggers",
    "TrackingError": "ballast.triggers",
    "any_of": "ballast.triggers",
    "all_of": "ballast.triggers",
    # planning
    "Full": "ballast.planning",
    "BandEdge": "ballast.planning",
    "CostAware": "ballast.planning",
    "plan_orders": "ballast.planning.routing",
    "ExchangeRules": "ballast.planning.exchange_rules",
    "AssetRules": "ballast.planning.exchange_rules",
    # costs
    "Proportional": "ballast.costs",
    "FixedPerTrade": "ballast.costs",
    "MinTradeSize": "ballast.costs",
    "Costs": "ballast.costs",
    "ConstantProductPool": "ballast.costs",
    "StableSwapPool": "ballast.costs",
    "Gas": "ballast.costs",
    "Spread": "ballast.costs",
    # pegs (their own modules: a strategy without pegs imports none of them)
    "Pegs": "ballast.pegs",
    "DepegRule": "ballast.pegs",
    "Depeg": "ballast.triggers.depeg",
    "Exit": "ballast.targets.pegged",
    "StableBasket": "ballast.targets.pegged",
    "Freeze": "ballast.planning.pegged",
    "Hold": "ballast.planning.pegged",
    "PSM": "ballast.costs.psm",
    "stress": "ballast.report.stress",
    "Scenario": "ballast.scenarios.shocks",
}

__all__ = sorted(_LAZY)


_SUBPACKAGES = {
    "targets",
    "triggers",
    "planning",
    "costs",
    "engine",
    "sweep",
    "live",
    "report",
    "api",
    "data",
    "config",
    "strategy",
    "market",
    "cli",
}


__version__: str  # resolved on first use by __getattr__ (below)


def _version() -> str:
    """The installed distribution's version: pyproject.toml is its one source."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ballast")
    except PackageNotFoundError:  # a source tree on sys.path that was never installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = _version()
        return globals()[name]
    if name in _SUBPACKAGES:
        return import_module(f"ballast.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ballast' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
