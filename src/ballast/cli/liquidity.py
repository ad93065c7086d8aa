"""``ballast lp-sweep``: a liquidity position's range and reset parameters swept, and the frontier
of fees − LVR − gas against the range width (docs/liquidity.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ballast.cli.errors import user_mistakes
from ballast.cli.output import announce_compile, console
from ballast.errors import InputError


@user_mistakes
def lp_sweep(
    strategy_file: Annotated[
        Path, typer.Argument(help="Strategy TOML file with a [[positions]] table and its sweep axes.")
    ],
    out: Annotated[Path, typer.Option(help="The table of configurations (CSV).")] = Path("lp-sweep.csv"),
    plot: Annotated[Path | None, typer.Option(help="Write the frontier figure (HTML) here.")] = None,
) -> None:
    """Sweep the position's `sweep = { ... }` axes; print and write fees, LVR, gas and their net per width."""
    from rich.table import Table

    from ballast.cli.strategy_input import resolve_strategy
    from ballast.config import load_strategy_file
    from ballast.config.positions import sweep_provisions
    from ballast.engine.backtest import to_market, universe
    from ballast.sweep.liquidity import liquidity_sweep

    cfg = load_strategy_file(strategy_file)
    try:
        points = sweep_provisions(cfg.positions, strategy_file.parent)
    except InputError as exc:
        raise InputError(f"{strategy_file}: {exc}") from None
    strategy, d = resolve_strategy(strategy_file, {})
    market = to_market(
        d["prices"],
        strategy.cash,
        d["relatives"],
        d["fill"],
        d["periods_per_year"],
        d["start"],
        d["end"],
        universe(strategy, d["assets"]),
        strategy.pegs.ideal_columns() if strategy.pegs else None,
    )
    announce_compile()
    with console.status(f"running {len(points)} configurations..."):
        table = liquidity_sweep(market, strategy, points)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    view = Table(title=f"{cfg.name}: liquidity sweep", title_justify="left")
    columns = ("configuration", "mean_width", "lp_fees", "lp_lvr", "lp_gas", "lp_resets", "fees_minus_lvr_gas")
    for c in columns:
        view.add_column(c, justify="left" if c == "configuration" else "right")
    for row in table.to_dict("records"):
        view.add_row(
            str(row["configuration"]),
            f"{row['mean_width']:.1%}",
            *(f"{row[c]:,.0f}" for c in ("lp_fees", "lp_lvr", "lp_gas")),
            f"{int(row['lp_resets'])}",
            f"{row['fees_minus_lvr_gas']:,.0f}",
        )
    console.print(view)
    console.print(f"table: {out}")
    if plot is not None:
        from ballast.report.liquidity_figures import write_frontier_html

        console.print(f"frontier: {write_frontier_html(table, plot)}")
