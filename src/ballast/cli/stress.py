"""``ballast stress``: a strategy under a stress scenario, next to no reaction and buy-and-hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ballast.cli.errors import user_mistakes
from ballast.cli.output import console


@user_mistakes
def stress(
    strategy_file: Annotated[Path, typer.Argument(help="Strategy TOML file.")],
    scenario: Annotated[
        str, typer.Option(help="usdc-2023, ust-2022, eth-2020-03-12, ftx-2022 or a [[scenarios]] name.")
    ],
    at: Annotated[str | None, typer.Option(help="Move the scenario to start on this date.")] = None,
    as_: Annotated[list[str] | None, typer.Option("--as", help="Map a scenario asset onto yours: UST=USDC.")] = None,
    after: Annotated[int, typer.Option(help="Closes after the shock the comparison covers.")] = 30,
    out: Annotated[Path, typer.Option(help="Folder for the figure.")] = Path("reports"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Strategy vs no reaction vs buy-and-hold under a stress scenario (docs/pegs.md)."""
    from ballast.cli.stress_run import print_report, run_stress

    report, figure_path = run_stress(strategy_file, scenario, at, as_, after, out)
    if as_json:
        print(json.dumps({**report.as_dict(), "figure": str(figure_path)}, indent=2))
        return
    print_report(report, console)
    console.print(f"figure: {figure_path}")
