"""The HTML tearsheet: one self-contained file (plotly.js inlined) that opens offline, anywhere.

A person should see at a glance whether the rule beat holding and what it cost, then scroll to
how it behaved: headline cards first, figures next, the full metrics table and the configuration
last, so the page also works as a record of exactly what was run.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ballast.engine.metrics import METRIC_DOCS
from ballast.engine.treasury_docs import TREASURY_DOCS
from ballast.report.figures import all_figures
from ballast.report.files import write_text_atomic
from ballast.report.plotting import STRATEGY_COLORS, Figure, baselines, names
from ballast.report.terminal import HIGHER_IS_BETTER, fmt, label

if TYPE_CHECKING:
    from ballast.engine.result import Result

LOWER_IS_BETTER = {"volatility", "max_drawdown", "total_costs", "mean_abs_drift", "max_abs_drift", "tracking_error"}
# Headline cards: (metric, caption); the rest is in the table.
CARDS = (
    ("total_return", "total return"),
    ("cagr", "CAGR"),
    ("volatility", "volatility"),
    ("max_drawdown", "max drawdown"),
    ("sharpe", "Sharpe"),
    ("total_costs", "costs paid"),
    ("n_rebalances", "rebalances"),
)
PLOT_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
    "toImageButtonOptions": {"format": "png", "scale": 2},
}

CSS = """
:root { --ink:#111827; --muted:#6b7280; --line:#e5e7eb; --bg:#f6f7f9; --card:#fff; --good:#047857; --bad:#b91c1c; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:14px/1.5 Inter, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
header { background:linear-gradient(135deg,#0f172a,#1e3a8a); color:#fff; padding:28px 40px 24px; }
header h1 { margin:0 0 4px; font-size:24px; font-weight:650; letter-spacing:-.01em; }
header .sub { color:#cbd5e1; font-size:13px; }
main { max-width:1240px; margin:0 auto; padding:24px 32px 48px; }
section { background:var(--card); border:1px solid var(--line); border-radius:12px; padding:18px 20px 10px;
  margin:0 0 20px; box-shadow:0 1px 2px rgba(16,24,40,.04); }
section h2 { margin:0 0 2px; font-size:16px; font-weight:620; }
section p.caption { margin:0 0 8px; color:var(--muted); font-size:12.5px; }
.strategy { margin-bottom:12px; }
.strategy h3 { margin:0 0 8px; font-size:14px; display:flex; align-items:center; gap:8px; }
.swatch { width:12px; height:12px; border-radius:3px; display:inline-block; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(140px,1fr)); gap:10px; }
.card { border:1px solid var(--line); border-radius:10px; padding:10px 12px; background:#fbfcfd; }
.card .k { color:var(--muted); font-size:11.5px; text-transform:uppercase; letter-spacing:.04em; }
.card .v { font-size:21px; font-weight:650; font-variant-numeric:tabular-nums; }
.card .d { font-size:12px; color:var(--muted); font-variant-numeric:tabular-nums; }
.card .d.good { color:var(--good); } .card .d.bad { color:var(--bad); }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; margin-bottom:10px; }
th, td { padding:6px 10px; border-bottom:1px solid var(--line); text-align:right; white-space:nowrap; }
th:first-child, td:first-child { text-align:left; }
thead th { font-size:12px; color:var(--muted); font-weight:600; border-bottom:2px solid var(--line); }
.wide { overflow-x:auto; }
td.best { color:var(--good); font-weight:650; }
td abbr { text-decoration:none; border-bottom:1px dotted #9ca3af; cursor:help; }
dl.config { display:grid; grid-template-columns:max-content 1fr; gap:4px 18px; margin:0 0 12px; }
dl.config dt { color:var(--muted); } dl.config dd { margin:0; font-family:ui-monospace, Menlo, Consolas, monospace;
  font-size:12.5px; word-break:break-word; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:0 0 32px; }
"""


def write_tearsheet(
    results: Sequence["Result"], path: str | Path, *, title: str | None = None, vol_window: int | None = None
) -> Path:
    """Write the tearsheet for one or several backtests to ``path``; returns the absolute path."""
    if not results:
        raise ValueError("write_tearsheet needs at least one backtest result")
    return write_text_atomic(Path(path), render(results, title=title, vol_window=vol_window))


def plotly_js() -> str:
    """The plotly.js bundle shipped inside the plotly package (no CDN, works offline)."""
    from plotly.offline import get_plotlyjs

    bundle: str = get_plotlyjs()
    return bundle


def render(results: Sequence["Result"], *, title: str | None = None, vol_window: int | None = None) -> str:
    figs = all_figures(results, vol_window)
    labels = names(results)
    first = results[0]
    heading = title or (labels[0] if len(results) == 1 else " vs ".join(labels))
    span = f"{label(first.market.index[0])} → {label(first.market.index[-1])}"
    sub = f"{span} · {first.market.n_periods:,} periods · {asset_summary(results)}"
    body = [
        _section(
            "Headline",
            "Each strategy against buy and hold of the same starting weights, after costs.",
            _cards(results, labels),
        ),
        *(_figure_section(f) for f in figs),
        _section(
            "All metrics", "Hover a metric for its definition. Green: best in the row.", _metrics_table(results, labels)
        ),
        _section("Configuration", "Exactly what was run, so this page is a record.", _config(results, labels)),
    ]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    from ballast import __version__

    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(heading)} · ballast report</title>
<style>{CSS}</style>
<script type="text/javascript">{plotly_js()}</script>
</head>
<body>
<header><h1>{html.escape(heading)}</h1><div class="sub">{html.escape(sub)}</div></header>
<main>
{"".join(body)}
</main>
<footer>ballast {__version__} · generated {stamp} · self-contained: opens offline</footer>
</body>
</html>
"""


def asset_summary(results: Sequence["Result"]) -> str:
    """ "3 assets (BTC, ETH, USDT)" over every strategy on the page; a long list is counted, not spelled out."""
    assets = list(dict.fromkeys(a for r in results for a in r.market.assets))
    shown = f" ({', '.join(assets)})" if len(assets) <= 8 else ""
    return f"{len(assets)} assets{shown}"


def _section(title: str, caption: str, inner: str, key: str | None = None) -> str:
    ident = f' id="{html.escape(key)}"' if key else ""
    return (
        f'<section{ident}><h2>{html.escape(title)}</h2><p class="caption">{html.escape(caption)}</p>{inner}</section>\n'
    )


def _figure_section(f: Figure) -> str:
    div = f"fig-{f.key}"
    spec = f.figure.to_json()
    script = (
        f'<div id="{div}" class="figure" data-key="{html.escape(f.key)}"></div>'
        f"<script>(function(){{var s={spec};"
        f"Plotly.newPlot('{div}', s.data, s.layout, {json.dumps(PLOT_CONFIG)});}})();</script>"
    )
    return _section(f.title, f.caption, script, key=f.key)


def _delta(name: str, value: float, base: float) -> tuple[str, str]:
    """Text and class for a card's comparison with buy and hold."""
    if not (np.isfinite(value) and np.isfinite(base)):
        return "", ""
    diff = value - base
    if name in ("total_costs", "n_rebalances"):
        return f"hold: {fmt(name, base)}", ""
    good = diff > 0 if name in HIGHER_IS_BETTER else diff < 0 if name in LOWER_IS_BETTER else None
    if name in ("sharpe",):
        text = f"{diff:+.2f} vs hold"
    else:
        text = f"{diff * 100:+.1f} pts vs hold"
    return text, ("good" if good else "bad") if good is not None and abs(diff) > 1e-12 else ""


def _cards(results: Sequence["Result"], labels: list[str]) -> str:
    out = []
    for k, (name, r) in enumerate(zip(labels, results, strict=True)):
        base = r.baseline.metrics if r.baseline is not None else None
        cards = []
        for metric, caption in CARDS:
            v = r.metrics[metric]
            delta, cls = _delta(metric, v, base[metric]) if base is not None else ("", "")
            cards.append(
                f'<div class="card"><div class="k">{caption}</div><div class="v">{fmt(metric, v)}</div>'
                f'<div class="d {cls}">{html.escape(delta) or "&nbsp;"}</div></div>'
            )
        color = STRATEGY_COLORS[k % len(STRATEGY_COLORS)]
        out.append(
            f'<div class="strategy"><h3><span class="swatch" style="background:{color}"></span>'
            f'{html.escape(name)}</h3><div class="cards">{"".join(cards)}</div></div>'
        )
    return "".join(out)


def _metrics_table(results: Sequence["Result"], labels: list[str]) -> str:
    columns: list[tuple[str, dict[str, float]]] = [(n, r.metrics) for n, r in zip(labels, results, strict=True)]
    columns += [(n, b.metrics) for n, b in baselines(results)]
    head = "".join(f"<th>{html.escape(n)}</th>" for n, _ in columns)
    rows = []
    for metric in results[0].metrics:
        values = [m.get(metric, float("nan")) for _, m in columns]
        finite = [v for v in values if v is not None and np.isfinite(v)]
        best = None
        if len(finite) > 1 and metric in HIGHER_IS_BETTER:
            best = max(finite)
        elif len(finite) > 1 and metric in LOWER_IS_BETTER:
            best = min(finite)
        cells = "".join(
            f'<td class="{"best" if best is not None and v == best else ""}">{fmt(metric, v)}</td>' for v in values
        )
        doc = html.escape(METRIC_DOCS.get(metric, TREASURY_DOCS.get(metric, "")))
        rows.append(f'<tr><td><abbr title="{doc}">{html.escape(metric)}</abbr></td>{cells}</tr>')
    return (
        f'<div class="wide"><table><thead><tr><th>metric</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _config(results: Sequence["Result"], labels: list[str]) -> str:
    out = []
    for k, (name, r) in enumerate(zip(labels, results, strict=True)):
        items: dict[str, Any] = {
            "name": r.strategy.name,
            **r.strategy.describe(),
            "period": f"{label(r.market.index[0])} → {label(r.market.index[-1])}",
            "periods": f"{r.market.n_periods:,} ({r.market.periods_per_year:g} per year)",
            "assets": ", ".join(r.market.assets),
            "conventions": r.conventions,
        }
        rows = "".join(f"<dt>{html.escape(str(key))}</dt><dd>{html.escape(_text(v))}</dd>" for key, v in items.items())
        color = STRATEGY_COLORS[k % len(STRATEGY_COLORS)]
        out.append(
            f'<div class="strategy"><h3><span class="swatch" style="background:{color}"></span>'
            f'{html.escape(name)}</h3><dl class="config">{rows}</dl></div>'
        )
    return "".join(out)


def _text(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:,.10g}"
    return "–" if value is None else str(value)


def write_pngs(
    results: Sequence["Result"], directory: str | Path, *, vol_window: int | None = None, scale: float = 2.0
) -> list[Path]:
    """Each figure of the tearsheet as ``DIRECTORY/<key>.png`` (for docs and terminals)."""
    from ballast.report.png import export

    return export(all_figures(results, vol_window), Path(directory), scale)
