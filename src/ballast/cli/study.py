"""``ballast study costs``: reproducible studies on the bundled data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ballast.cli.errors import user_mistakes
from ballast.cli.output import console

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Reproducible studies on the bundled data.")


@app.command("costs")
@user_mistakes
def study_costs(
    out: Annotated[Path, typer.Option(help="Folder for cost-study.csv/.md/.html/.png.")] = Path("cost-study"),
    end: Annotated[str | None, typer.Option(help="Stop the data at this date (quick runs).")] = None,
) -> None:
    """Calendar, band and cost-aware rules under CEX, mainnet-DEX and L2 costs, for 1 M and 100 M USD."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from ballast.report.study import n_runs, run_study, winners, write_study

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("compiling the engine…", total=n_runs())

        def step(label: str) -> None:
            progress.update(task, advance=1, description=label)

        df = run_study(step, end=end)
        progress.update(task, description="writing the table and the charts…")
        files = write_study(df, out)
    table = Table(
        "regime", "capital", "best final wealth", "cheapest", title="cost study: winners", title_justify="left"
    )
    for r in winners(df).itertuples(index=False):
        table.add_row(
            r.regime, f"{r.capital / 1e6:g} M", f"{r.best} ({r.wealth:.2f}×)", f"{r.cheapest} ({r.cheapest_costs:,.0f})"
        )
    console.print(table)
    console.print(f"wrote {', '.join(map(str, files))}")
