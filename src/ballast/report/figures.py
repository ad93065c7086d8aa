"""The tearsheet's figures, built once and shared by the HTML page and the PNG export.

Every figure answers one question a person asks of a rebalancing rule: did it beat holding
(equity), what did it cost in pain (drawdowns), what did it hold (weights), when and why did it
trade (drift with rebalance markers), what did trading cost (costs and turnover), and did it keep
its risk where it promised (rolling volatility). Weights and drift are drawn in
``holdings_figures.py``, the yield and flow figures in ``treasury_figures.py``, and what every
figure shares (colours, layout, thinning) is in ``plotting.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ballast.report.holdings_figures import drift_figure, weights_figure
from ballast.report.plotting import (
    HOLD_COLOR,
    HOLD_DASHES,
    STRATEGY_COLORS,
    Figure,
    baselines,
    layout,
    names,
    per_strategy,
    rgba,
    thin,
    x_axis,
)

if TYPE_CHECKING:
    from ballast.engine.result import Result


def equity_figure(results: Sequence["Result"]) -> Figure:
    """Growth of 1 for each strategy against buy and hold, with a linear/log toggle."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for k, (name, r) in enumerate(zip(names(results), results, strict=True)):
        i = thin(len(r.raw.equity))
        fig.add_trace(
            go.Scatter(
                x=x_axis(r)[i],
                y=r.raw.equity[i] / r.strategy.capital,
                name=name,
                line={"color": STRATEGY_COLORS[k % len(STRATEGY_COLORS)], "width": 2},
                hovertemplate="%{y:.3f}×",
            )
        )
    for k, (name, b) in enumerate(baselines(results)):
        i = thin(len(b.raw.equity))
        fig.add_trace(
            go.Scatter(
                x=x_axis(b)[i],
                y=b.raw.equity[i] / b.strategy.capital,
                name=name,
                line={"color": HOLD_COLOR, "width": 1.5, "dash": HOLD_DASHES[k % len(HOLD_DASHES)]},
                hovertemplate="%{y:.3f}×",
            )
        )
    layout(fig, 420)
    curves = [r.raw.equity / r.strategy.capital for r in results]
    curves += [b.raw.equity / b.strategy.capital for _, b in baselines(results)]
    values, text = log_ticks(min(float(c.min()) for c in curves), max(float(c.max()) for c in curves))
    log_axis = {"yaxis.type": "log", "yaxis.tickvals": values, "yaxis.ticktext": text}
    fig.update_yaxes(title_text="growth of 1", type="log", tickvals=values, ticktext=text)
    # The toggle sits above the plot, right of the legend, so it never covers a line (PNG export drops it).
    fig.update_layout(
        margin_t=64,
        updatemenus=[
            {
                "type": "buttons",
                "direction": "right",
                "x": 1.0,
                "xanchor": "right",
                "y": 1.02,
                "yanchor": "bottom",
                "showactive": True,
                "active": 0,
                "bgcolor": "#f3f4f6",
                "bordercolor": "#d1d5db",
                "buttons": [
                    {"label": "log", "method": "relayout", "args": [log_axis]},
                    {
                        "label": "linear",
                        "method": "relayout",
                        "args": [{"yaxis.type": "linear", "yaxis.tickvals": None, "yaxis.ticktext": None}],
                    },
                ],
            }
        ],
    )
    return Figure(
        "equity",
        "Equity against buy and hold",
        "Value of 1 invested, after every cost. Dashed grey: the same starting weights, never "
        "rebalanced. Log scale shows equal percentage moves as equal heights.",
        fig,
    )


def log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Ticks at 1, 2 and 5 per decade covering [lo, hi], each labelled with its whole value
    ("0.5", "20"): plotly's own "D2" ticks print only the leading digit (0.5 as "5")."""
    lo, hi = max(lo, 1e-12), max(hi, lo * 1.0001)
    decades = range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1)
    values = [m * 10.0**e for e in decades for m in (1, 2, 5)]
    if sum(lo <= v <= hi for v in values) < 3:  # a narrow range: every tenth of a decade
        values = [m * 10.0**e for e in decades for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9)]
    below = [v for v in values if v <= lo]
    above = [v for v in values if v >= hi]
    kept = [v for v in values if (below[-1] if below else lo) <= v <= (above[0] if above else hi)]
    return [float(f"{v:.6g}") for v in kept], [f"{v:.6g}" for v in kept]


def drawdown(equity: np.ndarray) -> np.ndarray:
    """Loss from the running peak, as a negative fraction (0 at a new high)."""
    return equity / np.maximum.accumulate(equity) - 1.0


def drawdown_figure(results: Sequence["Result"]) -> Figure:
    import plotly.graph_objects as go

    fig = go.Figure()
    for k, (name, b) in enumerate(baselines(results)):
        i = thin(len(b.raw.equity))
        fig.add_trace(
            go.Scatter(
                x=x_axis(b)[i],
                y=drawdown(b.raw.equity)[i],
                name=name,
                line={"color": HOLD_COLOR, "width": 1, "dash": HOLD_DASHES[k % len(HOLD_DASHES)]},
                hovertemplate="%{y:.1%}",
            )
        )
    for k, (name, r) in enumerate(zip(names(results), results, strict=True)):
        i = thin(len(r.raw.equity))
        color = STRATEGY_COLORS[k % len(STRATEGY_COLORS)]
        fig.add_trace(
            go.Scatter(
                x=x_axis(r)[i],
                y=drawdown(r.raw.equity)[i],
                name=name,
                fill="tozeroy" if len(results) == 1 else None,
                fillcolor=rgba(color, 0.15),
                line={"color": color, "width": 1.5},
                hovertemplate="%{y:.1%}",
            )
        )
    layout(fig, 300, ".0%")
    fig.update_yaxes(title_text="below peak")
    return Figure("drawdowns", "Drawdowns", "How far below its previous peak each portfolio stood.", fig)


def turnover_per_rebalance(result: "Result") -> np.ndarray:
    """One-way turnover of each recorded rebalance, as the engine counts it (½·Σ|trade| / pre-trade value)."""
    log = result.raw.rebalances
    t, n, cost, value = log.t, log.n_trades, log.cost, log.value
    pre_value = result.raw.equity[t] + cost
    out = np.where(pre_value > 0, 0.5 * value / np.where(pre_value > 0, pre_value, 1.0), 0.0)
    return np.where((t > 0) & (n > 0), out, 0.0)


def costs_figure(results: Sequence["Result"]) -> Figure:
    """Cumulative costs (currency) and cumulative one-way turnover, per strategy."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["cumulative costs", "cumulative turnover (× value)"], horizontal_spacing=0.08
    )
    for k, (name, r) in enumerate(zip(names(results), results, strict=True)):
        color = STRATEGY_COLORS[k % len(STRATEGY_COLORS)]
        t = r.raw.rebalances.t
        T = len(r.raw.equity)
        costs = np.zeros(T)
        np.add.at(costs, t, r.raw.rebalances.cost)
        turn = np.zeros(T)
        np.add.at(turn, t, turnover_per_rebalance(r))
        i = thin(T, t)
        x = x_axis(r)[i]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=np.cumsum(costs)[i],
                name=name,
                legendgroup=name,
                line_shape="hv",
                line={"color": color, "width": 2},
                hovertemplate="%{y:,.2f}",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=np.cumsum(turn)[i],
                name=name,
                legendgroup=name,
                showlegend=False,
                line_shape="hv",
                line={"color": color, "width": 2},
                hovertemplate="%{y:.2f}×",
            ),
            row=1,
            col=2,
        )
    layout(fig, 340)
    fig.update_layout(legend_y=1.1, margin_t=56)
    fig.update_yaxes(
        title_text=f"paid, {results[0].strategy.cash or 'price currency'}", tickformat=",.0f", row=1, col=1
    )
    fig.update_yaxes(title_text="× portfolio value", row=1, col=2)
    fig.update_annotations(font_size=12)
    return Figure(
        "costs",
        "What trading cost",
        "Left: every cost paid, in currency, including forming the portfolio. Right: one-way "
        "turnover after formation, in multiples of portfolio value.",
        fig,
    )


def volatility_target(result: "Result") -> tuple[float, int | None] | None:
    """(annual target volatility, lookback) if the target, or a target it wraps, aims at one."""
    target: object | None = result.strategy.target
    while target is not None:
        vol = getattr(target, "target_vol", None)
        if isinstance(vol, (int, float)) and np.isfinite(vol):
            lookback = getattr(target, "lookback", None)
            return float(vol), int(lookback) if isinstance(lookback, (int, np.integer)) else None
        target = getattr(target, "inner", None)
    return None


def rolling_volatility(equity: np.ndarray, window: int, periods_per_year: float) -> np.ndarray:
    """Annualised standard deviation of the last ``window`` period returns (NaN until filled)."""
    r = pd.Series(equity).pct_change()
    vol: np.ndarray = (r.rolling(window, min_periods=window).std(ddof=1) * np.sqrt(periods_per_year)).to_numpy()
    return vol


def default_window(result: "Result") -> int:
    """The target's own lookback if it has one, else about a month of periods."""
    vt = volatility_target(result)
    if vt is not None and vt[1]:
        return vt[1]
    return max(5, round(result.market.periods_per_year / 12))


def volatility_figure(results: Sequence["Result"], window: int | None = None) -> Figure:
    import plotly.graph_objects as go

    fig = go.Figure()
    w = window or default_window(results[0])
    for k, (name, r) in enumerate(zip(names(results), results, strict=True)):
        color = STRATEGY_COLORS[k % len(STRATEGY_COLORS)]
        vol = rolling_volatility(r.raw.equity, w, r.market.periods_per_year)
        i = thin(len(vol))
        fig.add_trace(
            go.Scatter(
                x=x_axis(r)[i], y=vol[i], name=name, line={"color": color, "width": 1.5}, hovertemplate="%{y:.1%}"
            )
        )
        vt = volatility_target(r)
        if vt is not None:
            fig.add_trace(
                go.Scatter(
                    x=[x_axis(r)[0], x_axis(r)[-1]],
                    y=[vt[0], vt[0]],
                    mode="lines",
                    name=f"target ({name})",
                    line={"color": color, "width": 1.5, "dash": "dot"},
                    hovertemplate="target %{y:.1%}",
                )
            )
    for k, (name, b) in enumerate(baselines(results)):
        vol = rolling_volatility(b.raw.equity, w, b.market.periods_per_year)
        i = thin(len(vol))
        fig.add_trace(
            go.Scatter(
                x=x_axis(b)[i],
                y=vol[i],
                name=name,
                hovertemplate="%{y:.1%}",
                line={"color": HOLD_COLOR, "width": 1, "dash": HOLD_DASHES[k % len(HOLD_DASHES)]},
            )
        )
    layout(fig, 320, ".0%")
    fig.update_yaxes(title_text="annualised volatility", rangemode="tozero")
    has_target = any(volatility_target(r) is not None for r in results)
    return Figure(
        "volatility",
        "Rolling volatility" + (" against target" if has_target else ""),
        f"Annualised volatility of the last {w} period returns"
        + ("; dotted: the volatility the target aims at." if has_target else "."),
        fig,
    )


def all_figures(results: Sequence["Result"], vol_window: int | None = None) -> list[Figure]:
    """Every figure of the tearsheet, in page order."""
    figs = [equity_figure(results), drawdown_figure(results)]
    for suffix, name, r in per_strategy(results):
        figs.append(weights_figure(r, f"weights{suffix}", name))
        figs.append(drift_figure(r, f"drift{suffix}", name))
    figs.append(costs_figure(results))
    figs.append(volatility_figure(results, vol_window))
    from ballast.report.treasury_figures import treasury_figures  # yields and flows, when present

    figs.extend(treasury_figures(results))
    from ballast.report.liquidity_figures import liquidity_figures  # a liquidity position, when present

    figs.extend(liquidity_figures(results))
    from ballast.report.hedge_figures import hedge_figures  # a delta hedge, when present

    figs.extend(hedge_figures(results))
    return figs
