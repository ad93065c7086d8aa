"""``ballast leverage thresholds``: which repay/boost band to keep on a loan, and what it costs."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from ballast.cli.errors import user_mistakes
from ballast.cli.output import announce_compile, console
from ballast.cli.strategy_input import resolve_strategy

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Loans: choose the health band of a loan.")

SHOWN = (
    ("p_liquidation", "liquidation probability a year (bootstrap)", "{:.2%}"),
    ("p_gbm", "  same, GBM closed form, sitting at repay_below", "{:.4%}"),
    ("carry", "carry a year (net of interest)", "{:+.2%}"),
    ("penalty", "expected liquidation penalty a year", "{:.2%}"),
    ("costs", "repay/boost costs a year (fees, gas)", "{:.2%}"),
    ("score", "carry − penalty − costs", "{:+.2%}"),
    ("interest", "interest a year", "{:.2%}"),
    ("history_liquidations", "liquidations on the real history", "{:d}"),
    ("n_repays", "repays / boosts on the real history", None),
)


@app.command("thresholds")
@user_mistakes
def thresholds_command(
    strategy_file: Annotated[Path, typer.Argument(help="A strategy TOML with one [[loans]] table.")],
    paths: Annotated[int, typer.Option(help="Block-bootstrap paths for the probabilities (0: history only).")] = 10,
    block: Annotated[int, typer.Option(help="Bootstrap block length, in periods.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    max_probability: Annotated[
        float, typer.Option(help="Highest liquidation probability a year the recommended band may have.")
    ] = 0.05,
    out: Annotated[Path, typer.Option("--out", "-o", help="The frontier figure (HTML).")] = Path(
        "leverage-frontier.html"
    ),
    csv: Annotated[Path | None, typer.Option(help="Also write every band's numbers to this CSV file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the recommended band as JSON.")] = False,
) -> None:
    """Sweep 1,000 repay/boost bands of the file's loan over its history and bootstrap resamplings;
    print the band with the best carry − expected liquidation penalty − costs among those liquidated
    at most --max-probability a year, and write the frontier (liquidation probability vs cost)."""
    from ballast.engine.backtest import strategy_market
    from ballast.leverage import thresholds
    from ballast.report.leverage_figures import write_band_frontier

    strategy, data = resolve_strategy(strategy_file, {})
    market = strategy_market(
        data["prices"],
        strategy,
        data["relatives"],
        data["fill"],
        data.get("periods_per_year"),
        data.get("start"),
        data.get("end"),
        data.get("assets"),
    )
    announce_compile()
    with console.status("sweeping the health bands…", spinner="dots") if not as_json else nullcontext():
        result = thresholds(strategy, market, n_paths=paths, block=block, seed=seed, max_probability=max_probability)
    written = write_band_frontier(result.table, result.recommended, out)
    if csv is not None:
        result.table.to_csv(csv, index=False)
    best = result.recommended
    if as_json:
        print(json.dumps({**{k: _plain(v) for k, v in best.items()}, "frontier": str(written)}))
        return
    console.print(
        f"[bold]recommended band[/] (of {len(result.table):,}; σ {result.sigma:.0%} a year, "
        f"{result.years:.1f} years, {result.n_paths} bootstrap paths):"
    )
    console.print(
        f"  repay below {best['repay_below']:.2f} back to {best['repay_to']:.2f}; "
        f"boost above {best['boost_above']:.2f} back to {best['boost_to']:.2f}",
        highlight=False,
    )
    for key, text, form in SHOWN:
        if form is None:
            value = f"{int(best['n_repays'])} / {int(best['n_boosts'])}"
        else:
            value = form.format(int(best[key]) if form == "{:d}" else float(best[key]))
        console.print(f"  {text:<48} {value}", highlight=False)
    console.print(f"frontier: {written}" + (f"; every band: {csv}" if csv is not None else ""), highlight=False)


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value
