"""Tearsheet panels for a concentrated-liquidity position, and the range-width frontier.

- the pool price with the position's range over time (resets marked);
- the position's value against holding the tokens of its last deposit, with the fees earned;
- `frontier_figure`: fees − LVR − gas and its parts against the range width (`ballast lp-sweep`).

Drawn only for results with a position (``Result.liquidity``); see docs/liquidity.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ballast.report.plotting import (
    ASSET_COLORS,
    HOLD_COLOR,
    STRATEGY_COLORS,
    Figure,
    layout,
    per_strategy,
    rgba,
    thin,
    x_axis,
)

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from ballast.engine.result import Result


def range_figure(result: "Result", key: str, name: str) -> Figure:
    """The pool price inside the band of the position's range; resets as markers."""
    import plotly.graph_objects as go

    book = result.liquidity
    assert book is not None and result.strategy.liquidity is not None
    a, b = result.strategy.liquidity.pair
    prices = result.market.prices
    i0, i1 = result.market.asset_index(a), result.market.asset_index(b)
    pool = prices[:, i0] / prices[:, i1]
    on = book.value.to_numpy() > 0.0
    resets = np.flatnonzero(book.reset.to_numpy())
    i = thin(len(pool), resets)
    x = x_axis(result)
    lower = np.where(on, book.lower.to_numpy(), np.nan)
    upper = np.where(on, book.upper.to_numpy(), np.nan)
    fig = go.Figure()
    band = ASSET_COLORS[0]
    fig.add_trace(go.Scatter(x=x[i], y=upper[i], name="range", line={"color": band, "width": 0.5, "shape": "hv"}))
    fig.add_trace(
        go.Scatter(
            x=x[i],
            y=lower[i],
            name="range (lower)",
            showlegend=False,
            fill="tonexty",
            fillcolor=rgba(band, 0.18),
            line={"color": band, "width": 0.5, "shape": "hv"},
        )
    )
    fig.add_trace(go.Scatter(x=x[i], y=pool[i], name=f"{a}/{b}", line={"color": "#111827", "width": 1.2}))
    fig.add_trace(
        go.Scatter(
            x=x[resets],
            y=pool[resets],
            name="reset",
            mode="markers",
            marker={"color": STRATEGY_COLORS[1], "size": 6, "symbol": "diamond"},
        )
    )
    layout(fig, 360, ",.4g")
    fig.update_yaxes(title_text=f"{b} per {a}", type="log")
    in_range = result.metrics.get("lp_time_in_range", float("nan"))
    return Figure(
        key,
        f"Liquidity range — {name}",
        f"The pool price and the position's range over time (shaded); diamonds mark resets. "
        f"In range {in_range:.1%} of the closes after the first deposit.",
        fig,
    )


def position_figure(result: "Result", key: str, name: str) -> Figure:
    """The position's value against holding its last deposit's tokens, and the fees earned so far."""
    import plotly.graph_objects as go

    book = result.liquidity
    assert book is not None
    on = book.value.to_numpy() > 0.0
    i = thin(len(book))
    x = x_axis(result)
    value = np.where(on, book.value.to_numpy(), np.nan)
    hold = np.where(on, book.hold_value.to_numpy(), np.nan)
    fees = np.cumsum(book.fees.to_numpy())
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x[i], y=hold[i], name="holding the deposit", line={"color": HOLD_COLOR, "dash": "dash"}))
    fig.add_trace(go.Scatter(x=x[i], y=value[i], name="position", line={"color": STRATEGY_COLORS[0], "width": 1.5}))
    fig.add_trace(go.Scatter(x=x[i], y=fees[i], name="fees earned (cumulative)", line={"color": STRATEGY_COLORS[2]}))
    layout(fig, 320, ",.0f")
    fig.update_yaxes(title_text="value")
    m = result.metrics
    return Figure(
        key,
        f"Position vs holding — {name}",
        f"The position's value and the value of holding the tokens of its last deposit (each reset "
        f"starts a new comparison); fees {m['lp_fees']:,.0f}, impermanent loss {m['lp_impermanent_loss']:,.0f}, "
        f"LVR {m['lp_lvr']:,.0f}, {int(m['lp_resets'])} resets, gas {m['lp_gas']:,.0f}.",
        fig,
    )


def liquidity_figures(results: Sequence["Result"]) -> list[Figure]:
    """The liquidity panels, for the results that hold a position."""
    figs: list[Figure] = []
    for suffix, name, r in per_strategy(results):
        if r.liquidity is None:
            continue
        figs.append(range_figure(r, f"lp-range{suffix}", name))
        figs.append(position_figure(r, f"lp-value{suffix}", name))
    return figs


def frontier_figure(table: "pd.DataFrame") -> Figure:
    """fees − LVR − gas (and its parts) against the mean range width, one point per configuration."""
    import plotly.graph_objects as go

    t = table.sort_values("mean_width")
    x = t["mean_width"].to_numpy()
    fig = go.Figure()
    parts = (
        ("fees − LVR − gas", t["fees_minus_lvr_gas"], STRATEGY_COLORS[0], 2.5),
        ("fees", t["lp_fees"], STRATEGY_COLORS[2], 1.0),
        ("LVR", t["lp_lvr"], STRATEGY_COLORS[1], 1.0),
        ("gas + swap costs", t["lp_gas"] + t["lp_swap_costs"], HOLD_COLOR, 1.0),
    )
    labels = t["configuration"].to_numpy()
    for label, y, color, width in parts:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y.to_numpy(),
                name=label,
                mode="lines+markers",
                text=labels,
                line={"color": color, "width": width},
                hovertemplate="%{text}: %{y:,.0f}",
            )
        )
    layout(fig, 380, ",.0f")
    fig.update_layout(hovermode="closest")
    fig.update_xaxes(title_text="mean range width (upper / lower − 1)", tickformat=".0%", type="log")
    fig.update_yaxes(title_text="currency over the backtest")
    best = t.loc[t["fees_minus_lvr_gas"].idxmax()]
    return Figure(
        "lp-frontier",
        "Range width frontier",
        f"Fees minus loss-versus-rebalancing minus gas and swap costs, against the range's mean width. "
        f"Best: {best['configuration']} (width {best['mean_width']:.1%}, {best['fees_minus_lvr_gas']:,.0f}).",
        fig,
    )


def write_frontier_html(table: "pd.DataFrame", path: "Path") -> "Path":
    """The frontier as a self-contained HTML page (plotly.js inlined)."""
    import plotly.io as pio

    from ballast.report.files import write_text_atomic

    fig = frontier_figure(table)
    body = pio.to_html(fig.figure, full_html=False, include_plotlyjs=True)
    return write_text_atomic(
        path,
        f"<!doctype html><html><head><meta charset='utf-8'><title>{fig.title}</title></head>"
        f"<body><h3>{fig.title}</h3><p>{fig.caption}</p>{body}</body></html>",
    )
