"""Yields and flows in the live ledger: each cycle's accruals and scheduled flows as entries.

At every accepted close, before the decision (as in the backtest, docs/treasury.md): positions
accrue their yield over the actual time since the last accepted close, then the close's scheduled
flows are paid — computed by the backtest's own compiled steps (``yields.kernel.accrue``,
``flows.kernel.apply_flows``) on the strategy's own `Yields` and `Flows`, encoded on the last two
closes. What they changed becomes `LedgerEntry` rows, written in the cycle's transaction, so
holdings = starting holdings + fills + entries, and a crash either books the whole close or
nothing of it (the cycle is then observed again). Keys ``p<period>:<kind>:<asset>`` are unique:
a close cannot be booked twice.

Routing is the backtest's too (``apply_flows`` moves the holdings towards the close's target):
with ``pro-rata`` or ``rebalance`` the flow's own asset is booked as the deposit or withdrawal and
every other holding the routing moved (and the flow asset's settlement of the legs' costs) as a
``routing`` entry. Those legs are booked, not sent as orders, so they run with the paper
executor only; with ccxt or proposals a flow must be paid from the cash asset (refused at start).
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ballast.enums import FLOW_SHORTFALL, N_FLOW_COLUMNS
from ballast.errors import InputError
from ballast.flows import Dated, Flows, Recurring, SpendingRule
from ballast.flows.metrics import runway_months
from ballast.live.models import Alert as AlertRow
from ballast.live.models import Cycle, HoldingSnapshot, LedgerEntry, TreasuryMark, utcnow
from ballast.live.records import CASH
from ballast.market import Market
from ballast.strategy import Strategy
from ballast.yields import period_years

if TYPE_CHECKING:
    from ballast.live.repository import Ledger

Alert = tuple[str, str, str, str | None]


@dataclass(frozen=True)
class Entry:
    """Units of ``asset`` in (+) or out (−): kind deposit | withdrawal | accrual."""

    asset: str
    units: float
    kind: str
    source: str
    value: float | None = None
    note: str | None = None


@dataclass(frozen=True)
class TreasuryCycle:
    """What one close books: its entries and its runway inputs (None: the strategy has no reserve)."""

    entries: list[Entry] = field(default_factory=list)
    reserve_asset: str | None = None
    spend_month: float = 0.0
    reserve_yield_month: float = 0.0
    alerts: list[Alert] = field(default_factory=list)  # a withdrawal that could not be paid in full


def check_live_routing(strategy: Strategy, source: str, executor: str) -> None:
    """A flow routed by selling (``pro-rata``, ``rebalance``) books its legs as entries, which only
    the paper executor's account follows: a real venue would need them sent as orders."""
    flows = strategy.flows
    if flows is not None and flows and flows.routing != "cash" and executor != "paper":
        raise InputError(
            f"{source}: [treasury] routing = {flows.routing!r}: with the {executor} executor the live "
            'service pays flows from the cash asset only (routing = "cash"); flows routed by selling '
            "holdings are booked as ledger entries, which only the paper executor follows"
        )


class LiveTreasury:
    """The strategy's yields and flows, applied one close at a time."""

    def __init__(self, strategy: Strategy, assets: tuple[str, ...]) -> None:
        self.yields = strategy.yields or None
        self.flows = strategy.flows or None
        self.cash = strategy.cash
        self.assets = assets
        self.quote = assets.index(strategy.cash) if strategy.cash else -1

    def __bool__(self) -> bool:
        return self.yields is not None or self.flows is not None

    def close(
        self, recent: Market, k: int, units: np.ndarray, cash: float, costs: object, target: np.ndarray
    ) -> tuple[np.ndarray, float, TreasuryCycle]:
        """Accrue over (k−1, k] then pay close ``k``'s flows, routed towards ``target`` (the
        close's target weights), on copies of ``units`` and ``cash`` (``recent``, ``k``: see
        `History.recent`). Returns the new units and cash and what to book (with a shortfall alert
        if a withdrawal could not be paid in full)."""
        from ballast.engine.treasury_metrics import monthly_yield  # compiled kernels: loaded when used
        from ballast.flows.kernel import apply_flows
        from ballast.yields.kernel import accrue

        p = recent.prices
        n = len(self.assets)
        names = self.assets + (CASH,)
        before = np.append(units, cash)
        u, c = units.copy(), float(cash)
        entries: list[Entry] = []
        growth = 1.0
        if self.yields is not None:
            arrays = self.yields.encode(recent, self.cash)
            if k > 0:
                c += accrue(u, p, k, arrays, self.quote, np.zeros((1, n)), 0)  # type: ignore[no-untyped-call]
                if self.quote >= 0:
                    growth = float(arrays.growth[k, self.quote])
        accrued = np.append(u, c)
        entries += _entries(names, accrued - before, p[k], "accrual", "yield", "yield over the last period")
        alerts: list[Alert] = []
        if self.flows is not None:
            sched = self.close_flows(recent, k).encode(recent, self.cash)
            closes = np.zeros((recent.n_periods, N_FLOW_COLUMNS))
            targets = np.zeros((recent.n_periods, n))
            targets[k] = target
            paid = np.zeros((1, n))
            c = apply_flows(
                u,
                c,
                p,
                k,
                sched,
                targets,
                costs,  # type: ignore[no-untyped-call]
                self.quote,
                paid,
                0,
                np.zeros(n),
                closes,
            )
            entries += _flow_entries(names, np.append(u, c) - accrued, paid[0], p[k], self.flows.routing)
            short = float(closes[k, FLOW_SHORTFALL])
            if short > 0.0:
                medium = "the cash asset is" if self.flows.routing == "cash" else "the holdings are"
                alerts.append(
                    (
                        "error",
                        "shortfall",
                        f"scheduled withdrawals of {short:,.2f} could not be paid: {medium} exhausted",
                        self.cash,
                    )
                )
        V = float(u @ p[k] + c)
        years = float(period_years(recent, self.yields.day_count)[k]) if self.yields is not None else 0.0
        reserve = self.cash if self.flows is not None else None  # runway: a reserve spent by the flows
        return (
            u,
            c,
            TreasuryCycle(entries, reserve, self.spend_month(p[k], V), float(monthly_yield(growth, years)), alerts),
        )

    def close_flows(self, recent: Market, k: int) -> Flows:
        """The flows of close ``k``: a dated table keeps the rows dated in (previous close, this
        close] (at the first close: on it) — exactly the rows the backtest applies here."""
        assert self.flows is not None
        idx = recent.index
        lo, hi = (idx[k - 1], idx[k]) if k > 0 else (None, idx[k])
        parts = []
        for f in self.flows.flows:
            if isinstance(f, Dated):
                dates = f.dates.tz_localize(idx.tz) if idx.tz is not None and f.dates.tz is None else f.dates
                keep = (dates <= hi) & ((dates > lo) if lo is not None else (dates == hi))
                if not keep.any():
                    continue
                f = Dated(f.table[np.asarray(keep)], f.source)
            parts.append(f)
        return Flows(*parts, routing=self.flows.routing)

    def spend_month(self, prices: np.ndarray, value: float) -> float:
        """Net scheduled outflow a month in currency: recurring flows at these prices, spending
        rules at this value (one-off dated flows are not a rate)."""
        if self.flows is None:
            return 0.0
        out = 0.0
        for f in self.flows.flows:
            if isinstance(f, Recurring):
                asset = f.asset or self.cash
                out -= f.monthly() * (prices[self.assets.index(asset)] if asset else 1.0)
            elif isinstance(f, SpendingRule):
                out += f.rate / 12.0 * value
        return out


def _entries(
    names: tuple[str, ...], delta: np.ndarray, prices: np.ndarray, kind: str, source: str, note: str | None
) -> list[Entry]:
    out = []
    for i, d in enumerate(delta):
        if d != 0.0:
            price = float(prices[i]) if i < prices.shape[0] else 1.0
            out.append(Entry(names[i], float(d), kind, source, float(d) * price, note))
    return out


def _flow_entries(
    names: tuple[str, ...], delta: np.ndarray, paid: np.ndarray, prices: np.ndarray, routing: str
) -> list[Entry]:
    """A close's flow entries: each flow asset's deposit or withdrawal (``paid``: value per asset,
    as the backtest's ``flows_by_asset``), and what the routing moved besides (``delta``: units
    per asset and ``_cash``, flows included) as ``routing`` entries. Paid from the cash asset, a
    flow moves only its own asset: ``delta`` is the flow, to the bit."""
    if routing == "cash":
        flow_units = delta
    else:
        flow_units = np.append(np.divide(paid, prices, out=np.zeros_like(paid), where=paid != 0.0), 0.0)
    out = [
        Entry(e.asset, e.units, "deposit" if e.units > 0 else "withdrawal", "schedule", e.value, "scheduled flow")
        for e in _entries(names, flow_units, prices, "", "", None)
    ]
    note = f"traded to pay the close's flows (routing = {routing})"
    return out + _entries(names, delta - flow_units, prices, "routing", "schedule", note)


def book_cycle(s: Session, cycle_id: int, period: int | None, at: datetime, cycle: TreasuryCycle) -> None:
    """Write a close's entries, runway inputs and alerts inside the cycle's transaction (the caller's)."""
    if cycle.alerts:
        s.execute(
            insert(AlertRow),
            [
                {
                    "level": level,
                    "kind": kind,
                    "message": message,
                    "asset": asset,
                    "cycle_id": cycle_id,
                    "created_at": utcnow(),
                }
                for level, kind, message, asset in cycle.alerts
            ],
        )
    if cycle.entries:
        s.execute(
            insert(LedgerEntry),
            [
                {
                    "key": f"p{period}:{e.kind}:{e.asset}",
                    "cycle_id": cycle_id,
                    "period": period,
                    "entry_at": at,
                    "asset": e.asset,
                    "units": e.units,
                    "value": e.value,
                    "kind": e.kind,
                    "source": e.source,
                    "note": e.note,
                    "recorded_at": utcnow(),
                }
                for e in cycle.entries
            ],
        )
    if cycle.reserve_asset is not None:
        s.execute(
            insert(TreasuryMark).values(
                cycle_id=cycle_id,
                reserve_asset=cycle.reserve_asset,
                spend_month=cycle.spend_month,
                reserve_yield_month=cycle.reserve_yield_month,
            )
        )


def parse_flow_input(amount: str, at: str | None) -> tuple[float, datetime | None]:
    """``ballast flow add``'s AMOUNT and ``--at``, checked: a signed number of units and a UTC time."""
    try:
        units = float(str(amount).replace("_", "").replace(",", ""))
    except ValueError:
        raise InputError(
            f"flow add: AMOUNT must be a number of units (negative: a withdrawal), got {amount!r}"
        ) from None
    if at is None:
        return units, None
    try:
        when = datetime.fromisoformat(at.strip().rstrip("Z"))
    except ValueError:
        raise InputError(f"flow add: --at must be a date or time like 2024-03-01T12:00 (UTC), got {at!r}") from None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return units, when


def add_flow(
    ledger: Ledger, asset: str, amount: float, note: str | None = None, at: datetime | None = None
) -> dict[str, Any]:
    """Record a deposit (+) or withdrawal (−) of ``amount`` units of ``asset`` made by hand.

    The asset must be one the ledger knows; a withdrawal larger than the holding is refused and
    nothing is written (checked and written in one transaction)."""
    if not (isinstance(amount, (int, float)) and math.isfinite(amount) and amount != 0.0):
        raise InputError(
            f"flow add: AMOUNT must be a non-zero number of units (negative: a withdrawal), got {amount!r}"
        )
    with ledger.session() as s:
        held = ledger.holdings(s)
        snap = s.scalars(select(HoldingSnapshot).order_by(HoldingSnapshot.id.desc()).limit(1)).first()
        prices = {ln["asset"]: ln.get("price") for ln in (snap.lines if snap else [])}
        known = [a for a in dict.fromkeys(list(prices) + list(held)) if a != CASH]
        if asset not in known:
            raise InputError(
                f"flow add: unknown asset {asset!r}; the ledger holds "
                f"{', '.join(known) or 'nothing yet (start the service first)'}"
            )
        have = held.get(asset, 0.0)
        if amount < 0 and -amount > have * (1 + 1e-12):
            raise InputError(
                f"flow add: cannot withdraw {-amount:,.8g} {asset}: the ledger holds only "
                f"{have:,.8g} {asset}. Nothing was written."
            )
        if amount < 0 and -amount > have:  # the whole holding, up to rounding: exactly all of it
            amount = -have
        price = prices.get(asset)
        entry = LedgerEntry(
            key=f"manual:{secrets.token_hex(8)}",
            entry_at=at or utcnow(),
            asset=asset,
            units=float(amount),
            value=None if price is None else float(amount) * price,
            kind="deposit" if amount > 0 else "withdrawal",
            source="manual",
            note=note,
            period=None,
            cycle_id=None,
        )
        s.add(entry)
        s.flush()
        return _entry(entry) | {"holding": have + amount}


def entries(ledger: Ledger, limit: int = 100) -> list[dict[str, Any]]:
    """The newest entries, newest first."""
    with ledger.session() as s:
        return [_entry(e) for e in s.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc()).limit(limit))]


def runway_status(s: Session, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Runway from the ledger: the reserve's value now (its holding at the last price) and its
    yield, over the strategy's spend a month, as the backtest defines it
    (`flows.metrics.runway_months`). None before the service recorded a cycle with a reserve."""
    mark = s.execute(
        select(TreasuryMark, Cycle.observed_at)
        .join(Cycle, Cycle.id == TreasuryMark.cycle_id)
        .order_by(TreasuryMark.cycle_id.desc())
        .limit(1)
    ).first()
    if mark is None or mark[0].reserve_asset is None:
        return None
    m, at = mark
    line = next((r for r in rows if r["asset"] == m.reserve_asset), None)
    reserve = float(line["value"]) if line is not None and line["value"] is not None else 0.0
    months = float(runway_months(np.array([reserve]), np.array([m.spend_month]), np.array([m.reserve_yield_month]))[0])
    return {
        "months": months if math.isfinite(months) else None,
        "infinite": not math.isfinite(months),
        "reserve_asset": m.reserve_asset,
        "reserve_value": reserve,
        "spend_per_month": m.spend_month,
        "reserve_yield_month": m.reserve_yield_month,
        "as_of": None if at is None else at.isoformat() + "Z",
    }


def _entry(e: LedgerEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "key": e.key,
        "period": e.period,
        "entry_at": e.entry_at.isoformat() + "Z",
        "asset": e.asset,
        "units": e.units,
        "value": e.value,
        "kind": e.kind,
        "source": e.source,
        "note": e.note,
    }
