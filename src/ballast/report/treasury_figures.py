"""Tearsheet panels for treasuries: yield earned by asset, flows, and runway against its floor.

Drawn only for results with yields or flows (``Result.treasury``); see docs/treasury.md.
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
    baselines,
    layout,
    names,
    per_strategy,
    thin,
    x_axis,
)

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ballast.engine.result import Result


def currency_figure(fig: "go.Figure", key: str, title: str, axis: str, caption: str) -> Figure:
    layout(fig, 320, ",.0f")
    fig.update_yaxes(title_text=axis)
    return Figure(key, title, caption, fig)


def yield_figure(result: "Result", key: str, name: str) -> Figure:
    """Cumulative yield earned (borrowing paid counts negative) by asset, in currency."""
    import plotly.graph_objects as go

    view = result.treasury
    assert view is not None
    fig = go.Figure()
    earned = view.yield_by_asset
    i = thin(len(earned))
    x = x_axis(result)
    for k, asset in enumerate(earned.columns):
        col = earned[asset].to_numpy()
        if not np.any(col):
            continue
        fig.add_trace(
            go.Scatter(
                x=x[i],
                y=col[i],
                name=asset,
                stackgroup="earned",
                line={"color": ASSET_COLORS[k % len(ASSET_COLORS)], "width": 1},
                hovertemplate="%{y:,.0f}",
            )
        )
    return currency_figure(
        fig,
        key,
        f"Yield earned by asset — {name}",
        "yield earned (currency)",
        "Cumulative yield accrued on each holding at each close's prices; a negative area "
        "is interest paid on a borrowed (negative) holding.",
    )


def flows_figure(result: "Result", key: str, name: str) -> Figure:
    """Cumulative money in and out, and the shortfalls (withdrawals that could not be paid)."""
    import plotly.graph_objects as go

    view = result.treasury
    assert view is not None
    flows = view.flows_by_asset.sum(axis=1).to_numpy()
    x = x_axis(result)
    i = thin(len(flows))
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x[i],
            y=np.cumsum(np.minimum(flows, 0.0))[i],
            name="paid out",
            fill="tozeroy",
            line={"color": "#dc2626", "width": 1.5},
            hovertemplate="%{y:,.0f}",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x[i],
            y=np.cumsum(np.maximum(flows, 0.0))[i],
            name="received",
            fill="tozeroy",
            line={"color": "#059669", "width": 1.5},
            hovertemplate="%{y:,.0f}",
        )
    )
    short = view.shortfalls
    if len(short):
        fig.add_trace(
            go.Scatter(
                x=x[result.market.index.get_indexer(short.time)],
                y=-short.shortfall.to_numpy(),
                name="shortfall",
                mode="markers",
                marker={"color": "#111827", "symbol": "x", "size": 8},
                hovertemplate="unpaid %{y:,.0f}",
            )
        )
    return currency_figure(
        fig,
        key,
        f"Flows — {name}",
        "cumulative flows (currency)",
        "Money paid out (below zero) and received (above), cumulated; crosses mark "
        "withdrawals the treasury could not pay in full.",
    )


def runway_figure(results: Sequence["Result"]) -> Figure:
    """Runway in months for each strategy and its buy and hold, with the floor."""
    import plotly.graph_objects as go

    fig = go.Figure()
    cap = 0.0
    floor = float("nan")
    drawn = [
        (n, r, {"color": STRATEGY_COLORS[k % len(STRATEGY_COLORS)], "width": 2})
        for k, (n, r) in enumerate(zip(names(results), results, strict=True))
    ]
    drawn += [(n, b, {"color": HOLD_COLOR, "width": 1.5, "dash": "dash"}) for n, b in baselines(results)]
    for name, r, line in drawn:
        if r.treasury is None:
            continue
        months = r.treasury.runway.to_numpy()
        finite = months[np.isfinite(months)]
        cap = max(cap, float(np.percentile(finite, 95)) if finite.size else 0.0)
        floor = r.treasury.floor if np.isnan(floor) else floor
        i = thin(len(months))
        fig.add_trace(
            go.Scatter(
                x=x_axis(r)[i], y=np.minimum(months, 1e6)[i], name=name, line=line, hovertemplate="%{y:.1f} months"
            )
        )
    if np.isfinite(floor):
        fig.add_hline(
            y=floor,
            line={"color": "#111827", "dash": "dot", "width": 1},
            annotation_text=f"floor {floor:g} months",
            annotation_position="top left",
        )
    layout(fig, 320)
    fig.update_yaxes(title_text="runway (months)", range=[0, max(cap, floor if np.isfinite(floor) else 0) * 1.1 or 1])
    return Figure(
        "runway",
        "Runway",
        "Months the cash asset, earning its yield, would last at the scheduled spend (the coming "
        "year's net outflow a month). Dotted: the floor.",
        fig,
    )


def treasury_figures(results: Sequence["Result"]) -> list[Figure]:
    """The treasury panels, for the results that have yields or flows."""
    with_treasury = [(suffix, n, r) for suffix, n, r in per_strategy(results) if r.treasury is not None]
    if not with_treasury:
        return []
    figs: list[Figure] = []
    for suffix, name, r in with_treasury:
        figs.append(yield_figure(r, f"yield{suffix}", name))
        if r.strategy.flows:
            figs.append(flows_figure(r, f"flows{suffix}", name))
    if any(r.strategy.flows for _, _, r in with_treasury):
        figs.append(runway_figure([r for _, _, r in with_treasury]))
    return figs
