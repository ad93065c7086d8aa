"""The terminal summary: strategy against buy-and-hold, with a sparkline of equity."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from rich.console import Console
from rich.table import Table

from ballast.targets.base import describe_params

if TYPE_CHECKING:
    import pandas as pd

    from ballast.engine.result import Result

SPARKS = "▁▂▃▄▅▆▇█"
PERCENT = {
    "total_return",
    "cagr",
    "volatility",
    "max_drawdown",
    "turnover",
    "mean_abs_drift",
    "max_abs_drift",
    "tracking_error",
    "twr",
    "irr",
    "lp_time_in_range",
}
CURRENCY = {
    "total_costs",
    "end_value",
    "yield_earned",
    "paid_out",
    "received",
    "shortfall",
    "liquidation_penalty",
    "borrow_paid",
    "loan_costs",
    "written_off",
    "hedge_fees",
    "hedge_slippage",
    "hedge_funding",
    "hedge_liquidation",
    "hedge_cost",
    *("lp_fees", "lp_impermanent_loss", "lp_lvr", "lp_gas", "lp_swap_costs", "lp_net"),  # docs/liquidity.md
}  # treasury: docs/treasury.md; loans: docs/loans.md; hedges: docs/hedging.md
COUNTS = {"n_rebalances", "n_trades", "n_liquidations", "n_repays", "n_boosts", "n_rehedges", "lp_resets"}
HIGHER_IS_BETTER = {
    "final_wealth",
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "calmar",
    "twr",
    "irr",
    "end_value",
    "yield_earned",
    "runway_months",
    "min_runway_months",
}


def sparkline(values: np.ndarray, width: int = 60, scale: tuple[float, float] | None = None) -> str:
    """Equity as a one-line bar chart (log scale, so a crash and a rally read alike).

    ``scale`` = (low, high) in value terms draws several lines on one shared scale, so the strategy
    and buy and hold can be compared bar by bar.
    """
    v = np.log(np.asarray(values, dtype=float).clip(min=1e-300))
    if len(v) > width:
        v = v[np.linspace(0, len(v) - 1, width).astype(int)]
    lo, hi = (float(v.min()), float(v.max())) if scale is None else (float(np.log(scale[0])), float(np.log(scale[1])))
    if hi - lo < 1e-12:
        return SPARKS[0] * len(v)
    idx = ((v - lo) / (hi - lo) * (len(SPARKS) - 1)).round().clip(0, len(SPARKS) - 1).astype(int)
    return "".join(SPARKS[i] for i in idx)


def can_draw_blocks(console: Console) -> bool:
    """Block characters need a UTF terminal; piped output to a plain-ASCII locale gets none."""
    return "utf" in (console.encoding or "").lower()


def label(stamp: object) -> str:
    """A date without a midnight time, or the period number."""
    text = str(stamp)
    return text[:-9] if text.endswith(" 00:00:00") else text


def fmt(name: str, value: float, capital: float | None = None) -> str:
    if name.endswith("runway_months") and value == np.inf:
        return "∞"
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if name in COUNTS:
        return f"{int(value):,}"
    if name == "days_below_floor":  # calendar days between closes: a count (rounded for intraday closes)
        return f"{value:,.0f}"
    if name == "hedge_error":
        return f"{value:.3g}"
    if name in PERCENT:
        return f"{value:.2%}"
    if name in CURRENCY:
        return f"{value:,.2f}"
    return f"{value:.3f}"


def summary_table(result: "Result", title: str | None = None) -> Table:
    base = result.baseline
    s = result.strategy
    if title is None:
        title = f"{s.name}: {label(result.market.index[0])} → {label(result.market.index[-1])}"
    table = Table(title=title or None, title_justify="left")
    table.add_column("metric")
    table.add_column("strategy", justify="right")
    if base is not None:
        table.add_column("buy & hold", justify="right")
    for name, value in result.metrics.items():
        row = [name, fmt(name, value)]
        if base is not None:
            b = base.metrics.get(name)  # buy & hold has no loans, hedge or liquidity position: blank
            row.append(fmt(name, b) if b is not None else "–")
            if name in HIGHER_IS_BETTER and b is not None and np.isfinite(value) and np.isfinite(b) and value > b:
                row[1] = f"[bold green]{row[1]}[/]"
        table.add_row(*row)
    return table


def strategy_grid(result: "Result") -> Table:
    d = result.strategy.describe()
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    m = result.market
    grid.add_row("target", describe_params(d["target"]))
    grid.add_row("trigger", str(d["trigger"]))
    grid.add_row("plan", str(d["plan"]))
    grid.add_row("costs", str(d["costs"]))
    if "liquidity" in d:
        grid.add_row("liquidity", str(d["liquidity"]))
    grid.add_row("data", f"{m.n_assets} assets × {m.n_periods:,} periods, {label(m.index[0])} → {label(m.index[-1])}")
    return grid


def run_out_line(result: "Result") -> str:
    """When the money runs out (the first withdrawal not paid in full), for the strategy and buy & hold."""

    def when(r: "Result | None") -> str:
        out = None if r is None or r.treasury is None else r.treasury.run_out
        return "never" if out is None else label(out)

    base = result.baseline
    return f"runs out: {when(result)}" + (f"   (buy & hold: {when(base)})" if base is not None else "")


def print_summary(result: "Result", console: Console | None = None) -> None:
    console = console or Console()
    console.print(f"[bold]{result.strategy.name}[/]")
    console.print(strategy_grid(result))
    console.print(summary_table(result, title=""))
    if result.strategy.flows and result.treasury is not None:
        console.print(run_out_line(result), highlight=False)
    if result.loans is not None:
        from ballast.report.loan_summary import loan_lines

        for line in loan_lines(result):
            console.print(line, highlight=False)
    if result.strategy.hedge is not None:
        from ballast.engine.hedge_compare import compare_hedges

        console.print(f"[dim]hedge[/]  {result.strategy.hedge.describe()}", highlight=False)
        console.print(hedge_table(compare_hedges(result)))
    if can_draw_blocks(console):
        curves = [("equity", result.raw.equity / result.strategy.capital)]
        if result.baseline is not None:
            curves.append(("hold", result.baseline.raw.equity / result.baseline.strategy.capital))
        lo = min(float(c.min()) for _, c in curves)
        hi = max(float(c.max()) for _, c in curves)
        width = max(20, min(80, console.width - 20))
        for name, curve in curves:
            console.print(f"{name:<7} {sparkline(curve, width, (lo, hi))} {curve[-1]:.2f}×", highlight=False)
    console.print(f"[dim]conventions: {result.conventions}[/]")


def hedge_table(comparison: "pd.DataFrame") -> Table:
    """`compare_hedges` as a table: one column per variant (this hedge, fixed interval, none)."""
    table = Table(title="hedge: error and cost against a fixed-interval hedge and no hedge", title_justify="left")
    table.add_column("metric")
    for column in comparison.columns:
        table.add_column(str(column), justify="right")
    for name, row in comparison.iterrows():
        table.add_row(str(name), *(fmt(str(name), float(v)) for v in row))
    return table


def walk_forward_table(frame: "pd.DataFrame", params: list[str], metric: str) -> Table:
    """The walk-forward windows as a narrow table: test period, the configuration chosen on the
    training window, and its training and test scores (every metric is in the Parquet file)."""
    cols = ["window", "test_start", "test_end", *params, f"train_{metric}", metric, "final_wealth"]
    table = Table(
        *[c if c != metric else f"test_{metric}" for c in dict.fromkeys(cols)],
        title="walk-forward (all metrics in the output file)",
        title_justify="left",
    )
    for r in frame.to_dict("records"):
        table.add_row(
            *[_cell(r.get(c)) if c not in ("test_start", "test_end") else label(r.get(c)) for c in dict.fromkeys(cols)]
        )
    return table


def _cell(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return str(value)
