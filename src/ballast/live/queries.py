"""The ledger's read side: every query the service, the CLI and the dashboard read with, as
plain rows (`records`; ISO times, ``Z``-suffixed naive UTC).

Reads and writes are separate modules so a status page can be understood without the write
protocol; `repository.Ledger` adds the writes to this class.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from ballast.errors import InputError
from ballast.live import hedge_ledger, lending, loan_reads, lp_ledger
from ballast.live.connection import LedgerConnection
from ballast.live.models import (
    Alert,
    Cycle,
    Decision,
    Fill,
    HoldingSnapshot,
    LedgerEntry,
    Order,
    PriceSeen,
    Proposal,
    RunnerLease,
    ServiceState,
    StartingHolding,
    utcnow,
)
from ballast.live.records import (
    CASH,
    ORDER_OPEN,
    PROPOSAL_OPEN,
    PROPOSAL_STATES,
    DecisionState,
    OrderRow,
    ProposalRow,
    ProposalState,
    alert_row,
    decision_row,
    fill_row,
    iso_time,
    order_row,
    proposal_row,
)

# Statements run every cycle, built once (SQLAlchemy then skips rebuilding their cache keys).
_LEGS = union_all(
    select(StartingHolding.asset.label("asset"), StartingHolding.units.label("units")),
    select(Fill.asset, Fill.quantity).where(~Fill.asset.contains(":")),  # a perp is a contract (live/hedge_ledger.py)
    select(Fill.quote_asset, Fill.quote_quantity),
    select(LedgerEntry.asset, LedgerEntry.units).where(~LedgerEntry.asset.contains(":")),  # flows, accruals, ...
).subquery()
_HOLDINGS = select(_LEGS.c.asset, func.sum(_LEGS.c.units)).group_by(_LEGS.c.asset)
_UNFINISHED = (
    select(Decision.id)
    .where(
        Decision.state.in_((DecisionState.PLANNED, DecisionState.SUBMITTED)),
        Decision.id.not_in(
            select(Proposal.decision_id).where(
                Proposal.state.in_(
                    (ProposalState.PENDING, ProposalState.APPROVED, ProposalState.EXPORTED, ProposalState.REJECTED)
                )
            )
        ),
    )
    .order_by(Decision.id)
)
PAUSED_QUERY = select(ServiceState.paused).where(ServiceState.id == 1)


class LedgerQueries(LedgerConnection):
    """The reads over a ledger: state, holdings, decisions, orders, fills, proposals, alerts."""

    # ---------------------------------------------------------------- service state
    def state(self) -> dict[str, Any]:
        """The service row plus the runner lease: ``running`` only while a runner holds an unexpired
        lease, so a killed service shows as stopped; ``heartbeat_at`` is its last sign of life."""
        with self.session() as s:
            st = s.get(ServiceState, 1)
            assert st is not None
            lease = lease_info(s) or {}
            return {
                "ledger_key": st.ledger_key,
                "strategy": st.strategy,
                "executor": st.executor,
                "source": st.source,
                "paused": st.paused,
                "pause_reason": st.pause_reason,
                "dry_run": st.dry_run,
                "started_at": iso_time(st.started_at),
                "heartbeat_at": iso_time(lease.get("heartbeat_at") or st.heartbeat_at),
                "running": bool(lease.get("running")),
                "runner": None
                if not lease.get("acquired_at")
                else {
                    "host": lease["host"],
                    "pid": lease["pid"],
                    "strategy": lease["strategy"],
                    "since": iso_time(lease["acquired_at"]),
                    "expires_at": iso_time(lease["expires_at"]),
                    "released_at": iso_time(lease["released_at"]),
                },
            }

    def is_paused(self) -> bool:
        with self.session() as s:
            return bool(s.scalar(select(ServiceState.paused).where(ServiceState.id == 1)))

    # ---------------------------------------------------------------- holdings
    def starting_holdings(self) -> dict[str, float]:
        with self.session() as s:
            return {a: u for a, u in s.execute(select(StartingHolding.asset, StartingHolding.units))}

    def holdings(self, session: Session | None = None) -> dict[str, float]:
        """Starting holdings + every recorded fill + every entry (flows, accruals): the only
        definition of holdings."""
        if session is None:
            with self.session() as s:
                return self.holdings(s)
        return {a: float(u or 0.0) for a, u in session.execute(_HOLDINGS)}

    def latest_snapshot(self) -> dict[str, Any] | None:
        with self.session() as s:
            snap = s.scalars(select(HoldingSnapshot).order_by(HoldingSnapshot.id.desc()).limit(1)).first()
            if snap is None:
                return None
            return {"observed_at": iso_time(snap.observed_at), "total_value": snap.total_value, "lines": snap.lines}

    def holdings_vs_target(self) -> list[dict[str, Any]]:
        """Current ledger holdings valued at the last observed prices, against the last target."""
        snap = self.latest_snapshot()
        with self.session() as s:  # as the backtest: a loan's debt is a negative holding of its asset
            units = self.holdings(s)
            for a, u in lending.owed(s).items():
                units[a] = units.get(a, 0.0) - u
        lines = {ln["asset"]: ln for ln in (snap["lines"] if snap else [])}
        assets = list(lines) + [a for a in units if a not in lines]
        values = {}
        for a in assets:
            price = 1.0 if a == CASH else lines.get(a, {}).get("price")
            values[a] = units.get(a, 0.0) * price if price is not None else None
        total = sum(v for v in values.values() if v is not None)
        rows = []
        for a in assets:
            v = values[a]
            w = v / total if v is not None and total > 0 else None
            tgt = lines.get(a, {}).get("target")
            if a == CASH and abs(units.get(a, 0.0)) < 1e-9 * max(total, 1.0):
                continue
            rows.append(
                {
                    "asset": a,
                    "units": units.get(a, 0.0),
                    "price": lines.get(a, {}).get("price"),
                    "value": v,
                    "weight": w,
                    "target": tgt,
                    "drift": (w - tgt) if w is not None and tgt is not None else None,
                }
            )
        return rows

    def equity_history(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Pre-trade portfolio value per observed cycle, oldest first (at most ``limit`` newest)."""
        with self.session() as s:
            rows = s.execute(
                select(Cycle.observed_at, Cycle.value)
                .where(Cycle.value.is_not(None))
                .order_by(Cycle.id.desc())
                .limit(limit)
            ).all()
        return [{"observed_at": iso_time(t), "value": v} for t, v in reversed(rows)]

    # ---------------------------------------------------------------- decisions, orders, fills
    def recent_decisions(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.session() as s:
            ds = s.scalars(select(Decision).order_by(Decision.id.desc()).limit(limit)).all()
            return [decision_row(d) for d in ds]

    def decision(self, decision_id: int) -> dict[str, Any] | None:
        with self.session() as s:
            d = s.get(Decision, decision_id)
            if d is None:
                return None
            out = decision_row(d)
            orders = s.scalars(select(Order).where(Order.decision_id == d.id).order_by(Order.id)).all()
            out["orders"] = [order_row(o) for o in orders]
            fills = s.scalars(select(Fill).join(Order).where(Order.decision_id == d.id).order_by(Fill.id)).all()
            out["fills"] = [fill_row(f) for f in fills]
            return out

    def open_orders(self) -> list[OrderRow]:
        with self.session() as s:
            os_ = s.scalars(select(Order).where(Order.status.in_(ORDER_OPEN)).order_by(Order.id)).all()
            return [order_row(o) for o in os_]

    def orders(self, limit: int = 100) -> list[OrderRow]:
        with self.session() as s:
            return [order_row(o) for o in s.scalars(select(Order).order_by(Order.id.desc()).limit(limit))]

    def fills(self, limit: int | None = None) -> list[dict[str, Any]]:
        with self.session() as s:
            q = select(Fill).order_by(Fill.id)
            return [fill_row(f) for f in s.scalars(q.limit(limit) if limit else q)]

    # ---------------------------------------------------------------- proposals
    def proposals(self, state: str | None = None, limit: int = 100) -> list[ProposalRow]:
        if state is not None and state not in PROPOSAL_STATES:
            raise InputError(f"proposal state must be one of {', '.join(PROPOSAL_STATES)}, got {state!r}")
        with self.session() as s:
            q = select(Proposal).order_by(Proposal.id.desc()).limit(limit)
            if state is not None:
                q = q.where(Proposal.state == state)
            return [proposal_row(p) for p in s.scalars(q)]

    def proposal(self, proposal_id: int) -> ProposalRow | None:
        with self.session() as s:
            p = s.get(Proposal, proposal_id)
            return None if p is None else proposal_row(p)

    def expired_since(self, after_id: int) -> list[ProposalRow]:
        """Proposals expired with an id above ``after_id`` (the service re-plans after each)."""
        with self.session() as s:
            return [
                proposal_row(p)
                for p in s.scalars(
                    select(Proposal)
                    .where(Proposal.state == ProposalState.EXPIRED, Proposal.id > after_id)
                    .order_by(Proposal.id)
                )
            ]

    def open_proposals(self) -> list[ProposalRow]:
        """Proposals not yet done with (pending, approved, exported, executing), oldest first."""
        with self.session() as s:
            return [
                proposal_row(p)
                for p in s.scalars(select(Proposal).where(Proposal.state.in_(PROPOSAL_OPEN)).order_by(Proposal.id))
            ]

    # ---------------------------------------------------------------- alerts
    def alerts(self, open_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        with self.session() as s:
            q = select(Alert).order_by(Alert.id.desc()).limit(limit)
            if open_only:
                q = q.where(Alert.resolved_at.is_(None))
            return [alert_row(a) for a in s.scalars(q)]

    def order_rows(self, decision_id: int) -> list[OrderRow]:
        with self.session() as s:
            return [
                order_row(o)
                for o in s.scalars(select(Order).where(Order.decision_id == decision_id).order_by(Order.id))
            ]

    def unfinished_decisions(self) -> list[int]:
        """Decisions whose orders may still be open, oldest first — excluding those waiting for
        (or refused) approval: those are not the executor's business yet."""
        with self.session() as s:
            return self._unfinished(s)

    @staticmethod
    def _unfinished(s: Session) -> list[int]:
        return list(s.scalars(_UNFINISHED))

    def proposal_decision(self, proposal_id: int) -> int:
        with self.session() as s:
            did = s.scalar(select(Proposal.decision_id).where(Proposal.id == proposal_id))
        if did is None:
            raise InputError(f"no proposal with id {proposal_id}")
        return did

    def history(self) -> list[tuple[int, datetime, dict[str, float | None]]]:
        """Every observed period with its prices, oldest first (to rebuild the live market)."""
        with self.session() as s:
            rows = s.execute(
                select(Cycle.period, Cycle.observed_at, PriceSeen.asset, PriceSeen.price)
                .join(PriceSeen, PriceSeen.cycle_id == Cycle.id)
                .where(Cycle.period.is_not(None))
                .order_by(Cycle.period)
            ).all()
        out: list[tuple[int, datetime, dict[str, float | None]]] = []
        for period, at, asset, price in rows:
            assert period is not None  # guarded cycles (no period) are not part of the history
            if not out or out[-1][0] != period:
                out.append((period, at, {}))
            out[-1][2][asset] = price
        return out

    def last_observed(self) -> datetime | None:
        """Time of the newest cycle written (guarded ones included): a replay resumes after it."""
        with self.session() as s:
            return s.scalar(select(func.max(Cycle.observed_at)))

    def last_rebalance_period(self) -> int:
        """Period of the last decision that traded after formation (the triggers' cooldown clock)."""
        with self.session() as s:
            traded = select(Order.decision_id).join(Fill, Fill.order_id == Order.id).where(~Order.asset.contains(":"))
            p = s.scalar(select(func.max(Decision.period)).where(Decision.id.in_(traded), Decision.period > 0))
        return int(p or 0)

    def notional_since(self, since: datetime) -> float:
        """Traded value of decisions observed at or after ``since`` (per-day notional cap)."""
        with self.session() as s:
            v = s.scalar(
                select(func.sum(Decision.notional)).where(
                    Decision.observed_at >= since, Decision.state != DecisionState.CANCELLED
                )
            )
        return float(v or 0.0)

    # ---------------------------------------------------------------- summary
    def counts(self) -> dict[str, Any]:
        with self.session() as s:

            def by(col: Any) -> dict[str, int]:
                return {k: int(v) for k, v in s.execute(select(col, func.count()).group_by(col))}

            dec = by(Decision.state)
            ords = by(Order.status)
            props = by(Proposal.state)
            n_fills = int(s.scalar(select(func.count()).select_from(Fill)) or 0)
            n_cycles = int(s.scalar(select(func.count()).select_from(Cycle)) or 0)
            open_alerts = int(s.scalar(select(func.count()).select_from(Alert).where(Alert.resolved_at.is_(None))) or 0)
        return {
            "cycles": n_cycles,
            "decisions": sum(dec.values()),
            "decisions_by_state": dec,
            "orders": sum(ords.values()),
            "orders_by_state": ords,
            "fills": n_fills,
            "proposals": sum(props.values()),
            "proposals_by_state": props,
            "open_alerts": open_alerts,
        }

    def runway(self, rows: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
        """Months of runway from the ledger (see `live.treasury.runway_status`); None without flows."""
        from ballast.live.treasury import runway_status

        with self.session() as s:
            return runway_status(s, rows if rows is not None else self.holdings_vs_target())

    def loan_health(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Each loan's mark per observed cycle, oldest first (see `loan_reads.health_history`)."""
        with self.session() as s:
            return loan_reads.health_history(s, limit)

    def loan_events(self, limit: int = 100) -> list[dict[str, Any]]:
        """Loan events, newest first (see `loan_reads.loan_events`)."""
        with self.session() as s:
            return loan_reads.loan_events(s, limit)

    def status(self) -> dict[str, Any]:
        """Everything ``ballast status --json`` and the API's status page show."""
        rows = self.holdings_vs_target()
        with self.session() as s:
            last = s.scalars(select(Cycle).order_by(Cycle.id.desc()).limit(1)).first()
            last_cycle = (
                None
                if last is None
                else {
                    "id": last.id,
                    "period": last.period,
                    "observed_at": iso_time(last.observed_at),
                    "started_at": iso_time(last.started_at),
                    "status": last.status,
                    "note": last.note,
                }
            )
            loans = loan_reads.loan_status(
                s, {r["asset"]: r["price"] for r in rows}, {r["asset"]: r["units"] for r in rows}
            )
            liquidity = lp_ledger.lp_status(s)
            hedge = hedge_ledger.hedge_status(s)
        total = float(sum(r["value"] for r in rows if r["value"] is not None))
        drifts = [abs(r["drift"]) for r in rows if r["drift"] is not None]
        return {
            "service": self.state(),
            "last_cycle": last_cycle,
            "value": total,
            "max_drift": max(drifts) if drifts else None,
            "holdings": {r["asset"]: r["units"] for r in rows},
            "targets": {r["asset"]: r["target"] for r in rows if r["target"] is not None},
            "drift": {r["asset"]: r["drift"] for r in rows if r["drift"] is not None},
            "lines": rows,
            "counts": self.counts(),
            "runway": self.runway(rows),
            "loans": loans,
            "liquidity": liquidity,
            "hedge": hedge,
        }


def lease_info(session: Session, now: datetime | None = None) -> dict[str, Any] | None:
    """The lease row as a dict with ``running`` (held and not expired), or None before migration 0003."""
    row = session.get(RunnerLease, 1)
    if row is None:
        return None
    now = now or utcnow()
    running = row.holder is not None and row.expires_at is not None and row.expires_at > now
    return {
        "running": running,
        "held": row.holder is not None,
        "host": row.host,
        "pid": row.pid,
        "strategy": row.strategy,
        "generation": row.generation,
        "acquired_at": row.acquired_at,
        "heartbeat_at": row.heartbeat_at,
        "expires_at": row.expires_at,
        "released_at": row.released_at,
    }


def drift_history(ledger: LedgerQueries, limit: int) -> list[dict[str, Any]]:
    """Pre-trade weight − target per asset at each observed cycle (what the trigger saw), oldest
    first, from the holding snapshot the service writes every cycle."""
    with ledger.session() as s:
        rows = s.execute(
            select(HoldingSnapshot.observed_at, HoldingSnapshot.lines).order_by(HoldingSnapshot.id.desc()).limit(limit)
        ).all()
    out = []
    for at, lines in reversed(rows):
        if not any(_number(ln.get("weight")) and ln["weight"] for ln in lines):
            continue  # before formation nothing is held: a drift of −target would squash the band
        drift = {
            ln["asset"]: float(ln["weight"]) - float(ln["target"])
            for ln in lines
            if _number(ln.get("weight")) and _number(ln.get("target"))
        }
        out.append(
            {"observed_at": iso_time(at), "drift": drift, "max_abs": max(map(abs, drift.values())) if drift else None}
        )
    return out


def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
