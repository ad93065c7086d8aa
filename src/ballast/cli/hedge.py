"""``ballast hedge frontier``: the cost-vs-hedge-error frontier of a strategy file's [hedge]."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ballast.cli.errors import user_mistakes
from ballast.cli.output import announce_compile, console
from ballast.errors import InputError

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Delta hedges with a perpetual future.")


def _numbers(text: str | None, field: str) -> list[float] | None:
    if text is None:
        return None
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--{field}: expected numbers separated by commas, got {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise InputError(f"--{field}: expected non-negative numbers separated by commas, got {text!r}")
    return values


@app.command("frontier")
@user_mistakes
def frontier(
    strategy_file: Annotated[Path, typer.Argument(help="Strategy TOML file with a [hedge] section.")],
    out: Annotated[Path, typer.Option(help="Folder for hedge-frontier.csv and hedge-frontier.html.")] = Path(
        "hedge-frontier"
    ),
    widths: Annotated[
        str | None, typer.Option(help="Band widths, e.g. 0.02,0.05,0.1 (default: by the band's kind).")
    ] = None,
    intervals: Annotated[str, typer.Option(help="Fixed-interval hedges to compare, in periods.")] = "1,2,3,7,14,30",
) -> None:
    """Backtest the hedge over band widths, fixed intervals and no hedge; write the frontier."""
    from rich.table import Table

    from ballast.cli.backtest import run_file_strategy
    from ballast.cli.strategy_input import resolve_strategy
    from ballast.report.hedge_figures import write_hedge_frontier
    from ballast.sweep.hedge import hedge_frontier

    width_list = _numbers(widths, "widths")
    interval_list = [int(k) for k in _numbers(intervals, "intervals") or ()]
    if any(k < 1 for k in interval_list):
        raise InputError(f"--intervals: every interval must be at least 1 period, got {intervals!r}")
    strategy, data = resolve_strategy(strategy_file, {})
    if strategy.hedge is None:
        raise InputError(f"{strategy_file}: no [hedge] section to sweep")
    announce_compile()
    with console.status("backtesting the hedge variants…", spinner="dots"):
        market = run_file_strategy(strategy, data).market
        frame = hedge_frontier(strategy, market, width_list, interval_list)
    try:
        out.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out / "hedge-frontier.csv", index=False)
        html = write_hedge_frontier(frame, out / "hedge-frontier.html", f"{strategy.name}: hedge frontier")
    except OSError as exc:
        raise InputError(f"cannot write into {out}: {exc.strerror or exc}") from None
    table = Table(
        "family", "parameter", "hedge error", "fees + slippage", "funding", "re-hedges", title="hedge frontier"
    )
    for r in frame.to_dict("records"):
        table.add_row(
            str(r["family"]),
            f"{r['parameter']:g}",
            f"{r['hedge_error']:.3g}",
            f"{r['trading_cost']:,.0f}",
            f"{r['hedge_funding']:,.0f}",
            f"{int(r['n_rehedges']):,}",
        )
    console.print(table)
    console.print(f"wrote {out / 'hedge-frontier.csv'}, {html}")
