"""One chunk of configurations on one market → a metrics array, through the batched kernel.

Each configuration is a full `Strategy` built by the same `build_strategy` a backtest uses; only
the compiled parts are cached — per component, keyed by the keywords that can affect that
component (a keyword not known to be irrelevant counts as relevant, so keywords added later are
never wrongly shared).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from ballast.costs.base import CostArrays, compile_costs
from ballast.enums import CONVENTION_CODES
from ballast.errors import InputError
from ballast.market import Market
from ballast.planning.base import PlanSpec
from ballast.planning.full import Full
from ballast.strategy import Strategy, build_strategy
from ballast.sweep.pool import Pooled, pool
from ballast.sweep.single import needs_python, single_configs
from ballast.sweep.treasury import has_treasury, shared_treasury, treasury_configs
from ballast.targets.base import check_weight_path
from ballast.targets.constraints import with_constraints
from ballast.triggers.base import TriggerProgram, compile_trigger

_TRIGGER = {
    "rebalance",
    "band",
    "band_kind",
    "band_floor",
    "band_per_asset",
    "cooldown",
    "trigger",
    "vol_change",
    "vol_thresholds",
    "vol_lookback",
    "vol_asset",
    "tracking_error",
    "te_lookback",
}
_COSTS = {"fee_bps", "fixed_cost", "min_trade", "costs"}
_RUN = {"capital", "convention", "name"}
_FLOWS = {"flows", "spend", "routing"}
# Keywords that cannot change each compiled component.
IRRELEVANT: dict[str, frozenset[str]] = {
    "target": frozenset(_TRIGGER | _COSTS | _RUN | _FLOWS | {"plan", "yields"}),
    "trigger": frozenset(_COSTS | _RUN | _FLOWS | {"target", "plan", "yields"}),
    "plan": frozenset(_COSTS | _RUN | _FLOWS | {"cooldown", "yields"}),  # the target's constraints go into the plan
    "costs": frozenset(_TRIGGER | _RUN | _FLOWS | {"target", "plan", "yields"}),
    "yields": frozenset(_TRIGGER | _COSTS | _RUN | _FLOWS | {"target", "plan"}),
    "flows": frozenset(_TRIGGER | _COSTS | _RUN | {"target", "plan", "yields"}),
    "scaled": frozenset(_TRIGGER | _COSTS | _RUN | {"target", "plan"}),  # yields and flows both matter
}


def freeze(value: Any) -> Hashable:
    """A cache key for a keyword value: scalars as themselves, containers recursively, objects by id."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return (type(value).__name__, value)
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((str(k), freeze(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("seq", tuple(freeze(v) for v in value))
    return ("id", id(value))


class Preparer:
    """Compiled components for strategies on one market, each compiled once per distinct key.

    One Preparer serves every chunk of a local sweep, so a target path is computed once, not
    once per chunk; the cache is bounded (a 100,000-point band axis has 100,000 triggers)."""

    MAX_CACHED = 4096

    def __init__(self, market: Market) -> None:
        self.market = market
        self.cache: dict[tuple[str, Hashable], Any] = {}
        self.built: dict[Hashable, Strategy] = {}  # strategies built ahead (by the axis checks)

    def remember(self, frozen: Hashable, strategy: Strategy) -> None:
        """Keep a strategy built for configuration ``frozen`` (`freeze_config`) until its chunk
        is prepared: the axis checks of a one-axis sweep build every configuration once already."""
        if len(self.built) < self.MAX_CACHED:
            self.built[frozen] = strategy

    def strategy(self, base: Mapping[str, Any], config: Mapping[str, Any], frozen: Hashable) -> Strategy:
        s = self.built.pop(frozen, None)
        return s if s is not None else build_strategy(**{**base, **config})

    def _get(
        self,
        component: str,
        frozen: tuple[tuple[str, Hashable], ...],
        make: Callable[[], Any],
        skip: frozenset[str] = frozenset(),
    ) -> Any:
        skip = IRRELEVANT[component] | skip if skip else IRRELEVANT[component]
        key = (component, tuple([item for item in frozen if item[0] not in skip]))
        value = self.cache.get(key)
        if value is None:
            if len(self.cache) >= self.MAX_CACHED:
                self.cache.clear()
            value = self.cache[key] = make()
        return value

    def components(self, s: Strategy, frozen: tuple[tuple[str, Hashable], ...]) -> tuple[Any, ...]:
        """(target path, TriggerProgram, PlanSpec, CostArrays, quote) for strategy ``s`` of the
        configuration ``frozen`` (`freeze_config`); False for a trigger or plan only the Python
        engine runs."""
        m = self.market
        targets = self._get(
            "target", frozen, lambda: check_weight_path(s.target.path(m), m, f"target {s.target.describe()}")
        )
        program = self._get("trigger", frozen, lambda: compile_trigger(s.trigger, m) or False)
        plan = self._get(
            "plan",
            frozen,
            lambda: with_constraints(s.planner.encode(m.assets), s.target, m) or False,
            frozenset(_TRIGGER) if type(s.planner) is Full else frozenset(),
        )  # Full ignores the band
        costs = self._get("costs", frozen, lambda: compile_costs(s.costs, m))
        quote = m.asset_index(s.cash) if s.cash else -1
        return targets, program, plan, costs, quote

    def treasury(self, s: Strategy, frozen: tuple[tuple[str, Hashable], ...]) -> tuple[Any, Any, Any]:
        """(YieldArrays | None, FlowSchedule | None, ScaledWalk | None) of strategy ``s``: an axis
        over band widths encodes the yields and flows once, not once per configuration. The
        scaled walk is the one unsigned yields would take (`prepare` keeps it only for them)."""
        from ballast.engine.treasury import scaled_walk

        m = self.market
        yields = self._get("yields", frozen, lambda: s.yields.encode(m, s.cash) if s.yields else False)
        flows = self._get("flows", frozen, lambda: s.flows.encode(m, s.cash) if s.flows else False)
        scaled = (
            self._get(
                "scaled", frozen, lambda: scaled_walk(m.prices, yields._replace(signed=0), flows or None) or False
            )
            if yields
            else False
        )
        return yields or None, flows or None, scaled or None


class _Serial(threading.local):
    """Whether this thread runs chunks one configuration after another: a local sweep's worker
    threads do (`use_serial_kernel`); elsewhere a chunk uses numba's threads."""

    on = False


SERIAL = _Serial()


def use_serial_kernel() -> None:
    """Make this thread's chunks run in this thread alone (a thread pool's initializer)."""
    SERIAL.on = True


def freeze_config(config: Mapping[str, Any]) -> tuple[tuple[str, Hashable], ...]:
    return tuple((k, freeze(v)) for k, v in config.items())


def describe_config(config: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in config.items()) or "the base strategy"


def prepare_configs(
    market: Market,
    base: Mapping[str, Any],
    configs: Sequence[Mapping[str, Any]],
    preparer: Preparer | None = None,
    equity: np.ndarray | None = None,
) -> Callable[[], np.ndarray]:
    """The Python half of `run_configs`: build and pool every configuration, and return the
    compiled half as a call. The call releases the GIL, so a local sweep prepares the next chunk
    while this one runs."""
    from ballast.engine.valuation import target_returns

    prep = preparer or Preparer(market)
    rows: list[tuple[Any, ...]] = []
    capital = np.empty(len(configs))
    convention = np.empty(len(configs), np.int64)
    quote = np.empty(len(configs), np.int64)
    strategies = []
    for c, config in enumerate(configs):
        try:
            frozen = freeze_config(config)
            s = prep.strategy(base, config, frozen)
            parts = prep.components(s, frozen)
        except (ValueError, KeyError, TypeError) as exc:
            msg = exc.args[0] if exc.args else str(exc)
            raise InputError(f"sweep configuration {describe_config(config)}: {msg}") from None
        rows.append(parts)
        strategies.append(s)
        capital[c] = float(s.capital)
        convention[c] = CONVENTION_CODES[s.convention]
        quote[c] = parts[4]
    if not rows:
        return lambda: np.empty((0, 0))
    if needs_python(rows):  # a Freeze/Hold reaction or a user-defined piece: one backtest each
        return single_configs(market, strategies, equity)
    walked, treasury = market.prices, None
    if has_treasury(strategies):  # yields or flows: pooled when the configurations share them
        books = [
            (*parts, *prep.treasury(s, freeze_config(c))) for parts, s, c in zip(rows, strategies, configs, strict=True)
        ]
        shared = shared_treasury(market, strategies, books)
        if shared is None:  # one compiled backtest per configuration
            return treasury_configs(market, strategies, books, equity)
        walked, treasury = shared
    one: dict[int, tuple[np.ndarray]] = {}  # one record per target path (pool() dedupes records)
    tgt = pool([one.setdefault(id(r[0]), (r[0],)) for r in rows], ("targets",))
    target_r = np.stack([target_returns(path, market.prices) for path in tgt.pools[0]])
    args = (
        walked,
        _args(tgt),
        target_r,
        _args(pool([r[1] for r in rows], TriggerProgram._fields)),
        _args(pool([r[2] for r in rows], PlanSpec._fields)),
        _args(pool([r[3] for r in rows], CostArrays._fields)),
        quote,
        convention,
        capital,
        float(market.periods_per_year),
        np.empty((0, 0)) if equity is None else equity,
        treasury,
    )

    def call() -> np.ndarray:
        from numba import set_parallel_chunksize

        from ballast.sweep.kernel import sweep_kernel, sweep_kernel_serial

        metrics: np.ndarray
        if SERIAL.on:
            metrics = sweep_kernel_serial(*args)
            return metrics
        # Dynamic scheduling, a few configurations at a time: a narrow band costs several times a
        # wide one and neighbours cost alike, so equal static slices would leave a thread idle.
        # (The chunk size is per thread: set it in the thread that launches the kernel.)
        previous = set_parallel_chunksize(4)
        try:
            metrics = sweep_kernel(*args)
            return metrics
        finally:
            set_parallel_chunksize(previous)

    return call


def run_configs(
    market: Market,
    base: Mapping[str, Any],
    configs: Sequence[Mapping[str, Any]],
    preparer: Preparer | None = None,
    equity: np.ndarray | None = None,
) -> np.ndarray:
    """Metrics (len(configs) × METRIC_NAMES) of ``base`` updated by each configuration; with
    ``equity`` (len(configs) × T) the equity paths are written there too."""
    return prepare_configs(market, base, configs, preparer, equity)()


def _args(p: Pooled) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    return p.pools, p.idx, p.length
