"""The hedge frontier as a figure: trading cost against hedge error, one line per family of rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ballast.report.files import write_text_atomic

COLOURS = {"band": "#1f77b4", "fixed-interval": "#ff7f0e", "unhedged": "#7f7f7f"}


def hedge_frontier_figure(frame: pd.DataFrame, title: str = "hedge frontier") -> Any:
    """Fees + slippage against hedge error (log axes), a line per family, points labelled by width."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for family, part in frame.groupby("family", sort=False):
        part = part.sort_values("hedge_error")
        label = "width" if family == "band" else "every"
        fig.add_trace(
            go.Scatter(
                x=part["hedge_error"],
                y=part["trading_cost"].clip(lower=1e-9),
                mode="lines+markers" if family != "unhedged" else "markers",
                name=str(family),
                marker=dict(color=COLOURS.get(str(family)), size=9),
                text=[f"{label} {p:g}" for p in part["parameter"]],
                hovertemplate="%{text}<br>hedge error %{x:.3g}<br>fees + slippage %{y:,.0f}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title="hedge error (variance of per-period value changes / capital²)",
        yaxis_title="fees + slippage of the hedge",
        xaxis_type="log",
        template="plotly_white",
    )
    return fig


def write_hedge_frontier(frame: pd.DataFrame, path: str | Path, title: str = "hedge frontier") -> Path:
    """The figure as a self-contained HTML file (plotly.js inline)."""
    import plotly.io as pio

    path = Path(path)
    body = pio.to_html(hedge_frontier_figure(frame, title), full_html=False, include_plotlyjs=True)
    write_text_atomic(
        path,
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>{body}</body></html>",
    )
    return path
