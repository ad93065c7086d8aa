"""The health-band frontier: liquidation probability against annual cost, one point per band.

Written as self-contained HTML (plotly.js inline: the file works offline), like the sweep's
frontier (report/frontier.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ballast.report.files import write_text_atomic

BAND_FIELDS = ("repay_below", "repay_to", "boost_above", "boost_to")


def band_frontier_figure(table: pd.DataFrame, recommended: pd.Series) -> Any:
    """x: probability of a liquidation a year; y: expected penalty + the band's costs a year (share
    of capital); colour: the score (carry − penalty − costs). The recommended band is a star."""
    import plotly.graph_objects as go

    cost = table["penalty"] + table["costs"]
    text = [
        ", ".join(f"{f}={row[f]:.2f}" for f in BAND_FIELDS) + f"<br>score {row['score']:.2%} a year"
        for _, row in table.iterrows()
    ]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=table["p_liquidation"],
            y=cost,
            mode="markers",
            text=text,
            hoverinfo="text+x+y",
            marker={
                "color": table["score"],
                "colorscale": "Viridis",
                "showscale": True,
                "size": 6,
                "colorbar": {"title": "score / yr"},
            },
            name="bands",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[recommended["p_liquidation"]],
            y=[recommended["penalty"] + recommended["costs"]],
            mode="markers",
            marker={"symbol": "star", "size": 16, "color": "crimson"},
            name="recommended: " + ", ".join(f"{recommended[f]:.2f}" for f in BAND_FIELDS),
        )
    )
    fig.update_layout(
        title="Health bands: liquidation probability vs annual cost",
        xaxis={"title": "probability of a liquidation a year", "tickformat": ".1%"},
        yaxis={"title": "expected penalty + repay/boost costs a year (share of capital)", "tickformat": ".2%"},
        height=560,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def write_band_frontier(table: pd.DataFrame, recommended: pd.Series, path: str | Path) -> Path:
    import plotly.io as pio

    html = pio.to_html(band_frontier_figure(table, recommended), full_html=False, include_plotlyjs=True)
    return write_text_atomic(
        Path(path),
        "<!doctype html><html><head><meta charset='utf-8'><title>ballast health bands</title></head>"
        f"<body>{html}</body></html>",
    )
