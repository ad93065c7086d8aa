"""A sweep's unit of work: a job (fixed keywords, grid, resampling) and chunks of its rows.

The same `run_chunk` runs in this process (sweep/local.py) or on Dask workers
(sweep/distributed.py), so a distributed sweep is the local sweep row for row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import numpy as np

from ballast.enums import METRIC_NAMES
from ballast.market import Market
from ballast.sweep.batch import Preparer, prepare_configs
from ballast.sweep.grid import Grid
from ballast.sweep.robust import Bootstrap, bootstrap_configs

# A chunk is sized so that configurations × periods × assets stays near this many asset-steps.
CHUNK_WORK = 25_000_000
MAX_CHUNK = 5_000

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Job:
    """What every chunk needs besides the prices: the fixed keywords, the grid, the resampling."""

    base: Mapping[str, Any]
    grid: Grid
    bootstrap: Bootstrap | None = None
    paths: bool = False  # also return every configuration's equity path

    def metric_columns(self) -> list[str]:
        return list(METRIC_NAMES) + (self.bootstrap.columns() if self.bootstrap else [])


def prepare_chunk(
    market: Market, job: Job, start: int, stop: int, preparer: Preparer | None = None
) -> Callable[[], np.ndarray]:
    """Rows [start, stop) of the grid, prepared: a call that returns their metric columns."""
    configs = job.grid.configs(start, stop)
    if job.bootstrap is not None:
        return partial(bootstrap_configs, market, job.base, configs, job.bootstrap)
    if job.paths:  # metrics, then the equity path, side by side
        equity = np.empty((len(configs), market.n_periods))
        metrics = prepare_configs(market, job.base, configs, preparer, equity)
        return lambda: np.hstack([metrics(), equity])
    return prepare_configs(market, job.base, configs, preparer)


def run_chunk(market: Market, job: Job, start: int, stop: int) -> np.ndarray:
    """Rows [start, stop) of the grid → their metric columns (the Dask task)."""
    return prepare_chunk(market, job, start, stop)()


def default_chunk(market: Market, job: Job) -> int:
    work = market.n_periods * market.n_assets * (1 + (job.bootstrap.n if job.bootstrap else 0))
    return int(max(1, min(MAX_CHUNK, CHUNK_WORK // max(work, 1))))


def chunks(total: int, size: int, first: int | None = None) -> list[tuple[int, int]]:
    """[start, stop) ranges of ``size`` rows; the first ``first`` rows long if given."""
    head = [(0, min(first, total))] if first else []
    start = head[0][1] if head else 0
    return head + [(a, min(a + size, total)) for a in range(start, total, size)]


class Executor(Protocol):
    def map(self, market: Market, job: Job, tasks: list[tuple[int, int]]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (task number, metrics) as tasks finish, in any order."""
