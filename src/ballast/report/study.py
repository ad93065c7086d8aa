"""The cost study: which rebalancing rule wins after costs, on the bundled crypto data.

Rules (calendar, absolute and relative bands with full or band-edge trades, cost-aware) × cost
regimes (CEX, mainnet DEX, L2) × treasury sizes, each a full backtest of the same target. Writes a
CSV and a markdown table, a plotly HTML chart, and a PNG when matplotlib is installed.
`ballast study costs` runs it; docs/cost-study.md shows its output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ballast.costs import ConstantProductPool, CostModel, Gas, Proportional
from ballast.planning import BandEdge, CostAware, Full, Planner
from ballast.strategy import Strategy
from ballast.targets import Fixed
from ballast.triggers import Band, Calendar, Trigger

TARGET = {"BTC": 0.35, "ETH": 0.25, "LTC": 0.10, "XRP": 0.10, "USDT": 0.20}
CASH = "USDT"
CAPITALS = (1_000_000.0, 100_000_000.0)
ABS_BAND = 0.05
REL_BAND = 0.25


@dataclass(frozen=True)
class Regime:
    name: str
    description: str
    costs: Callable[[], CostModel]


REGIMES = (
    Regime("CEX 10 bps", "centralised exchange: 10 bps per trade, no impact", lambda: Proportional(10)),
    Regime(
        "mainnet DEX",
        "Uniswap-v2 pools: 30 bps fee, 20 M USD per side, gas 150k units at 30 gwei in ETH",
        lambda: ConstantProductPool(fee=0.003, depth=20e6) + Gas(150_000, 30.0, "ETH"),
    ),
    Regime(
        "L2 DEX",
        "same pools on a rollup: 30 bps fee, 20 M USD per side, gas 150k units at 0.05 gwei",
        lambda: ConstantProductPool(fee=0.003, depth=20e6) + Gas(150_000, 0.05, "ETH"),
    ),
)


def rules() -> list[tuple[str, Callable[[], Trigger], Callable[[], Planner]]]:
    """(name, trigger, planner) of every rule compared."""

    def abs_band() -> Band:
        return Band(ABS_BAND, "absolute")

    def rel_band() -> Band:
        return Band(REL_BAND, "relative")

    return [
        ("calendar daily", lambda: Calendar("daily"), Full),
        ("calendar weekly", lambda: Calendar("weekly"), Full),
        ("calendar monthly", lambda: Calendar("monthly"), Full),
        ("abs band 5 pt, full", abs_band, Full),
        ("abs band 5 pt, band-edge", abs_band, BandEdge),
        ("rel band 25 %, full", rel_band, Full),
        ("rel band 25 %, band-edge", rel_band, BandEdge),
        ("cost-aware, abs band 5 pt", abs_band, CostAware),
        ("cost-aware κ=0, abs band 5 pt", abs_band, lambda: CostAware(risk_aversion=0.0)),
        ("cost-aware, daily check", lambda: Calendar("daily") | abs_band(), CostAware),
    ]


def run_study(progress: Callable[[str], None] | None = None, end: str | None = None) -> pd.DataFrame:
    """Every rule × regime × capital; one row each. ``progress`` is called after every backtest."""
    from ballast.engine.backtest import prepare, run_compiled, to_market
    from ballast.engine.metrics import metrics_dict

    market = to_market("crypto", cash=CASH, assets=list(TARGET), end=end)
    rows: list[dict[str, Any]] = []
    for regime in REGIMES:
        for capital in CAPITALS:
            for name, trigger, planner in rules():
                s = Strategy(Fixed(TARGET), trigger(), planner(), regime.costs(), CASH, capital, name=name)
                m = metrics_dict(run_compiled(prepare(s, market), record=False).metrics)
                rows.append(
                    {
                        "regime": regime.name,
                        "capital": capital,
                        "rule": name,
                        "final_wealth": m["final_wealth"],
                        "costs_paid": m["total_costs"],
                        "costs_bps": 1e4 * m["total_costs"] / capital,
                        "n_trades": int(m["n_trades"]),
                        "n_rebalances": int(m["n_rebalances"]),
                        "mean_drift": m["mean_abs_drift"],
                        "tracking_error": m["tracking_error"],
                    }
                )
                if progress is not None:
                    progress(f"{regime.name}, {capital / 1e6:g} M: {name}")
    return pd.DataFrame(rows)


def n_runs() -> int:
    return len(REGIMES) * len(CAPITALS) * len(rules())


def winners(df: pd.DataFrame) -> pd.DataFrame:
    """Per regime and capital: the rule with the best final wealth and the cheapest one."""
    out = []
    for (regime, capital), g in df.groupby(["regime", "capital"], sort=False):
        best = g.loc[g.final_wealth.idxmax()]
        cheap = g.loc[g.costs_paid.idxmin()]
        out.append(
            {
                "regime": regime,
                "capital": capital,
                "best": best.rule,
                "wealth": best.final_wealth,
                "cheapest": cheap.rule,
                "cheapest_costs": cheap.costs_paid,
            }
        )
    return pd.DataFrame(out)


def to_markdown(df: pd.DataFrame) -> str:
    """The table as GitHub markdown (no extra dependency)."""
    cols = [
        "regime",
        "capital",
        "rule",
        "final_wealth",
        "costs_paid",
        "costs_bps",
        "n_trades",
        "mean_drift",
        "tracking_error",
    ]
    head = [
        "regime",
        "capital",
        "rule",
        "final wealth ×",
        "costs paid",
        "costs (bps of capital)",
        "trades",
        "mean drift",
        "tracking error",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in df[cols].itertuples(index=False):
        lines.append(
            f"| {r.regime} | {r.capital / 1e6:g} M | {r.rule} | {r.final_wealth:.3f} | "
            f"{r.costs_paid:,.0f} | {r.costs_bps:,.1f} | {r.n_trades} | {r.mean_drift:.2%} | "
            f"{r.tracking_error:.2%} |"
        )
    return "\n".join(lines)


def plot_html(df: pd.DataFrame, path: Path) -> Path:
    """Costs paid (bps of capital) against mean drift, one panel per regime and capital."""
    import plotly.express as px

    d = df.assign(size=df.capital.map(lambda c: f"{c / 1e6:g} M USD"))
    fig = px.scatter(
        d,
        x="mean_drift",
        y="costs_bps",
        color="rule",
        facet_col="regime",
        facet_row="size",
        hover_data=["final_wealth", "n_trades"],
        log_y=True,
        labels={"mean_drift": "mean drift (max |w − target|)", "costs_bps": "costs (bps of capital)"},
        title="Cost of staying on target: every rule under three cost regimes",
    )
    fig.write_html(path, include_plotlyjs=True)  # self-contained: opens offline
    return path


def plot_png(df: pd.DataFrame, path: Path) -> Path | None:
    """The same chart as a PNG, if matplotlib is installed (else None)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    regimes = list(dict.fromkeys(df.regime))
    fig, axes = plt.subplots(
        len(CAPITALS), len(regimes), figsize=(5 * len(regimes), 4 * len(CAPITALS)), sharex=True, squeeze=False
    )
    names = list(dict.fromkeys(df.rule))
    colors = plt.get_cmap("tab10")
    for r, capital in enumerate(CAPITALS):
        for c, regime in enumerate(regimes):
            ax = axes[r][c]
            g = df[(df.regime == regime) & (df.capital == capital)]
            for k, name in enumerate(names):
                row = g[g.rule == name]
                ax.scatter(row.mean_drift * 100, row.costs_bps, color=colors(k), label=name, s=40)
            ax.set_yscale("log")
            ax.set_title(f"{regime}, {capital / 1e6:g} M USD", fontsize=10)
            ax.grid(alpha=0.3)
            if r == len(CAPITALS) - 1:
                ax.set_xlabel("mean drift (points)")
            if c == 0:
                ax.set_ylabel("costs paid (bps of capital)")
    axes[0][0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_study(df: pd.DataFrame, out: Path) -> list[Path]:
    """CSV, markdown (table + winners), HTML chart and (if possible) PNG into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "cost-study.csv"
    df.to_csv(csv, index=False)
    md = out / "cost-study.md"
    w = winners(df)
    wl = [
        f"- {r.regime}, {r.capital / 1e6:g} M: best final wealth **{r.best}** ({r.wealth:.3f}×); "
        f"cheapest **{r.cheapest}** ({r.cheapest_costs:,.0f} paid)"
        for r in w.itertuples(index=False)
    ]
    md.write_text("\n".join(["## Results", "", to_markdown(df), "", "## Winners", "", *wl, ""]), encoding="utf-8")
    files = [csv, md, plot_html(df, out / "cost-study.html")]
    png = plot_png(df, out / "cost-study.png")
    if png is not None:
        files.append(png)
    return files
