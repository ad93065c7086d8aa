"""The hedge in the terminal: this hedge against a fixed-interval hedge and no hedge."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from ballast.report.terminal import fmt

if TYPE_CHECKING:
    import pandas as pd

    from ballast.engine.result import Result

def hedge_table(comparison: "pd.DataFrame") -> Table:
    """`Result.hedge_comparison()` as a table: one column per variant, the lowest error and cost bold."""
    table = Table(title="hedge: error and cost against a fixed-interval hedge and no hedge", title_justify="left")
    table.add_column("metric")
    for column in comparison.columns:
        table.add_column(str(column), justify="right")
    for name, row in comparison.iterrows():
        table.add_row(str(name), *(fmt(str(name), float(v)) for v in row))
    return table


def print_hedge(result: "Result", console: Console) -> None:
    """The hedge line and its comparison table (runs the two comparison backtests)."""
    hedge = result.strategy.hedge
    if hedge is None:
        return
    console.print(f"[dim]hedge[/]  {hedge.describe()}", highlight=False)
    console.print(hedge_table(result.hedge_comparison()))
