"""``ballast backtest`` (one strategy, flags over the file) and ``ballast report`` (several files,
one tearsheet)."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ballast.cli.errors import user_mistakes
from ballast.cli.output import announce_compile, console, fail, png_warning, write_report
from ballast.cli.strategy_input import check_formed, file_report_options, resolve_strategy
from ballast.errors import InputError

if TYPE_CHECKING:
    from ballast.engine.result import Result
    from ballast.strategy import Strategy


@user_mistakes
def backtest(
    strategy_file: Annotated[Path | None, typer.Argument(help="Strategy TOML file (flags override it).")] = None,
    prices: Annotated[str | None, typer.Option(help="CSV/Parquet file or bundled dataset name.")] = None,
    relatives: Annotated[bool, typer.Option("--relatives", help="Rows are price relatives p[t]/p[t-1].")] = False,
    fill: Annotated[str | None, typer.Option(help="'forward' to carry the last price over gaps.")] = None,
    dayfirst: Annotated[bool, typer.Option("--dayfirst", help="Dates are DD/MM/YYYY.")] = False,
    target: Annotated[str | None, typer.Option(help="'equal' or A=0.5,B=0.5")] = None,
    rebalance: Annotated[str | None, typer.Option(help="never|daily|weekly|monthly|quarterly|yearly|N")] = None,
    band: Annotated[float | None, typer.Option(help="Band half-width (0.05 = 5 points or 5 %).")] = None,
    band_kind: Annotated[str | None, typer.Option(help="absolute|relative|hybrid")] = None,
    plan: Annotated[str | None, typer.Option(help="full|band-edge|cost-aware")] = None,
    risk_aversion: Annotated[
        float | None,
        typer.Option(
            help="cost-aware: value of reducing Σ(w−target)² by 1, as a fraction of the portfolio (default 0.05)."
        ),
    ] = None,
    fee_bps: Annotated[
        float | None, typer.Option(help="Proportional fee in basis points (replaces only [costs] fee_bps).")
    ] = None,
    fixed_cost: Annotated[
        float | None, typer.Option(help="Fixed cost per trade, currency (replaces only [costs] fixed).")
    ] = None,
    min_trade: Annotated[
        float | None, typer.Option(help="Skip smaller trades (replaces only [costs] min_trade).")
    ] = None,
    cash: Annotated[str | None, typer.Option(help="The cash/quote asset (added at price 1 if absent).")] = None,
    capital: Annotated[float | None, typer.Option(help="Starting value (default 1,000,000).")] = None,
    convention: Annotated[str | None, typer.Option(help="exact|bt accounting")] = None,
    allow_short: Annotated[bool, typer.Option("--allow-short", help="Accept negative target weights.")] = False,
    yields: Annotated[
        str | None, typer.Option("--yield", help="Constant APYs: USDC=0.05,ETH=0.03 (replaces [yield]).")
    ] = None,
    spend: Annotated[str | None, typer.Option(help="A recurring outflow: 50000/month (adds to [[flows]]).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write equity/weights/trades/rebalances CSV here.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML tearsheet here.")] = None,
    png: Annotated[Path | None, typer.Option(help="Write each report figure as PNG into this folder.")] = None,
) -> None:
    """Backtest a strategy and compare it with buy-and-hold."""

    no_png = png_warning(png)
    options = file_report_options(strategy_file)
    strategy, data = resolve_strategy(
        strategy_file,
        {
            "prices": prices,
            "relatives": relatives or None,
            "fill": fill,
            "dayfirst": dayfirst or None,
            "target": target,
            "rebalance": rebalance,
            "band": band,
            "band_kind": band_kind,
            "plan": plan,
            "risk_aversion": risk_aversion,
            "fee_bps": fee_bps,
            "fixed_cost": fixed_cost,
            "min_trade": min_trade,
            "cash": cash,
            "capital": capital,
            "convention": convention,
            "allow_short": allow_short or None,
            "yields": yields,
            "spend": spend,
        },
    )
    announce_compile()
    with console.status("compiling and running the backtest…", spinner="dots") if not as_json else nullcontext():
        result = run_file_strategy(strategy, data)
        result.metrics  # noqa: B018  (evaluate inside the spinner)
        result.baseline  # noqa: B018
    check_formed(result)
    if as_json:
        baseline = result.baseline.metrics if result.baseline else None
        summary = {
            **result.metrics,
            "baseline": baseline,
            "strategy": result.strategy.describe(),
            "conventions": result.conventions,
        }
        if result.strategy.hedge is not None:
            from ballast.engine.hedge_compare import compare_hedges

            summary["hedge_comparison"] = compare_hedges(result).to_dict()
        print(json.dumps(summary, default=str))
    else:
        from ballast.report.terminal import print_summary

        print_summary(result, console)
    if out is not None:
        try:
            files = result.write_csv(str(out))
        except OSError as exc:
            fail(f"cannot write the CSV files to {out}: {exc.strerror or exc}")
        if not as_json:
            console.print(f"wrote {', '.join(files)}")
    written = write_report(result, report, options, quiet=as_json) if report is not None else None
    if png is not None:
        from ballast.report.html import write_pngs

        if no_png is not None:
            raise InputError(no_png + (f"; the HTML report was written to {written}" if written else ""))
        pngs = write_pngs([result], png, vol_window=options.vol_window)
        if not as_json:
            console.print(f"PNG: {', '.join(str(p) for p in pngs)}")


@user_mistakes
def report(
    strategy_files: Annotated[list[Path], typer.Argument(help="One or more strategy TOML files to compare.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path("report.html"),
    png: Annotated[Path | None, typer.Option(help="Also write each figure as PNG into this folder.")] = None,
    title: Annotated[str | None, typer.Option(help="Page heading (default: the strategy names).")] = None,
) -> None:
    """Backtest one or several strategy files and write one HTML tearsheet comparing them."""
    from ballast.report.html import write_pngs, write_tearsheet
    from ballast.report.terminal import print_summary

    results = []
    options = []
    no_png = png_warning(png)
    for path in strategy_files:
        options.append(file_report_options(path))
        strategy, data = resolve_strategy(path, {})
        announce_compile()
        with console.status(f"backtesting {path}…", spinner="dots"):
            result = run_file_strategy(strategy, data)
            result.baseline  # noqa: B018
        check_formed(result, path)
        results.append(result)
    # The first file that sets a report option decides it; --title beats every file.
    heading = title or next((o.title for o in options if o.title), None)
    window = next((o.vol_window for o in options if o.vol_window), None)
    with console.status("writing the report…", spinner="dots"):
        written = write_tearsheet(results, out, title=heading, vol_window=window)
        pngs = write_pngs(results, png, vol_window=window) if png is not None and no_png is None else []
    for result in results:
        print_summary(result, console)
    console.print(f"[bold]report:[/] {written}")
    if no_png is not None:
        fail(f"no PNG written: {no_png}; the HTML report was written to {written}")
    if pngs:
        console.print(f"PNG: {', '.join(str(p) for p in pngs)}")


def run_file_strategy(strategy: Strategy, data: dict[str, Any]) -> Result:
    """The backtest of a resolved strategy on its data options (`resolve_strategy`): the one call
    `backtest` and `report` share, so both honour every `[data]` field (assets included)."""
    from ballast.engine.backtest import backtest as run

    return run(
        data["prices"],
        strategy,
        relatives=data["relatives"],
        fill=data["fill"],
        periods_per_year=data.get("periods_per_year"),
        start=data.get("start"),
        end=data.get("end"),
        assets=data.get("assets"),
    )
