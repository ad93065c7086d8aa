"""``ballast demo`` (the main job end to end on bundled data) and ``ballast datasets``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ballast.cli.errors import user_mistakes
from ballast.cli.output import announce_compile, console


def datasets() -> None:
    """List the datasets bundled with ballast (usable as --prices NAME)."""
    from rich.table import Table

    from ballast.data.bundled import DATASETS

    table = Table("name", "description", "source", title="bundled datasets", title_justify="left")
    for d in DATASETS.values():
        table.add_row(d.name, d.description, d.source)
    console.print(table)


@user_mistakes
def demo(
    out: Annotated[Path, typer.Option(help="Where the report, CSVs and the demo ledger go.")] = Path("demo-out"),
    live_days: Annotated[int, typer.Option(help="Days of history to replay through the live service (0: skip).")] = 365,
) -> None:
    """The main job on bundled real data: backtest the DAO treasury (yields, spend, revenue), write
    its report with the yield, flow and runway panels, and replay the last year of the treasury
    strategy through the live service (paper broker) into a ledger for the dashboard."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ballast.config import load_strategy_file
    from ballast.data.bundled import demo_strategy_path, treasury_example_path
    from ballast.engine.backtest import backtest as run
    from ballast.report.files import make_folder
    from ballast.report.terminal import print_summary

    path = demo_strategy_path()
    cfg = load_strategy_file(treasury_example_path())
    make_folder(out)
    announce_compile()
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(
            "compiling the engine and backtesting the DAO treasury on bundled crypto data", total=None
        )
        result = run(cfg.prices_path(), cfg.to_strategy(), start=cfg.data.start, end=cfg.data.end)
        result.metrics  # noqa: B018
        result.baseline  # noqa: B018
        progress.update(task, description="writing the report")
        files = result.write_csv(str(out))
        report_path = write_report_file(result, out / "report.html")
        progress.remove_task(task)
        db = replay_demo_ledger(path, out, live_days, progress) if live_days > 0 else None
    print_summary(result, console)
    console.print(f"CSV: {', '.join(files)}")
    if report_path is not None:
        console.print(f"[bold]report:[/] {report_path}")
    if db is not None:
        console.print(
            f"[bold]ledger:[/] {db} — the last {live_days} days replayed through the live service; "
            f"see it with [bold]ballast status --db {db}[/] or the dashboard: "
            f"[bold]ballast serve --db {db} --strategy {path.resolve()}[/]"
        )


def write_report_file(result: Any, path: Path) -> Path | None:
    """The HTML tearsheet, or None when the report dependencies are missing."""
    try:
        from ballast.report.html import write_tearsheet
    except ImportError:
        return None
    written: Path = write_tearsheet([result], path)
    return written


def replay_demo_ledger(strategy_file: Path, out: Path, days: int, progress: Any) -> Path:
    """Replay the last ``days`` closes of the strategy's prices through the live service (paper)."""
    from ballast.config import load_strategy_file
    from ballast.data.loaders import load_prices
    from ballast.live.location import DEFAULT_LEDGER
    from ballast.live.service import RunSettings, open_service, strategy_assets

    cfg = load_strategy_file(strategy_file)
    assets = list(strategy_assets(cfg, cfg.to_strategy()))
    prices = load_prices(cfg.prices_path(), assets=assets).iloc[-days:]
    replay = out / "replay.csv"
    prices.rename_axis("date").to_csv(replay)
    db = out / DEFAULT_LEDGER
    db.unlink(missing_ok=True)  # the demo's own ledger: start it afresh
    settings = RunSettings(db=str(db), source="replay", executor="paper", speed="max", replay_file=str(replay))
    svc = open_service(str(strategy_file), settings)
    task = progress.add_task("replaying the last year through the live service (paper broker)", total=len(prices))
    svc.run(until_end=True, on_cycle=lambda _: progress.advance(task))
    return db
