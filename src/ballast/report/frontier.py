"""Sweep figures: the cost/turnover vs tracking-error frontier, and a metric over two parameters.

Both are plotly figures written as self-contained HTML (plotly.js inline, no CDN: the file works
offline and in a CI artifact) and as PNG through the reports' exporter (`report/png.py`: kaleido
driving a local Chromium; ``pip install 'ballast[png]'``, .ci/services.sh installs Chromium).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ballast.enums import MINIMISED_METRICS
from ballast.errors import InputError
from ballast.report.files import write_text_atomic


def choose(frame: pd.DataFrame, metric: str) -> int:
    """Row position of the best configuration by ``metric`` (first on ties; NaN never wins)."""
    if metric not in frame:
        raise InputError(f"the sweep results have no column {metric!r}")
    v = frame[metric].to_numpy(dtype=np.float64)
    if np.isnan(v).all():
        raise InputError(f"{metric} is undefined for every configuration")
    return int(np.nanargmin(v) if metric in MINIMISED_METRICS else np.nanargmax(v))


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)


def _axis(values: Any) -> list[Any]:
    """Numbers stay numbers (a numeric axis: close values never merge); anything else as text."""
    vals = list(values)
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in vals):
        return [float(v) for v in vals]
    return [str(v) for v in vals]


def _label(row: pd.Series, params: Sequence[str]) -> str:
    return ", ".join(f"{p}={_fmt(row[p])}" for p in params) or f"config {row.get('config', '')}"


def frontier_figure(
    frame: pd.DataFrame,
    params: Sequence[str],
    metric: str = "sharpe",
    cost: str = "turnover",
    chosen: int | None = None,
) -> Any:
    """Turnover (or ``cost`` = total_costs) against tracking error, one point per configuration,
    coloured by ``metric``; the chosen rule (best by ``metric`` unless given) is highlighted."""
    import plotly.graph_objects as go

    for col in ("tracking_error", cost, metric):
        if col not in frame:
            raise InputError(f"the sweep results have no column {col!r}")
    k = choose(frame, metric) if chosen is None else chosen
    text = [_label(r, params) for _, r in frame.iterrows()]
    fig = go.Figure()
    fig.add_trace(
        go.Scattergl(
            x=frame["tracking_error"],
            y=frame[cost],
            mode="markers",
            name="configurations",
            text=text,
            marker=dict(size=6, color=frame[metric], colorscale="Viridis", showscale=True, colorbar=dict(title=metric)),
            hovertemplate="%{text}<br>tracking error %{x:.4%}<br>" + cost + " %{y:.4g}<extra></extra>",
        )
    )
    best = frame.iloc[k]
    fig.add_trace(
        go.Scatter(
            x=[best["tracking_error"]],
            y=[best[cost]],
            mode="markers+text",
            name="chosen rule",
            text=[_label(best, params)],
            textposition="top right",
            marker=dict(size=16, symbol="star", color="crimson", line=dict(width=1, color="black")),
        )
    )
    fig.update_layout(
        title=f"{cost.replace('_', ' ')} vs tracking error — chosen by {metric}: {_label(best, params)}",
        xaxis_title="tracking error (annualised)",
        yaxis_title=cost.replace("_", " "),
        xaxis_tickformat=".2%",
        template="plotly_white",
        legend=dict(orientation="h", yanchor="bottom", y=-0.2, x=0),
    )
    return fig


def heatmap_figure(
    frame: pd.DataFrame, x: str, y: str, metric: str = "sharpe", chosen: int | None = None, params: Sequence[str] = ()
) -> Any:
    """``metric`` over parameters ``x`` and ``y``; other parameters are held at the chosen rule's
    values (a slice through the grid, not an average over it)."""
    import plotly.graph_objects as go

    for col in (x, y, metric):
        if col not in frame:
            raise InputError(f"the sweep results have no column {col!r}")
    k = choose(frame, metric) if chosen is None else chosen
    best = frame.iloc[k]
    part = frame
    for p in params:
        if p not in (x, y):
            part = part[part[p] == best[p]]
    table = part.pivot_table(index=y, columns=x, values=metric, aggfunc="first")
    fig = go.Figure(
        go.Heatmap(
            z=table.to_numpy(),
            x=_axis(table.columns),
            y=_axis(table.index),
            colorscale="Viridis",
            colorbar=dict(title=metric),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=_axis([best[x]]),
            y=_axis([best[y]]),
            mode="markers",
            name="chosen rule",
            marker=dict(size=14, symbol="star", color="crimson"),
        )
    )
    held = [p for p in params if p not in (x, y)]
    fig.update_layout(
        title=f"{metric} over {x} × {y}" + (f" ({', '.join(f'{p}={_fmt(best[p])}' for p in held)})" if held else ""),
        xaxis_title=x,
        yaxis_title=y,
        template="plotly_white",
    )
    return fig


def write_frontier(
    frame: pd.DataFrame,
    path: str | Path,
    metric: str = "sharpe",
    params: Sequence[str] | None = None,
    png: bool | None = None,
) -> list[Path]:
    """The frontier (and, with two or more numeric parameters, the heatmap of the first two) as
    ``path`` (HTML) and the same stem + ``.png`` / ``-heatmap.png``: with ``png=None`` when kaleido
    and a browser are installed, with ``png=True`` always (checked before anything is written)."""
    import plotly.io as pio

    from ballast.report.png import png_unavailable

    problem = png_unavailable() if png is not False else None
    if png and problem is not None:
        raise InputError(problem)
    png = png is not False and problem is None
    path = Path(path)
    if params is None:
        params = [
            c for c in frame.columns if c not in MINIMISED_METRICS | {"config"} and c not in _metric_columns(frame)
        ]
    figs = [("", frontier_figure(frame, params, metric))]
    axes = [p for p in params if frame[p].nunique() > 1]
    if len(axes) >= 2:
        figs.append(("-heatmap", heatmap_figure(frame, axes[0], axes[1], metric, params=params)))
    html = "".join(pio.to_html(f, full_html=False, include_plotlyjs=(i == 0)) for i, (_, f) in enumerate(figs))
    write_text_atomic(
        path,
        f"<!doctype html><html><head><meta charset='utf-8'><title>ballast sweep</title></head>"
        f"<body>{html}</body></html>",
    )
    written: list[Path] = [path]
    if png:
        from ballast.report.plotting import Figure
        from ballast.report.png import export

        written += export([Figure(f"{path.stem}{suffix}", "", "", f) for suffix, f in figs], path.parent, scale=1.0)
    return written


def _metric_columns(frame: pd.DataFrame) -> set[str]:
    from ballast.engine.metrics import METRIC_NAMES

    return {c for c in frame.columns if any(c == m or c.startswith(f"{m}_") for m in METRIC_NAMES)}
