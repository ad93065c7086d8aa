"""The tearsheet's figures, built once and shared by the HTML page and the PNG export.

Every figure answers one question a person asks of a rebalancing rule: did it beat holding
(equity), what did it cost in pain (drawdowns), what did it hold (weights), when and why did it
trade (drift with rebalance markers), what did trading cost (costs and turnover), and did it keep
its risk where it promised (rolling volatility).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ballast.report.terminal import label

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ballast.engine.result import Result

# Strategy lines; buy & hold is drawn grey and dashed so "the rule" always stands out.
STRATEGY_COLORS = ("#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#dc2626", "#65a30d")
ASSET_COLORS = ("#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#f97316", "#84cc16",
                "#ec4899", "#64748b", "#14b8a6", "#a855f7")
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


def thin(n: int, keep: Sequence[int] = ()) -> np.ndarray:
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
        if any(len(e) == len(o.raw.equity) and np.allclose(e, o.raw.equity / o.strategy.capital)
               for _, o in kept):
            continue
        kept.append((r, b))
    if len(kept) == 1:
        return [("buy & hold", kept[0][1])]
    return [(f"buy & hold ({owner.strategy.name})", b) for owner, b in kept]


def names(results: Sequence["Result"]) -> list[str]:
    """Strategy names, made unique (two files may both be called "strategy")."""
    seen: dict[str, int] = {}
    out = []
    for r in results:
        n = r.strategy.name
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def _layout(fig: "go.Figure", height: int, yformat: str | None = None) -> None:
    fig.update_layout(
        template="plotly_white", height=height, margin={"l": 60, "r": 24, "t": 36, "b": 40},
        font={"family": "Inter, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif", "size": 12,
              "color": "#1f2937"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "bgcolor": "rgba(0,0,0,0)"},
        hovermode="x unified", paper_bgcolor="white", plot_bgcolor="white",
    )
    fig.update_xaxes(showgrid=False, linecolor="#d1d5db", ticks="outside", tickcolor="#d1d5db")
    fig.update_yaxes(gridcolor="#eef0f3", zeroline=False)
    if yformat:
        fig.update_yaxes(tickformat=yformat)


def equity_figure(results: Sequence["Result"]) -> Figure:
    """Growth of 1 for each strategy against buy and hold, with a linear/log toggle."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for k, (name, r) in enumerate(zip(names(results), results, strict=True)):
        i = thin(len(r.raw.equity))
        fig.add_trace(go.Scatter(x=x_axis(r)[i], y=r.raw.equity[i] / r.strategy.capital, name=name,
                                 line={"color": STRATEGY_COLORS[k % len(STRATEGY_COLORS)], "width": 2},
                                 hovertemplate="%{y:.3f}×"))
    for k, (name, b) in enumerate(baselines(results)):
        i = thin(len(b.raw.equity))
        fig.add_trace(go.Scatter(x=x_axis(b)[i], y=b.raw.equity[i] / b.strategy.capital, name=name,
                                 line={"color": HOLD_COLOR, "width": 1.5, "dash": HOLD_DASHES[k % len(HOLD_DASHES)]},
                                 hovertemplate="%{y:.3f}×"))
    _layout(fig, 420)
    curves = [r.raw.equity / r.strategy.capital for r in results]
    curves += [b.raw.equity / b.strategy.capital for _, b in baselines(results)]
    values, text = log_ticks(min(float(c.min()) for c in curves), max(float(c.max()) for c in curves))
    log_axis = {"yaxis.type": "log", "yaxis.tickvals": values, "yaxis.ticktext": text}
    fig.update_yaxes(title_text="growth of 1", type="log", tickvals=values, ticktext=text)
    # The toggle sits above the plot, right of the legend, so it never covers a line (PNG export drops it).
    fig.update_layout(margin_t=64, updatemenus=[{
        "type": "buttons", "direction": "right", "x": 1.0, "xanchor": "right", "y": 1.02, "yanchor": "bottom",
        "showactive": True, "active": 0, "bgcolor": "#f3f4f6", "bordercolor": "#d1d5db",
        "buttons": [{"label": "log", "method": "relayout", "args": [log_axis]},
                    {"label": "linear", "method": "relayout",
                     "args": [{"yaxis.type": "linear", "yaxis.tickvals": None, "yaxis.ticktext": None}]}],
    }])
    return Figure("equity", "Equity against buy and hold",
                  "Value of 1 invested, after every cost. Dashed grey: the same starting weights, never "
                  "rebalanced. Log scale shows equal percentage moves as equal heights.", fig)


def log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Ticks at 1, 2 and 5 per decade covering [lo, hi], each labelled with its whole value
    ("0.5", "20"): plotly's own "D2" ticks print only the leading digit (0.5 as "5")."""
    lo, hi = max(lo, 1e-12), max(hi, lo * 1.0001)
    decades = range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1)
    values = [m * 10.0 ** e for e in decades for m in (1, 2, 5)]
    if sum(lo <= v <= hi for v in values) < 3:  # a narrow range: every tenth of a decade
        values = [m * 10.0 ** e for e in decades for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9)]
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
        fig.add_trace(go.Scatter(x=x_axis(b)[i], y=drawdown(b.raw.equity)[i], name=name,
                                 line={"color": HOLD_COLOR, "width": 1, "dash": HOLD_DASHES[k % len(HOLD_DASHES)]},
                                 hovertemplate="%{y:.1%}"))
    for k, (name, r) in enumerate(zip(names(results), results, strict=True)):
        i = thin(len(r.raw.equity))
        color = STRATEGY_COLORS[k % len(STRATEGY_COLORS)]
        fig.add_trace(go.Scatter(x=x_axis(r)[i], y=drawdown(r.raw.equity)[i], name=name,
                                 fill="tozeroy" if len(results) == 1 else None,
                                 fillcolor=_rgba(color, 0.15), line={"color": color, "width": 1.5},
                                 hovertemplate="%{y:.1%}"))
    _layout(fig, 300, ".0%")
    fig.update_yaxes(title_text="below peak")
    return Figure("drawdowns", "Drawdowns", "How far below its previous peak each portfolio stood.", fig)


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[j:j + 2], 16) for j in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def half_widths(result: "Result") -> np.ndarray | None:
    """T×N band half-widths around the target path, if the trigger has a drift band."""
    from ballast.strategy import first_band

    band = first_band(result.strategy.trigger)
    if band is None:
        return None
    a, r = band.widths(result.market.assets)
    return np.maximum(a[None, :], r[None, :] * result.targets)


def rebalance_hover(result: "Result") -> pd.DataFrame:
    """One row per rebalance: time index, reason, trades, cost — for the markers' hover text."""
    t = result.raw.rebalances.t
    frame = result.rebalances.copy()
    frame["t"] = t
    frame["text"] = [f"<b>{label(tm)}</b><br>{_wrap(reason)}<br>{n} trade{'s' if n != 1 else ''}, "
                     f"cost {c:,.2f}" for tm, reason, n, c in zip(frame["time"], frame["reason"],
                                                                  frame["n_trades"], frame["cost"], strict=True)]
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
        fig.add_trace(go.Scatter(x=x, y=w[i, j], name=asset, stackgroup="held", mode="lines",
                                 line={"width": 0.5, "color": color}, fillcolor=_rgba(color, 0.55),
                                 hovertemplate=f"{asset} %{{y:.1%}}"))
    cum = np.cumsum(tw, axis=1)
    for j in range(len(assets) - 1):
        fig.add_trace(go.Scatter(x=x, y=cum[i, j], mode="lines", showlegend=j == 0, name="target",
                                 legendgroup="target", hoverinfo="skip",
                                 line={"color": "#111827", "width": 1, "dash": "dot"}))
    _layout(fig, 320, ".0%")
    fig.update_yaxes(range=[0, 1], title_text="share of portfolio")
    return Figure(key, f"Holdings: {name}",
                  "Post-trade weights held at each close, stacked; dotted lines mark where the target "
                  "would put each boundary.", fig)


def grouped_holdings(result: "Result") -> tuple[list[str], np.ndarray, np.ndarray]:
    """(names, held weights, target weights) with all but the MAX_ASSET_PANELS − 1 largest holdings
    summed as "other": forty thin stripes are unreadable."""
    assets = list(result.market.assets)
    w, tw = result.weights.to_numpy(), result.targets
    if len(assets) <= MAX_ASSET_PANELS:
        return assets, w, tw
    big = np.sort(np.argsort(-np.maximum(w.max(axis=0), tw.max(axis=0)), kind="stable")[:MAX_ASSET_PANELS - 1])
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
    fig = make_subplots(rows=len(order), cols=1, shared_xaxes=True, vertical_spacing=0.035,
                        subplot_titles=[assets[j] for j in order])
    for row, j in enumerate(order, start=1):
        color = ASSET_COLORS[j % len(ASSET_COLORS)]
        first = row == 1
        if hw is not None:
            fig.add_trace(go.Scatter(x=x, y=tw[i, j] + hw[i, j], mode="lines", line={"width": 0},
                                     hoverinfo="skip", showlegend=False, legendgroup="band"), row=row, col=1)
            fig.add_trace(go.Scatter(x=x, y=np.maximum(tw[i, j] - hw[i, j], 0), mode="lines",
                                     line={"width": 0}, fill="tonexty", fillcolor="rgba(16,185,129,0.13)",
                                     name="band", legendgroup="band", showlegend=first, hoverinfo="skip"),
                          row=row, col=1)
        fig.add_trace(go.Scatter(x=x, y=tw[i, j], mode="lines", name="target", legendgroup="target",
                                 showlegend=first, line={"color": "#111827", "width": 1, "dash": "dot"},
                                 hovertemplate=f"{assets[j]} target %{{y:.2%}}"), row=row, col=1)
        fig.add_trace(go.Scatter(x=x, y=pre[i, j], mode="lines", name=assets[j], showlegend=False,
                                 line={"color": color, "width": 1.5},
                                 hovertemplate=f"{assets[j]} before trading %{{y:.2%}}"), row=row, col=1)
        if len(reb):
            t = reb["t"].to_numpy()
            fig.add_trace(go.Scatter(
                x=x_axis(result)[t], y=pre[t, j], mode="markers", name="rebalance", legendgroup="rebalance",
                showlegend=first, text=reb["text"], hovertemplate="%{text}<extra></extra>",
                marker={"symbol": "diamond", "size": 6, "color": "rgba(17,24,39,0.8)",
                        "line": {"width": 0.5, "color": "white"}},
            ), row=row, col=1)
    _layout(fig, 140 + 150 * len(order), ".0%")
    fig.update_layout(hovermode="closest")
    fig.update_xaxes(range=[x[0], x[-1]])  # no autorange padding past the data
    fig.update_annotations(font_size=12, x=0, xanchor="left")
    hidden = len(assets) - len(order)
    note = (f" Showing the {len(order)} assets that drifted most; for the other {hidden}, `ballast backtest "
            "FILE --out DIR` writes every weight as CSV." if hidden > 0 else "")
    band_text = " Green: the trigger's band." if hw is not None else ""
    return Figure(key, f"Drift and rebalances: {name}",
                  "Each asset's weight before trading against its target (dotted)." + band_text +
                  " Diamonds: rebalances — hover for why it fired, how many trades and the cost." + note, fig)


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

    fig = make_subplots(rows=1, cols=2, subplot_titles=["cumulative costs", "cumulative turnover (× value)"],
                        horizontal_spacing=0.08)
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
        fig.add_trace(go.Scatter(x=x, y=np.cumsum(costs)[i], name=name, legendgroup=name, line_shape="hv",
                                 line={"color": color, "width": 2}, hovertemplate="%{y:,.2f}"), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=np.cumsum(turn)[i], name=name, legendgroup=name, showlegend=False,
                                 line_shape="hv", line={"color": color, "width": 2},
                                 hovertemplate="%{y:.2f}×"), row=1, col=2)
    _layout(fig, 340)
    fig.update_layout(legend_y=1.1, margin_t=56)
    fig.update_yaxes(title_text=f"paid, {results[0].strategy.cash or 'price currency'}", tickformat=",.0f",
                     row=1, col=1)
    fig.update_yaxes(title_text="× portfolio value", row=1, col=2)
    fig.update_annotations(font_size=12)
    return Figure("costs", "What trading cost",
                  "Left: every cost paid, in currency, including forming the portfolio. Right: one-way "
                  "turnover after formation, in multiples of portfolio value.", fig)


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
    return (r.rolling(window, min_periods=window).std(ddof=1) * np.sqrt(periods_per_year)).to_numpy()


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
        fig.add_trace(go.Scatter(x=x_axis(r)[i], y=vol[i], name=name, line={"color": color, "width": 1.5},
                                 hovertemplate="%{y:.1%}"))
        vt = volatility_target(r)
        if vt is not None:
            fig.add_trace(go.Scatter(x=[x_axis(r)[0], x_axis(r)[-1]], y=[vt[0], vt[0]], mode="lines",
                                     name=f"target ({name})", line={"color": color, "width": 1.5, "dash": "dot"},
                                     hovertemplate="target %{y:.1%}"))
    for k, (name, b) in enumerate(baselines(results)):
        vol = rolling_volatility(b.raw.equity, w, b.market.periods_per_year)
        i = thin(len(vol))
        fig.add_trace(go.Scatter(x=x_axis(b)[i], y=vol[i], name=name, hovertemplate="%{y:.1%}",
                                 line={"color": HOLD_COLOR, "width": 1, "dash": HOLD_DASHES[k % len(HOLD_DASHES)]}))
    _layout(fig, 320, ".0%")
    fig.update_yaxes(title_text="annualised volatility", rangemode="tozero")
    has_target = any(volatility_target(r) is not None for r in results)
    return Figure("volatility", "Rolling volatility" + (" against target" if has_target else ""),
                  f"Annualised volatility of the last {w} period returns"
                  + ("; dotted: the volatility the target aims at." if has_target else "."), fig)


def all_figures(results: Sequence["Result"], vol_window: int | None = None) -> list[Figure]:
    """Every figure of the tearsheet, in page order."""
    figs = [equity_figure(results), drawdown_figure(results)]
    for k, (name, r) in enumerate(zip(names(results), results, strict=True)):
        suffix = "" if len(results) == 1 else f"-{k + 1}"
        figs.append(weights_figure(r, f"weights{suffix}", name))
        figs.append(drift_figure(r, f"drift{suffix}", name))
    figs.append(costs_figure(results))
    figs.append(volatility_figure(results, vol_window))
    from ballast.report.treasury_figures import treasury_figures  # yields and flows, when present

    figs.extend(treasury_figures(results))
    return figs
