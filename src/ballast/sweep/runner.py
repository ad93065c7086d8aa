"""Running a grid: chunks of configurations (sweep/chunks.py) through an executor, rows into a sink.

The same `run_chunk` runs in this process (sweep/local.py) or on Dask workers
(sweep/distributed.py), so a distributed sweep is the local sweep row for row. Chunks keep memory
bounded (only a chunk's pools and metrics exist at once), let a progress bar move, and let Ctrl-C
keep the rows already finished.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ballast.enums import METRIC_NAMES
from ballast.market import Market
from ballast.strategy import parse_target
from ballast.sweep.batch import Preparer, freeze_config
from ballast.sweep.chunks import Executor, Job, Progress, chunks, default_chunk
from ballast.sweep.grid import Grid
from ballast.sweep.local import LocalExecutor
from ballast.sweep.robust import Bootstrap, WalkForward, evaluate_window, window

MIN_LOCAL_CHUNK = 64  # smaller local sweeps run as one chunk


class FrameSink:
    """Collects rows in memory and returns them as one DataFrame (and the equity paths, if kept:
    a DataFrame dates × config)."""

    def __init__(self, index: pd.Index | None = None) -> None:
        self.parts: dict[int, pd.DataFrame] = {}
        self.paths: dict[int, np.ndarray] = {}
        self.index = index

    def add(self, start: int, frame: pd.DataFrame, paths: np.ndarray | None = None) -> None:
        self.parts[start] = frame
        if paths is not None:
            self.paths[start] = paths

    def close(self) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
        table = (
            pd.concat([self.parts[k] for k in sorted(self.parts)], ignore_index=True) if self.parts else pd.DataFrame()
        )
        if not self.paths:
            return table
        equity = np.vstack([self.paths[k] for k in sorted(self.paths)])
        return table, pd.DataFrame(equity.T, index=self.index, columns=table["config"].to_numpy())


class ParquetSink:
    """Streams rows to one Parquet file in grid order; chunks finished early wait in a buffer.

    ``close`` writes whatever is finished, in order, even after an interruption (the ``config``
    column then shows which rows are missing).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.pending: dict[int, pd.DataFrame] = {}
        self.next = 0
        self.writer: Any = None
        self.rows = 0

    def _write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table.cast(self.writer.schema))
        self.rows += len(frame)

    def add(self, start: int, frame: pd.DataFrame) -> None:
        self.pending[start] = frame
        while self.next in self.pending:
            part = self.pending.pop(self.next)
            self._write(part)
            self.next += len(part)

    def close(self) -> Path:
        for k in sorted(self.pending):
            self._write(self.pending.pop(k))
        if self.writer is None:
            self._write(pd.DataFrame({"config": np.array([], np.int64)}))
        self.writer.close()
        return self.path


def frame(job: Job, start: int, stop: int, values: np.ndarray) -> pd.DataFrame:
    """Rows [start, stop): config number, one column per axis, then the metric columns."""
    cols: dict[str, Any] = {"config": np.arange(start, stop, dtype=np.int64)}
    cols.update(job.grid.columns(start, stop))
    for j, name in enumerate(job.metric_columns()):
        col = values[:, j]
        cols[name] = col.astype(np.int64) if name in ("n_rebalances", "n_trades") else col
    return pd.DataFrame(cols)


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold Ctrl-C until the block is done (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[object] = []
    previous = signal.signal(signal.SIGINT, lambda *args: caught.append(args))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def execute(
    market: Market,
    job: Job,
    sink: Any,
    executor: Executor | None = None,
    chunk_size: int | None = None,
    progress: Progress | None = None,
) -> Any:
    """Run every chunk into ``sink``; on Ctrl-C close the sink with the rows finished so far, re-raise."""
    total = job.grid.size
    first = None
    executor = executor or LocalExecutor()
    local = isinstance(executor, LocalExecutor)
    if chunk_size is None:
        chunk_size = default_chunk(market, job)
        # A few tasks per worker, so all of them work and the load balances; locally not too
        # small either, since each chunk has a fixed Python cost.
        slots = executor.slots() if hasattr(executor, "slots") else 1
        floor = MIN_LOCAL_CHUNK if local else 1
        chunk_size = max(1, min(chunk_size, max(floor, -(-total // (4 * slots)))))
        if total:  # equal chunks, no small last one
            chunk_size = -(-total // -(-total // chunk_size))
        if local and total > chunk_size:
            # A short first chunk: nothing overlaps building it, so the kernel starts sooner.
            first = max(MIN_LOCAL_CHUNK // 2, chunk_size // 4)
    tasks = chunks(total, chunk_size, first)
    done = 0
    if progress:
        progress(0, total)
    try:
        width = len(job.metric_columns())
        for k, values in executor.map(market, job, tasks):
            a, b = tasks[k]
            with deferred_interrupt():  # a finished chunk is stored whole, never half
                if job.paths:
                    sink.add(a, frame(job, a, b, values[:, :width]), values[:, width:])
                else:
                    sink.add(a, frame(job, a, b, values))
            done += b - a
            if progress:
                progress(done, total)
    except KeyboardInterrupt:
        sink.close()
        raise
    return sink.close()


def universe_for(grid: Grid, fixed: Mapping[str, Any], assets: list[str] | None) -> list[str] | None:
    """Assets to load: as given, else every asset any target value names (None = all)."""
    if assets:
        return list(assets)
    values = dict(grid.axes).get("target", (fixed.get("target", "equal"),))
    names: list[str] = []
    for v in values:
        named = parse_target(v).assets()
        if named is None:
            return None
        names.extend(a for a in named if a not in names)
    return names


def check_axes(
    grid: Grid, fixed: Mapping[str, Any], names: frozenset[str] | None = None, preparer: Preparer | None = None
) -> None:
    """Build a strategy for every value of every axis (or of the axes ``names``), so a bad value
    fails before any work, named by its axis and position. A ``preparer`` keeps what was built
    for the chunks (in a one-axis sweep, every configuration)."""
    from ballast.strategy import build_strategy

    first = grid.configs(0, 1)[0]
    for name, values in grid.axes:
        if names is not None and name not in names:
            continue
        for i, v in enumerate(values):
            config = {**first, name: v}
            try:
                s = build_strategy(**{**fixed, **config})
            except (ValueError, KeyError, TypeError) as exc:
                msg = exc.args[0] if exc.args else str(exc)
                raise ValueError(f"sweep axis {name}[{i}] = {v!r}: {msg}") from None
            if preparer is not None:
                preparer.remember(freeze_config(config), s)


def prepare_sweep(
    prices: Any,
    keywords: Mapping[str, Any],
    zip_axes: bool,
    data: Mapping[str, Any],
    bootstrap: Bootstrap | None = None,
    deferred: list[Callable[[Preparer], None]] | None = None,
) -> tuple[Market, Job]:
    """The market and the job for ``keywords`` (list values are axes); checks every axis value.

    With ``deferred`` (a list) only the target axis is checked here (it decides which assets to
    load); the check of the others is appended for the caller to run while the first chunk
    computes (`LocalExecutor`): on a 1,000-value axis it is a few percent of the sweep."""
    from ballast.engine.backtest import to_market
    from ballast.stable_reserve import ideal_columns

    grid, fixed = Grid.from_keywords(keywords, zip_axes)
    if deferred is None:
        check_axes(grid, fixed)
    else:
        check_axes(grid, fixed, frozenset({"target"}))
        deferred.append(partial(check_axes, grid, fixed, frozenset(n for n, _ in grid.axes) - {"target"}))
    market = to_market(
        prices,
        fixed.get("cash"),
        data.get("relatives", False),
        data.get("fill"),
        data.get("periods_per_year"),
        data.get("start"),
        data.get("end"),
        universe_for(grid, fixed, data.get("assets")),
        ideal_columns(fixed.get("pegs")),
    )
    return market, Job(dict(fixed), grid, bootstrap)


def sweep(
    prices: Any,
    *,
    zip: bool = False,  # noqa: A002
    relatives: bool = False,
    fill: str | None = None,
    periods_per_year: float | None = None,
    start: str | None = None,
    end: str | None = None,
    assets: list[str] | None = None,
    bootstrap: int = 0,
    block: int = 20,
    seed: int = 0,
    chunk_size: int | None = None,
    out: str | Path | None = None,
    client: Any = None,
    progress: Progress | None = None,
    paths: bool = False,
    **keywords: Any,
) -> pd.DataFrame | Path | tuple[pd.DataFrame, pd.DataFrame]:
    """Backtest every configuration of a grid; one row per configuration.

    Keywords are those of ``ballast.backtest``; any given as a list/array is an axis (the product
    of all axes, or position by position with ``zip=True``). ``bootstrap=N`` adds p5/median/p95
    of every metric over N block-bootstrap paths (``block`` periods, ``seed``). ``out`` streams
    rows to a Parquet file and returns its path; ``client`` (a ``distributed.Client``) runs the
    chunks on a Dask cluster. Paths are not kept unless ``paths=True``: then the result is
    ``(table, equity)`` with equity a dates × config DataFrame (in memory: C × T floats).
    """
    if paths and (out is not None or bootstrap):
        raise ValueError("paths=True keeps equity paths in memory; it cannot be combined with out= or bootstrap=")
    spec = Bootstrap(bootstrap, block, seed) if bootstrap else None
    checks: list[Callable[[Preparer], None]] | None = [] if client is None else None
    market, job = prepare_sweep(
        prices,
        keywords,
        zip,
        dict(relatives=relatives, fill=fill, periods_per_year=periods_per_year, start=start, end=end, assets=assets),
        spec,
        checks,
    )
    if paths:
        job = replace(job, paths=True)
    sink = ParquetSink(Path(out)) if out is not None else FrameSink(market.index)
    return execute(market, job, sink, executor_for(client) or LocalExecutor(checks or ()), chunk_size, progress)


def executor_for(client: Any) -> Executor | None:
    if client is None:
        return None
    from ballast.sweep.distributed import DaskExecutor

    return DaskExecutor(client)


def walk_forward_market(
    market: Market,
    job: Job,
    wf: WalkForward,
    executor: Executor | None = None,
    chunk_size: int | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """One row per window: the configuration chosen on training data and its test-window metrics."""
    wins = list(wf.windows(market.n_periods))
    if not wins:
        raise ValueError(
            f"walk-forward needs at least train + test = {wf.train + wf.test} periods; "
            f"the prices have {market.n_periods}"
        )
    total = len(wins) * job.grid.size
    rows = []
    for w, (a, b, c) in enumerate(wins):

        def step(done: int, _n: int, w: int = w) -> None:
            if progress:
                progress(w * job.grid.size + done, total)

        train = execute(window(market, a, b), job, FrameSink(), executor, chunk_size, step)
        best = wf.choose(train[wf.metric].to_numpy(dtype=np.float64))
        config = job.grid.configs(best, best + 1)[0]
        test = evaluate_window(window(market, b, c), job.base, config)
        row: dict[str, Any] = {
            "window": w,
            "train_start": market.index[a],
            "train_end": market.index[b - 1],
            "test_start": market.index[b],
            "test_end": market.index[c - 1],
            "config": best,
        }
        row.update({name: train[name].iloc[best] for name in job.grid.names})
        row[f"train_{wf.metric}"] = train[wf.metric].iloc[best]
        row.update(dict(zip(METRIC_NAMES, test, strict=True)))
        rows.append(row)
    return pd.DataFrame(rows)


def walk_forward(
    prices: Any,
    *,
    train: int,
    test: int,
    step: int | None = None,
    metric: str = "sharpe",
    minimize: bool | None = None,
    zip: bool = False,  # noqa: A002
    client: Any = None,
    chunk_size: int | None = None,
    relatives: bool = False,
    fill: str | None = None,
    periods_per_year: float | None = None,
    start: str | None = None,
    end: str | None = None,
    assets: list[str] | None = None,
    **keywords: Any,
) -> pd.DataFrame:
    """Rolling walk-forward over the grid given by list-valued ``keywords`` (see `sweep`)."""
    wf = WalkForward(train, test, step, metric, minimize)
    market, job = prepare_sweep(
        prices,
        keywords,
        zip,
        dict(relatives=relatives, fill=fill, periods_per_year=periods_per_year, start=start, end=end, assets=assets),
    )
    return walk_forward_market(market, job, wf, executor_for(client), chunk_size)
