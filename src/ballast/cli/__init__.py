"""The ``ballast`` command: one module per command group, registered here in the order of ``--help``.

User mistakes (bad files, fields, prices, ledger addresses) print one ``error: …`` line and exit 2
(`errors.user_mistakes`); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ballast.cli import backtest, demo, flow, hedge, ledger, leverage, liquidity, live, proposals, stress, study, sweep
from ballast.cli.output import err
from ballast.cli.strategy_input import resolve_strategy

# Help texts are plain text: "[live]" and "[sweep]" name TOML sections, they are not rich markup.
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="ballast: dynamic asset rebalancing — backtest, sweep and run a strategy.",
)


def _version(value: bool) -> None:
    if value:
        from ballast import __version__

        print(f"ballast {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """ballast: dynamic asset rebalancing — backtest, sweep and run a strategy."""


app.command()(backtest.backtest)
app.command()(backtest.report)
app.command()(live.serve)
app.command()(demo.datasets)
app.command()(demo.demo)
for command in (live.run, live.status, live.approve, live.reject, live.pause, live.resume):
    app.command()(command)
app.add_typer(flow.app, name="flow")
app.add_typer(proposals.app, name="proposals")
app.add_typer(ledger.app, name="ledger")
app.command()(sweep.sweep)
app.add_typer(study.app, name="study")
app.add_typer(hedge.app, name="hedge")
app.command()(stress.stress)
app.add_typer(leverage.app, name="leverage")
app.command(name="lp-sweep")(liquidity.lp_sweep)


def main() -> None:
    """The console entry point (``[project.scripts]``): Ctrl-C is a quiet exit 130."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


__all__ = ["app", "main", "resolve_strategy"]
