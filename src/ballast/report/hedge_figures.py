"""Figures of a delta hedge (docs/hedging.md).

- tearsheet panels: the hedge against its target and band over time (re-hedges marked), and the
  hedge's cumulative costs (fees, slippage, funding, liquidations);
- the frontier: trading cost against hedge error, one line per family of rules (`ballast hedge frontier`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ballast.report.files import write_text_atomic
from ballast.report.plotting import ASSET_COLORS, STRATEGY_COLORS, Figure, layout, per_strategy, rgba, thin, x_axis

if TYPE_CHECKING:
    from ballast.engine.result import Result

COLOURS = {"band": "#1f77b4", "fixed-interval": "#ff7f0e", "unhedged": "#7f7f7f"}


def band_figure(result: "Result", key: str, name: str) -> Figure:
    """The perp's size against its target, inside the band (shaded); re-hedges as markers."""
    import plotly.graph_objects as go

    h = result.hedge
    assert h is not None
    moved = np.flatnonzero(h["reason"].to_numpy() != "")
    i = thin(len(h), moved)
    x = x_axis(result)
    target, half = h["target"].to_numpy(), h["half_width"].to_numpy()
    colour = ASSET_COLORS[0]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x[i], y=(target + half)[i], name="band", line={"color": colour, "width": 0.5}))
    fig.add_trace(
        go.Scatter(
            x=x[i],
            y=(target - half)[i],
            name="band (lower)",
            showlegend=False,
            fill="tonexty",
            fillcolor=rgba(colour, 0.18),
            line={"color": colour, "width": 0.5},
        )
    )
    fig.add_trace(go.Scatter(x=x[i], y=target[i], name="target", line={"color": "#6b7280", "dash": "dot"}))
    size = h["size"].to_numpy()
    fig.add_trace(go.Scatter(x=x[i], y=size[i], name="hedge", line={"color": STRATEGY_COLORS[0], "shape": "hv"}))
    fig.add_trace(
        go.Scatter(
            x=x[moved],
            y=size[moved],
            name="re-hedge",
            mode="markers",
            text=h["reason"].to_numpy()[moved],
            marker={"color": STRATEGY_COLORS[1], "size": 5, "symbol": "diamond"},
        )
    )
    layout(fig, 340, ",.4g")
    hedge = result.strategy.hedge
    assert hedge is not None
    fig.update_yaxes(title_text=f"{hedge.instrument_asset} perp units")
    return Figure(
        key,
        f"Hedge and its band — {name}",
        f"{hedge.describe()}. The perp's size against its target (dotted) and band (shaded); "
        f"diamonds mark the {int(result.metrics['n_rehedges'])} re-hedges.",
        fig,
    )


def cost_figure(result: "Result", key: str, name: str) -> Figure:
    """The hedge's costs so far: fees, slippage, funding (paid − received), liquidation penalties."""
    import plotly.graph_objects as go

    h = result.hedge
    assert h is not None
    i = thin(len(h))
    x = x_axis(result)
    fig = go.Figure()
    for k, column in enumerate(("fees", "slippage", "funding", "liquidation")):
        total = np.cumsum(h[column].to_numpy())
        fig.add_trace(go.Scatter(x=x[i], y=total[i], name=column, line={"color": STRATEGY_COLORS[k]}))
    layout(fig, 300, ",.0f")
    fig.update_yaxes(title_text="cumulative cost")
    m = result.metrics
    return Figure(
        key,
        f"Hedge costs — {name}",
        f"Cumulative fees {m['hedge_fees']:,.0f}, slippage {m['hedge_slippage']:,.0f}, funding "
        f"{m['hedge_funding']:,.0f} (negative: received), liquidations {m['hedge_liquidation']:,.0f}; "
        f"hedge error {m['hedge_error']:.3g}.",
        fig,
    )


def hedge_figures(results: Sequence["Result"]) -> list[Figure]:
    """The hedge panels, for the results that hedge."""
    figs: list[Figure] = []
    for suffix, name, r in per_strategy(results):
        if r.hedge is None:
            continue
        figs.append(band_figure(r, f"hedge-band{suffix}", name))
        figs.append(cost_figure(r, f"hedge-costs{suffix}", name))
    return figs


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
