"""Robustness: seeded block-bootstrap price paths and walk-forward windows.

A band width chosen on one history is one number; resampling blocks of that history's returns
gives each configuration a distribution, and walk-forward asks whether the parameters chosen on
one window still do well on the next.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ballast.engine.metrics import METRIC_NAMES
from ballast.enums import MINIMISED_METRICS
from ballast.market import Market
from ballast.sweep.batch import Preparer, run_configs

QUANTILES = (("p5", 5.0), ("median", 50.0), ("p95", 95.0))


@dataclass(frozen=True)
class Bootstrap:
    """``n`` paths of moving blocks of ``block`` periods of joint returns, from ``seed``."""

    n: int
    block: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"bootstrap needs at least 1 path, got {self.n}")
        if self.block < 1:
            raise ValueError(f"bootstrap block length must be >= 1 period, got {self.block}")

    def columns(self) -> list[str]:
        return [f"{m}_{q}" for m in METRIC_NAMES for q, _ in QUANTILES]


def bootstrap_market(market: Market, block: int, seed: int, path: int) -> Market:
    """Path ``path``: the first close, then blocks of whole return rows (all assets together, so
    their co-movement survives), drawn with ``default_rng([seed, path])`` — the same path whatever
    the chunking or the machine. Dates are kept, so calendars fire on the same closes."""
    rel = market.prices[1:] / market.prices[:-1]
    n = rel.shape[0]
    if block > n:
        raise ValueError(f"bootstrap block of {block} periods is longer than the {n} returns available")
    rng = np.random.default_rng([seed, path])
    starts = rng.integers(0, n - block + 1, size=-(-n // block))
    rows = (starts[:, None] + np.arange(block)).ravel()[:n]
    prices = market.prices[0] * np.cumprod(np.vstack([np.ones(market.n_assets), rel[rows]]), axis=0)
    return Market(prices, market.assets, market.index, market.periods_per_year)


def bootstrap_configs(
    market: Market, base: Mapping[str, Any], configs: Sequence[Mapping[str, Any]], spec: Bootstrap
) -> np.ndarray:
    """Per configuration: the metrics on the real path, then p5/median/p95 of each metric."""
    real = run_configs(market, base, configs)
    draws = np.empty((spec.n, len(configs), len(METRIC_NAMES)))
    for b in range(spec.n):
        draws[b] = run_configs(bootstrap_market(market, spec.block, spec.seed, b), base, configs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN metrics (e.g. calmar with no drawdown)
        q = np.nanpercentile(draws, [p for _, p in QUANTILES], axis=0)  # (3, C, M)
    return np.concatenate([real, q.transpose(1, 2, 0).reshape(len(configs), -1)], axis=1)


@dataclass(frozen=True)
class WalkForward:
    """Rolling windows: choose on ``train`` periods by ``metric``, report the next ``test`` periods."""

    train: int
    test: int
    step: int | None = None
    metric: str = "sharpe"
    minimize: bool | None = None

    def __post_init__(self) -> None:
        if self.metric not in METRIC_NAMES:
            raise ValueError(f"walk-forward metric must be one of {', '.join(METRIC_NAMES)}, got {self.metric!r}")
        for name in ("train", "test"):
            if getattr(self, name) < 2:
                raise ValueError(f"walk-forward {name} window must be >= 2 periods, got {getattr(self, name)}")
        if self.step is not None and self.step < 1:
            raise ValueError(f"walk-forward step must be >= 1 period, got {self.step}")

    @property
    def lower_is_better(self) -> bool:
        return self.metric in MINIMISED_METRICS if self.minimize is None else self.minimize

    def windows(self, n_periods: int) -> Iterator[tuple[int, int, int]]:
        """(train start, test start, test end) row numbers; the test window follows the training one."""
        step = self.step or self.test
        a = 0
        while a + self.train + self.test <= n_periods:
            yield a, a + self.train, a + self.train + self.test
            a += step

    def choose(self, values: np.ndarray) -> int:
        """The best configuration (first on ties); NaN never wins."""
        v = np.where(np.isnan(values), np.inf if self.lower_is_better else -np.inf, values)
        if np.all(np.isnan(values)):
            raise ValueError(f"walk-forward: {self.metric} is undefined for every configuration in a training window")
        return int(np.argmin(v) if self.lower_is_better else np.argmax(v))


def window(market: Market, a: int, b: int) -> Market:
    return Market(market.prices[a:b], market.assets, market.index[a:b], market.periods_per_year)


def evaluate_window(market: Market, base: Mapping[str, Any], config: Mapping[str, Any]) -> np.ndarray:
    """Metrics of one configuration on one window (the same kernel as the sweep)."""
    row: np.ndarray = run_configs(market, base, [config], Preparer(market))[0]
    return row
