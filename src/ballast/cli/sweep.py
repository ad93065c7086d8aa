"""``ballast sweep``: run a strategy file's grid with a progress bar, locally or on Dask."""

from __future__ import annotations

import time
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ballast.cli.errors import user_mistakes
from ballast.cli.output import console as stdout
from ballast.enums import MINIMISED_METRICS
from ballast.errors import InputError

if TYPE_CHECKING:  # numpy, pandas, numba and the sweep load when a sweep runs, not with the CLI
    import pandas as pd

    from ballast.sweep.runner import ParquetSink


@user_mistakes
def sweep(
    strategy_file: Annotated[Path, typer.Argument(help="Strategy TOML with a [sweep] section.")],
    out: Annotated[
        Path, typer.Option(help="Parquet file for the results (streamed, one row per configuration).")
    ] = Path("sweep.parquet"),
    workers: Annotated[int | None, typer.Option(help="Start a local Dask cluster with N worker processes.")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Use an existing Dask cluster, e.g. tcp://10.0.0.5:8786.")
    ] = None,
    bootstrap: Annotated[
        int | None, typer.Option(help="Block-bootstrap paths per configuration (p5/median/p95).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the bootstrap paths.")] = None,
    walk_forward: Annotated[
        bool, typer.Option("--walk-forward", help="Choose on rolling training windows, report the next.")
    ] = False,
    train: Annotated[int | None, typer.Option(help="Walk-forward training window, periods.")] = None,
    test: Annotated[int | None, typer.Option(help="Walk-forward test window, periods.")] = None,
    metric: Annotated[str | None, typer.Option(help="Metric that picks the best configuration.")] = None,
    chunk_size: Annotated[int | None, typer.Option(help="Configurations per chunk/task.")] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write the cost/tracking-error frontier here (HTML, plus PNG).")
    ] = None,
) -> None:
    """Backtest every configuration of the file's [sweep] grid; Ctrl-C keeps finished rows."""
    code = run_sweep_command(
        strategy_file,
        out,
        stdout,
        workers,
        scheduler,
        bootstrap,
        seed,
        walk_forward,
        train,
        test,
        metric,
        chunk_size,
        plot,
    )
    if code:
        raise typer.Exit(code)


class Best:
    """Passes rows to a sink and remembers the best row by ``metric`` (for the summary)."""

    def __init__(self, sink: ParquetSink, metric: str) -> None:
        self.sink, self.metric = sink, metric
        self.row: pd.Series | None = None
        self.sign = 1.0 if metric in MINIMISED_METRICS else -1.0

    def add(self, start: int, frame: pd.DataFrame) -> None:
        import numpy as np

        self.sink.add(start, frame)
        v = self.sign * frame[self.metric].to_numpy(dtype=np.float64)
        if np.isnan(v).all():
            return
        k = int(np.nanargmin(v))
        if self.row is None or v[k] < self.sign * float(self.row[self.metric]):
            self.row = frame.iloc[k]

    def close(self) -> Path:
        return self.sink.close()


def progress_bar(console: Console) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("configs"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def run_sweep_command(
    strategy_file: Path,
    out: Path,
    console: Console,
    workers: int | None = None,
    scheduler: str | None = None,
    bootstrap: int | None = None,
    seed: int | None = None,
    walk_forward: bool = False,
    train: int | None = None,
    test: int | None = None,
    metric: str | None = None,
    chunk_size: int | None = None,
    plot: Path | None = None,
) -> int:
    """Run the sweep; returns the process exit code (130 after Ctrl-C, with finished rows written)."""
    from ballast.config.sweep import load_sweep
    from ballast.sweep.runner import ParquetSink, execute, executor_for, prepare_sweep, walk_forward_market

    spec = load_sweep(strategy_file)
    if walk_forward and (bootstrap or spec.section.bootstrap):
        raise InputError("--walk-forward and --bootstrap cannot be combined; run them separately")
    if seed is not None and not bootstrap and spec.section.bootstrap is None:
        raise InputError("--seed sets the bootstrap's seed: give --bootstrap N (or [sweep.bootstrap]) too")
    if workers is not None and scheduler:
        raise InputError("give either --workers (a local cluster) or --scheduler (an existing one), not both")
    data = spec.strategy.data.model_dump()
    data["prices"] = spec.strategy.prices_path()
    if data.pop("dayfirst"):  # DD/MM/YYYY dates ([data] dayfirst): the sweep gets the dated table
        from ballast.data.loaders import read_dated

        data["prices"] = read_dated(data["prices"], dayfirst=True)
    bs = None if walk_forward else spec.bootstrap(bootstrap, seed)
    market, job = prepare_sweep(data["prices"], spec.keywords(), spec.section.mode == "zip", data, bs)
    chunk = chunk_size or spec.section.chunk_size
    metric = metric or spec.section.metric
    wf = spec.walk_forward(train, test, metric) if walk_forward else None
    console.print(
        f"[bold]{job.grid.size:,}[/] configurations × {market.n_periods:,} periods × "
        f"{market.n_assets} assets"
        + (f", {bs.n} bootstrap paths (seed {bs.seed})" if bs else "")
        + (f", walk-forward {wf.train}/{wf.test} by {wf.metric}" if wf else "")
    )
    t0 = time.perf_counter()
    with ExitStack() as stack:
        client = None
        if workers is not None or scheduler:
            from ballast.sweep.distributed import dask_client

            with console.status("starting Dask…") if scheduler is None else nullcontext():
                client = stack.enter_context(dask_client(workers, scheduler))
            console.print(
                f"Dask: {len(client.scheduler_info().get('workers', {}))} workers at {client.scheduler.address}"
            )
        bar = stack.enter_context(progress_bar(console))
        label = "walk-forward" if wf else "sweep"
        # Until the first chunk is back the kernel may be compiling (first use: up to a minute).
        task = bar.add_task(f"{label} (first chunk; compiles once)", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, **({"description": label} if done else {}))

        if wf is not None:
            try:
                table = walk_forward_market(market, job, wf, executor_for(client), chunk, progress)
            except KeyboardInterrupt:
                console.print("[yellow]interrupted[/]: walk-forward windows are not written until all finish")
                return 130
            out.parent.mkdir(parents=True, exist_ok=True)
            table.to_parquet(out, index=False)
            bar.stop()
            from ballast.report.terminal import walk_forward_table

            console.print(walk_forward_table(table, list(job.grid.names), wf.metric))
            console.print(f"wrote {len(table)} windows to {out} in {time.perf_counter() - t0:.1f} s")
            return 0
        best = Best(ParquetSink(out), metric)
        try:
            execute(market, job, best, executor_for(client), chunk, progress)
        except KeyboardInterrupt:
            bar.stop()
            console.print(
                f"[yellow]interrupted[/]: kept {best.sink.rows:,} finished rows of {job.grid.size:,} in {out}"
            )
            return 130
    console.print(f"wrote {best.sink.rows:,} rows to {out} in {time.perf_counter() - t0:.1f} s")
    if best.row is not None:
        params = escape(", ".join(f"{k}={best.row[k]}" for k in job.grid.names))
        console.print(
            f"best by {metric}: {params}  ({metric} = {float(best.row[metric]):.6g}, config {int(best.row['config'])})"
        )
    if plot is not None:
        import pandas as pd

        from ballast.report.frontier import write_frontier

        frame = pd.read_parquet(out)
        try:
            written = write_frontier(frame, plot, metric=metric, params=list(job.grid.names))
        except InputError as exc:  # the HTML is written; only the PNG needs a browser
            console.print(f"[yellow]frontier: {escape(str(plot))} written; no PNG[/]: {escape(str(exc))}")
        else:
            console.print(f"frontier: {', '.join(map(str, written))}")
    return 0
