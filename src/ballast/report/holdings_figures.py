"""The figures of what a strategy held and why it traded: weights against the target's bands, and
drift from target with a marker (and its reason) at each rebalance."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ballast.report.terminal import label

if TYPE_CHECKING:
    from ballast.engine.result import Result

from ballast.report.plotting import (
    ASSET_COLORS,
    MAX_ASSET_PANELS,
    Figure,
    layout,
    rgba,
    thin,
    x_axis,
)


def half_widths(result: "Result") -> np.ndarray | None:
    """T×N band half-widths around the target path, if the trigger has a drift band."""
    from ballast.strategy import first_band

    band = first_band(result.strategy.trigger)
    if band is None:
        return None
    a, r = band.widths(result.market.assets)
    floor: np.ndarray = np.maximum(a[None, :], r[None, :] * result.targets)
    return floor


def rebalance_hover(result: "Result") -> pd.DataFrame:
    """One row per rebalance: time index, reason, trades, cost — for the markers' hover text."""
    t = result.raw.rebalances.t
    frame = result.rebalances.copy()
    frame["t"] = t
    frame["text"] = [
        f"<b>{label(tm)}</b><br>{_wrap(reason)}<br>{n} trade{'s' if n != 1 else ''}, cost {c:,.2f}"
        for tm, reason, n, c in zip(frame["time"], frame["reason"], frame["n_trades"], frame["cost"], strict=True)
    ]
    return frame


def _wrap(text: str, width: int = 70) -> str:
    """Break a long reason over lines at '; ' so the hover box stays narrow."""
    lines: list[str] = []
    for part in text.split("; "):
        if lines and len(lines[-1]) + len(part) < width:
            lines[-1] = f"{lines[-1]}; {part}"
        else:
            lines.append(part)
    return "<br>".join(lines)


def weights_figure(result: "Result", key: str, name: str) -> Figure:
    """Held weights stacked to 100 %, with the target's cumulative boundaries dashed on top."""
    import plotly.graph_objects as go

    assets, w, tw = grouped_holdings(result)
    i = thin(len(w))
    x = x_axis(result)[i]
    fig = go.Figure()
    for j, asset in enumerate(assets):
        color = ASSET_COLORS[j % len(ASSET_COLORS)]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=w[i, j],
                name=asset,
                stackgroup="held",
                mode="lines",
                line={"width": 0.5, "color": color},
                fillcolor=rgba(color, 0.55),
                hovertemplate=f"{asset} %{{y:.1%}}",
            )
        )
    cum = np.cumsum(tw, axis=1)
    for j in range(len(assets) - 1):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=cum[i, j],
                mode="lines",
                showlegend=j == 0,
                name="target",
                legendgroup="target",
                hoverinfo="skip",
                line={"color": "#111827", "width": 1, "dash": "dot"},
            )
        )
    layout(fig, 320, ".0%")
    fig.update_yaxes(range=[0, 1], title_text="share of portfolio")
    return Figure(
        key,
        f"Holdings: {name}",
        "Post-trade weights held at each close, stacked; dotted lines mark where the target would put each boundary.",
        fig,
    )


def grouped_holdings(result: "Result") -> tuple[list[str], np.ndarray, np.ndarray]:
    """(names, held weights, target weights) with all but the MAX_ASSET_PANELS − 1 largest holdings
    summed as "other": forty thin stripes are unreadable."""
    assets = list(result.market.assets)
    w, tw = result.weights.to_numpy(), result.targets
    if len(assets) <= MAX_ASSET_PANELS:
        return assets, w, tw
    big = np.sort(np.argsort(-np.maximum(w.max(axis=0), tw.max(axis=0)), kind="stable")[: MAX_ASSET_PANELS - 1])
    rest = np.setdiff1d(np.arange(len(assets)), big)

    def grouped(x: np.ndarray) -> np.ndarray:
        return np.column_stack([x[:, big], x[:, rest].sum(axis=1)])

    return [assets[j] for j in big] + [f"other ({len(rest)})"], grouped(w), grouped(tw)


def drift_figure(result: "Result", key: str, name: str) -> Figure:
    """One panel per asset: pre-trade weight against target ± band, with each rebalance marked."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    pre = result.pre_trade_weights.to_numpy()
    tw = result.targets
    hw = half_widths(result)
    assets = list(result.market.assets)
    order = np.argsort(-np.abs(result.drift.to_numpy()).max(axis=0), kind="stable")[:MAX_ASSET_PANELS]
    order = np.sort(order)
    reb = rebalance_hover(result)
    reb = reb[reb["t"] > 0]
    # Row 0 is the all-cash start (pre-trade weights are zero there): the story begins at row 1.
    i = thin(len(pre) - 1, reb["t"].to_numpy() - 1) + 1
    x = x_axis(result)[i]
    fig = make_subplots(
        rows=len(order), cols=1, shared_xaxes=True, vertical_spacing=0.035, subplot_titles=[assets[j] for j in order]
    )
    for row, j in enumerate(order, start=1):
        color = ASSET_COLORS[j % len(ASSET_COLORS)]
        first = row == 1
        if hw is not None:
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=tw[i, j] + hw[i, j],
                    mode="lines",
                    line={"width": 0},
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup="band",
                ),
                row=row,
                col=1,
            )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=np.maximum(tw[i, j] - hw[i, j], 0),
                    mode="lines",
                    line={"width": 0},
                    fill="tonexty",
                    fillcolor="rgba(16,185,129,0.13)",
                    name="band",
                    legendgroup="band",
                    showlegend=first,
                    hoverinfo="skip",
                ),
                row=row,
                col=1,
            )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=tw[i, j],
                mode="lines",
                name="target",
                legendgroup="target",
                showlegend=first,
                line={"color": "#111827", "width": 1, "dash": "dot"},
                hovertemplate=f"{assets[j]} target %{{y:.2%}}",
            ),
            row=row,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=pre[i, j],
                mode="lines",
                name=assets[j],
                showlegend=False,
                line={"color": color, "width": 1.5},
                hovertemplate=f"{assets[j]} before trading %{{y:.2%}}",
            ),
            row=row,
            col=1,
        )
        if len(reb):
            t = reb["t"].to_numpy()
            fig.add_trace(
                go.Scatter(
                    x=x_axis(result)[t],
                    y=pre[t, j],
                    mode="markers",
                    name="rebalance",
                    legendgroup="rebalance",
                    showlegend=first,
                    text=reb["text"],
                    hovertemplate="%{text}<extra></extra>",
                    marker={
                        "symbol": "diamond",
                        "size": 6,
                        "color": "rgba(17,24,39,0.8)",
                        "line": {"width": 0.5, "color": "white"},
                    },
                ),
                row=row,
                col=1,
            )
    layout(fig, 140 + 150 * len(order), ".0%")
    fig.update_layout(hovermode="closest")
    fig.update_xaxes(range=[x[0], x[-1]])  # no autorange padding past the data
    fig.update_annotations(font_size=12, x=0, xanchor="left")
    hidden = len(assets) - len(order)
    note = (
        f" Showing the {len(order)} assets that drifted most; for the other {hidden}, `ballast backtest "
        "FILE --out DIR` writes every weight as CSV."
        if hidden > 0
        else ""
    )
    band_text = " Green: the trigger's band." if hw is not None else ""
    return Figure(
        key,
        f"Drift and rebalances: {name}",
        "Each asset's weight before trading against its target (dotted)."
        + band_text
        + " Diamonds: rebalances — hover for why it fired, how many trades and the cost."
        + note,
        fig,
    )
