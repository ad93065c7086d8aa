"""`ballast stress FILE --scenario NAME`: load the file, pick the scenario, run, tabulate, draw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ballast.errors import InputError
from ballast.report.stress import StressReport, figure, stress


def parse_renames(pairs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or ():
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InputError(f"--as {pair!r}: expected SCENARIO_ASSET=YOUR_ASSET, e.g. --as UST=USDC")
        out[old.strip()] = new.strip()
    return out


def run_stress(
    file: Path, scenario: str, at: str | None, renames: list[str] | None, after: int, out: Path | None
) -> tuple[StressReport, Path | None]:
    """The report and the figure's path (None with out = None)."""
    from ballast.config import load_strategy_file
    from ballast.scenarios.builtins import BUILTINS, builtin
    from ballast.scenarios.config import parse_scenarios

    cfg = load_strategy_file(file)
    try:
        own = parse_scenarios(cfg.scenarios)
    except (ValueError, KeyError) as exc:
        raise InputError(f"{file}: {exc.args[0] if exc.args else exc}") from None
    chosen = own[scenario] if scenario in own else builtin(scenario) if scenario in BUILTINS else None
    if chosen is None:
        names = [*own, *BUILTINS]
        raise InputError(f"--scenario: unknown scenario {scenario!r}; choose one of {', '.join(names)}")
    try:
        report = stress(
            cfg.to_strategy(),
            cfg.prices_path(),
            chosen,
            at=at,
            rename=parse_renames(renames),
            after=after,
            assets=cfg.data.assets,
            start=cfg.data.start,
            end=cfg.data.end,
        )
    except (ValueError, KeyError) as exc:
        raise InputError(f"{file}: {exc.args[0] if exc.args else exc}") from None
    if out is None:
        return report, None
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"stress-{chosen.name}.html"
    figure(report).write_html(str(path), include_plotlyjs=True)
    return report, path


def table_rows(report: StressReport) -> list[tuple[str, ...]]:
    return [
        (
            o.name,
            f"{o.value_lost:,.0f}",
            f"{o.value_lost_pct:+.2%}",
            f"{o.worst_shortfall:+.2%}",
            f"{o.worst_drawdown:+.2%}",
            _months(o.runway_lost),
            _months(o.worst_runway_lost),
        )
        for o in report.outcomes
    ]


def _months(x: float | None) -> str:
    return "–" if x is None else f"{x:+.1f}" if abs(x) != float("inf") else "∞"


def print_report(report: StressReport, console: Any) -> None:
    from rich import box
    from rich.table import Table

    sc = report.scenario
    console.print(f"[bold]{sc.name}[/] {report.start.date()} → {report.end.date()}: {sc.description}")
    table = Table(
        box=box.SIMPLE_HEAD,
        title="under the shock, vs the same variant without it: value and runway (months) lost at the "
        "window's end; worst shortfall, drawdown and runway lost in the window",
        title_justify="left",
    )
    table.add_column("variant", no_wrap=True)
    for header in ("value lost", "lost %", "shortfall", "drawdown", "runway lost", "at worst"):
        table.add_column(header, justify="right", min_width=len(header) if " " not in header else None)
    for row in table_rows(report):
        table.add_row(*row)
    console.print(table)
    for o in report.outcomes:
        for why, group in o.trades.groupby("reason", sort=False):
            day = group.time.iloc[0].date()
            console.print(f"  {o.name} {day}: {len(group)} trades — {why}", highlight=False)
    if all(o.runway_lost is None for o in report.outcomes):
        console.print("runway: nothing is spent ([[flows]]), so no runway is lost", highlight=False)
    console.print(f"source: {sc.source}", highlight=False)
