"""Rich views of the live service: the running status panel and ``ballast status`` tables."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


def _f(x: float | None, fmt: str = ",.2f") -> str:
    return "—" if x is None else format(x, fmt)


def _qty(x: float | None) -> str:
    """A quantity with thousands separators and about six significant digits, never 2.6e+06."""
    if x is None:
        return "—"
    if 0 < abs(x) < 1:
        return f"{x:,.{min(12, 5 - math.floor(math.log10(abs(x))))}f}"
    return f"{x:,.{max(0, 6 - len(f'{abs(x):.0f}'))}f}"


def _time(x: object) -> str:
    """A timestamp to the second (microseconds only crowd the panel)."""
    return "—" if x is None else str(x).replace("T", " ")[:19]


def _grid() -> Table:
    """The label/value header grid; values fold instead of being cut with "…"."""
    grid = Table.grid(padding=(0, 2))
    for _ in range(4):
        grid.add_column(overflow="fold")
    return grid


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.2%}"


def _drift(x: float | None) -> Text:
    if x is None:
        return Text("—")
    return Text(f"{x:+.2%}", style="red" if abs(x) > 0.05 else ("yellow" if abs(x) > 0.02 else "green"))


def holdings_table(lines: list[dict[str, Any]], title: str = "holdings vs target") -> Table:
    t = Table("asset", "units", "price", "value", "weight", "target", "drift", title=title, title_justify="left")
    for ln in lines:
        t.add_row(
            ln["asset"],
            _qty(ln.get("units")),
            _qty(ln.get("price")),
            _f(ln.get("value")),
            _pct(ln.get("weight")),
            _pct(ln.get("target")),
            _drift(None if ln.get("weight") is None or ln.get("target") is None else ln["weight"] - ln["target"]),
        )
    return t


def _hf(x: float | None, warn_at: float | None) -> Text:
    if x is None:
        return Text("∞ (no debt)", style="green")
    style = "red" if x < 1.0 or (warn_at is not None and x < warn_at) else "green"
    return Text(f"{x:.4f}", style=style)


def liquidity_table(lp: dict[str, Any]) -> Table:
    """The liquidity position: range, in range or not, value, fees earned, resets."""
    t = Table(
        "position",
        "range",
        "in range",
        "value",
        "fees",
        "resets",
        "time in range",
        title="liquidity (paper pool)",
        title_justify="left",
    )
    a, b = lp["pair"]
    tir = lp["time_in_range"]
    t.add_row(
        f"{a}/{b}",
        f"{lp['lower']:,.6g} – {lp['upper']:,.6g}",
        "yes" if lp["in_range"] else "NO",
        _f(lp["value"]),
        _f(lp["fees"]),
        str(lp["resets"]),
        "—" if tir is None else f"{tir:.0%}",
    )
    return t


def hedge_table(h: dict[str, Any]) -> Table:
    """The delta hedge: the exposure's delta, the band around the target, the perp (size, unrealised
    PnL since entry, margin), funding and fees to date, and the last re-hedge and why."""
    t = Table("perp", "delta", "band", "size", "uPnL", "margin", "funding", "fees", "re-hedges",
              title="delta hedge", title_justify="left")  # fmt: skip
    band = h["band"]
    t.add_row(
        h["instrument"],
        "—" if h["delta"] is None else f"{h['delta']:,.6g}",
        "—" if band is None else f"{band[0]:,.6g} – {band[1]:,.6g}",
        f"{h['size']:,.6g}",
        _f(h["unrealised_pnl"]),
        _f(h["margin"]),
        _f(-h["funding_paid"]) + " received" if h["funding_paid"] <= 0 else _f(h["funding_paid"]) + " paid",
        _f(h["fees"]),
        str(h["rehedges"]),
    )
    if h["last_rehedge"]:
        last = h["last_rehedge"]
        t.caption = f"last re-hedge (period {last['period']}): {last['reason']}"
    return t


def loans_table(loans: list[dict[str, Any]]) -> Table:
    """Each loan: health factor, collateral, debt, net value, liquidation price, the band
    (repay below → to | boost above → to) and its repays, boosts and liquidations."""
    t = Table(
        "loan",
        "HF",
        "collateral",
        "debt",
        "net value",
        "liq. at",
        "band",
        "r/b/liq",
        title="loans (paper lending market)",
        title_justify="left",
    )
    for col in t.columns:
        col.overflow = "fold"
    for ln in loans:
        b = ln.get("band")
        band = (
            "—"
            if not b
            else f"{b['repay_below']:g}→{b['repay_to']:g}"
            + ("" if b.get("boost_above") is None else f" | {b['boost_above']:g}→{b['boost_to']:g}")
        )
        t.add_row(
            ln["name"],
            _hf(ln["health_factor"], ln.get("warn_at")),
            ", ".join(f"{_qty(c['units'])} {a}" for a, c in ln["collateral"].items()),
            f"{_qty(ln['debt'])} {ln['debt_asset']}",
            _f(ln["net_value"], ",.0f"),
            "—" if ln.get("liquidation_price") is None else _qty(ln["liquidation_price"]),
            band,
            f"{ln['repays']}/{ln['boosts']}/{ln['liquidations']}",
        )
    return t


def running_view(svc: Any) -> RenderableType:
    """The panel ``ballast run`` keeps updating."""
    v = svc.view
    head = _grid()
    head.add_row("strategy", Text(svc.strategy.name), "executor", svc.mode + (" (dry run)" if svc.dry_run else ""))
    head.add_row("source", svc.source_label, "observed", str(v.observed_at or "—"))
    head.add_row("cycles", str(v.cycles), "period", str(v.period if v.period is not None else "—"))
    head.add_row("value", _f(v.value), "status", Text(f"{v.status}" + (f": {v.note}" if v.note else "")))
    head.add_row("decisions", str(v.decisions), "guarded cycles", str(v.guarded))
    parts: list[RenderableType] = [head, holdings_table(v.lines, "pre-trade holdings at the last observation")]
    if v.last_decision:
        parts.append(Text(f"last decision: {v.last_decision}"))
    return Panel(Group(*parts), title="ballast run", border_style="cyan")


def status_view(
    st: dict[str, Any],
    decisions: list[dict[str, Any]],
    orders: list[dict[str, Any]],
    alerts: list[dict[str, Any]],
    proposals: list[dict[str, Any]],
) -> RenderableType:
    svc = st["service"]
    c = st["counts"]
    head = _grid()
    head.add_row("strategy", Text(str(svc["strategy"])), "executor", str(svc["executor"]))
    head.add_row(
        "trading",
        "[red]paused[/]" + (f" ({escape(svc['pause_reason'])})" if svc["pause_reason"] else "")
        if svc["paused"]
        else "[green]enabled[/]",
        "service",
        "[green]running[/]" if svc.get("running") else f"[red]stopped[/] (last seen {_time(svc['heartbeat_at'])})",
    )
    last = st["last_cycle"] or {}
    head.add_row("last cycle", f"{_time(last.get('observed_at'))} {last.get('status', '')}", "value", _f(st["value"]))
    head.add_row("cycles", str(c["cycles"]), "decisions", str(c["decisions"]))
    head.add_row("orders", str(c["orders"]), "fills", str(c["fills"]))
    head.add_row("proposals", str(c["proposals"]), "open alerts", str(c["open_alerts"]))
    if st.get("runway"):
        r = st["runway"]
        head.add_row(
            "runway",
            "covered by its yield" if r["infinite"] else f"{r['months']:,.1f} months",
            f"{r['reserve_asset']} reserve",
            f"{_f(r['reserve_value'])} (spend {_f(r['spend_per_month'])}/month)",
        )
    parts: list[RenderableType] = [head, holdings_table(st["lines"])]
    if st.get("loans"):
        parts.append(loans_table(st["loans"]))
    if st.get("liquidity"):
        parts.append(liquidity_table(st["liquidity"]))
    if st.get("hedge"):
        parts.append(hedge_table(st["hedge"]))
    if decisions:
        t = Table("id", "observed", "state", "notional", "reason", title="last decisions", title_justify="left")
        for d in decisions:
            t.add_row(str(d["id"]), str(d["observed_at"]), d["state"], _f(d["notional"]), Text(d["reason"]))
        parts.append(t)
    if orders:
        t = Table("client id", "side", "asset", "quantity", "status", title="open orders", title_justify="left")
        for o in orders:
            t.add_row(o["client_order_id"], o["side"], o["asset"], _qty(o["quantity"]), o["status"])
        parts.append(t)
    if proposals:
        t = Table("id", "decision", "state", "trades", "reason", title="pending proposals", title_justify="left")
        for p in proposals:
            t.add_row(
                str(p["id"]),
                str(p["decision_id"]),
                p["state"],
                str(len(p["payload"].get("trades", []))),
                Text(str(p["payload"].get("reason", ""))),
            )
        parts.append(t)
    if alerts:
        t = Table("id", "time", "level", "kind", "message", title="open alerts", title_justify="left")
        for a in alerts:
            t.add_row(str(a["id"]), str(a["created_at"]), a["level"], a["kind"], Text(a["message"]))
        parts.append(t)
    return Group(*parts)
