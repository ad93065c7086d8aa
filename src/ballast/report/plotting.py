"""What every tearsheet figure shares: colours, the `Figure` record, thinning long series, the
x axis, buy-and-hold baselines, strategy names and the page's plotly layout."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ballast.engine.result import Result


# Strategy lines; buy & hold is drawn grey and dashed so "the rule" always stands out.
STRATEGY_COLORS = ("#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#dc2626", "#65a30d")
ASSET_COLORS = (
    "#3b82f6",
    "#f59e0b",
    "#10b981",
    "#ef4444",
    "#8b5cf6",
    "#06b6d4",
    "#f97316",
    "#84cc16",
    "#ec4899",
    "#64748b",
    "#14b8a6",
    "#a855f7",
)
HOLD_COLOR = "#6b7280"
HOLD_DASHES = ("dash", "dot", "dashdot", "longdash")  # one style per buy-and-hold line
MAX_POINTS = 4000  # line points per trace: enough for a screen, keeps the page light on hourly data
MAX_ASSET_PANELS = 8


@dataclass(frozen=True)
class Figure:
    """A named figure: ``key`` is its id in the page and its PNG file name."""

    key: str
    title: str
    caption: str
    figure: "go.Figure"


def thin(n: int, keep: Sequence[int] | np.ndarray = ()) -> np.ndarray:
    """Indices of at most ~MAX_POINTS evenly spaced rows, plus the rows in ``keep`` (rebalances)."""
    if n <= MAX_POINTS:
        return np.arange(n)
    idx = np.unique(np.concatenate([np.linspace(0, n - 1, MAX_POINTS).astype(int), np.asarray(keep, int)]))
    return idx


def x_axis(result: "Result") -> pd.Index | np.ndarray:
    """The time axis; daily dates as plain "YYYY-MM-DD" text, which halves the page's data size."""
    index = result.market.index
    if isinstance(index, pd.DatetimeIndex) and index.tz is None and (index == index.normalize()).all():
        return np.asarray(index.strftime("%Y-%m-%d"), dtype=object)
    return index


def baselines(results: Sequence["Result"]) -> list[tuple[str, "Result"]]:
    """Buy-and-hold runs to draw: one per distinct baseline (strategies on one target share it)."""
    kept: list[tuple[Result, Result]] = []  # (owner, baseline)
    for r in results:
        b = r.baseline
        if b is None:
            continue
        e = b.raw.equity / b.strategy.capital
        if any(len(e) == len(o.raw.equity) and np.allclose(e, o.raw.equity / o.strategy.capital) for _, o in kept):
            continue
        kept.append((r, b))
    if len(kept) == 1:
        return [("buy & hold", kept[0][1])]
    return [(f"buy & hold ({owner.strategy.name})", b) for owner, b in kept]


def per_strategy(results: Sequence["Result"]) -> list[tuple[str, str, "Result"]]:
    """(figure-key suffix, unique name, result) for each result; no suffix when there is one."""
    return [
        ("" if len(results) == 1 else f"-{k + 1}", n, r)
        for k, (n, r) in enumerate(zip(names(results), results, strict=True))
    ]


def names(results: Sequence["Result"]) -> list[str]:
    """Strategy names, made unique (two files may both be called "strategy")."""
    seen: dict[str, int] = {}
    out = []
    for r in results:
        n = r.strategy.name
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def layout(fig: "go.Figure", height: int, yformat: str | None = None) -> None:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 24, "t": 36, "b": 40},
        font={
            "family": "Inter, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif",
            "size": 12,
            "color": "#1f2937",
        },
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "bgcolor": "rgba(0,0,0,0)"},
        hovermode="x unified",
        paper_bgcolor="white",
        plot_bgcolor="white",
    )
    fig.update_xaxes(showgrid=False, linecolor="#d1d5db", ticks="outside", tickcolor="#d1d5db")
    fig.update_yaxes(gridcolor="#eef0f3", zeroline=False)
    if yformat:
        fig.update_yaxes(tickformat=yformat)


def rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[j : j + 2], 16) for j in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"
