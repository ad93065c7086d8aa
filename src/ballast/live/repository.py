"""The ledger's write side: every mutation the service, the executors and the faces make.

Crash-safety order (see docs/live.md): everything about a cycle — prices, snapshot, alerts, the
decision and all its orders with their client order ids — is written in ONE transaction before
anything is sent (`record_cycle`); a venue's answer is recorded afterwards, fills idempotently per
venue trade key (`record_fill`); the decision's state is derived from its orders last
(`settle_decision`). State changes several processes may race on (approving a proposal, claiming
it for execution, pausing) are conditional UPDATEs, so exactly one caller wins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from ballast.errors import InputError
from ballast.live.models import (
    Alert, Cycle, Decision, Fill, HoldingSnapshot, Order, PriceSeen, Proposal, ServiceState, StartingHolding,
    utcnow,
)
from ballast.live.queries import PAUSED_QUERY, LedgerQueries, iso_time, order_row, proposal_row
from ballast.live.records import (
    DECISION_FINAL, ORDER_OPEN, ORDER_STATES, CycleRecord, CycleStatus, DecisionState, FitCheck, GuardAlert,
    OrderStatus, Outcome, PlannedDecision, ProposalState,
)


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


class Ledger(LedgerQueries):
    """Repository over the ledger database: the reads of `LedgerQueries` and the mutations."""

    def pause(self, reason: str | None = None) -> Outcome:
        """Stop trading at the next cycle (observations and alerts continue). Idempotent."""
        with self.session() as s:
            n = s.execute(update(ServiceState).where(ServiceState.id == 1, ServiceState.paused.is_(False))
                          .values(paused=True, pause_reason=reason, updated_at=utcnow())).rowcount
        return Outcome(1, "paused", n == 1)

    def resume(self) -> Outcome:
        with self.session() as s:
            n = s.execute(update(ServiceState).where(ServiceState.id == 1, ServiceState.paused.is_(True))
                          .values(paused=False, pause_reason=None, updated_at=utcnow())).rowcount
        return Outcome(1, "running", n == 1)

    def _transition(self, proposal_id: int, frm: tuple[str, ...], to: str, done: tuple[str, ...],
                    **values: Any) -> Outcome:
        """Conditional UPDATE: only one concurrent caller moves the proposal out of ``frm``."""
        with self.session() as s:
            n = s.execute(update(Proposal).where(Proposal.id == proposal_id, Proposal.state.in_(frm))
                          .values(state=to, **values)).rowcount
            current = s.scalar(select(Proposal.state).where(Proposal.id == proposal_id))
        if current is None:
            raise InputError(f"no proposal with id {proposal_id}")
        if n == 1:
            return Outcome(proposal_id, to, True)
        if current in done:
            return Outcome(proposal_id, current, False)
        raise InputError(f"proposal {proposal_id} is {current}; it cannot become {to}")

    def approve_proposal(self, proposal_id: int, by: str | None = None, note: str | None = None) -> Outcome:
        """pending → approved. Approving twice (or concurrently) is harmless: one wins, the rest
        get ``changed=False``; the service executes an approved proposal exactly once."""
        return self._transition(proposal_id, (ProposalState.PENDING,), ProposalState.APPROVED,
                                (ProposalState.APPROVED, ProposalState.EXECUTING, ProposalState.EXECUTED),
                                decided_at=utcnow(), decided_by=by, note=note)

    def reject_proposal(self, proposal_id: int, by: str | None = None, note: str | None = None) -> Outcome:
        """pending → rejected (its decision becomes cancelled). Idempotent."""
        out = self._transition(proposal_id, (ProposalState.PENDING,), ProposalState.REJECTED, (ProposalState.REJECTED,),
                               decided_at=utcnow(), decided_by=by, note=note)
        if out.changed:
            with self.session() as s:
                did = s.scalar(select(Proposal.decision_id).where(Proposal.id == proposal_id))
                s.execute(update(Decision).where(Decision.id == did, Decision.state == DecisionState.PLANNED)
                          .values(state=DecisionState.CANCELLED, note="proposal rejected", updated_at=utcnow()))
                s.execute(update(Order).where(Order.decision_id == did, Order.status == OrderStatus.PLANNED)
                          .values(status=OrderStatus.CANCELLED, error="proposal rejected", updated_at=utcnow()))
        return out

    def claim_approved(self, check: FitCheck | None = None) -> list[int]:
        """approved → executing for every approved proposal; returns the ids this caller won.

        Nothing is claimed while the service is paused. ``check(holdings, orders, proposal)``
        runs in the claiming transaction (holdings read there): a reason it returns expires the
        proposal instead (state ``expired``, decision and orders cancelled, an alert) — so a plan
        that no longer fits the holdings is never sent; buy quantities it scales down are
        written in the same transaction."""
        with self.session() as s:
            if s.scalar(PAUSED_QUERY):
                return []
            ids = list(s.scalars(select(Proposal.id).where(Proposal.state == ProposalState.APPROVED).order_by(Proposal.id)))
        won = []
        for pid in ids:
            with self.session() as s:
                if s.scalar(PAUSED_QUERY):
                    break
                n = s.execute(update(Proposal).where(Proposal.id == pid, Proposal.state == ProposalState.APPROVED)
                              .values(state=ProposalState.EXECUTING)).rowcount
                if n != 1:
                    continue
                reason, resize = None, {}
                if check is not None:
                    p = s.get(Proposal, pid)
                    assert p is not None
                    orders = [order_row(o) for o in s.scalars(select(Order).where(Order.decision_id == p.decision_id)
                                                           .order_by(Order.id))]
                    reason, resize = check(self.holdings(s), orders, proposal_row(p))
                if reason is not None:
                    _expire(s, pid, reason)
                    continue
                for oid, qty in resize.items():  # buys scaled to the paying balance, never up
                    o = s.get(Order, oid)
                    assert o is not None and qty <= o.quantity
                    o.notional, o.expected_cost = o.notional * qty / o.quantity, o.expected_cost * qty / o.quantity
                    o.quantity, o.error = qty, f"scaled to {qty:.8g} units to fit the balance at today's price"
                won.append(pid)
        return won

    def export_approved(self, mark: bool = True) -> dict[str, Any]:
        """Approved proposals as one batch (e.g. for a multisig transaction builder). ``mark``:
        they become ``exported`` in the same transaction, so no later export holds them again and
        no runner executes them; ``ballast proposals settle`` records what was done on chain."""
        with self.session() as s:
            rows = list(s.scalars(select(Proposal).where(Proposal.state == ProposalState.APPROVED).order_by(Proposal.id)))
            items = [proposal_row(p) for p in rows]
            if mark and rows:
                s.execute(update(Proposal).where(Proposal.id.in_([p.id for p in rows]),
                                                 Proposal.state == ProposalState.APPROVED).values(state=ProposalState.EXPORTED))
        st = self.state()
        return {"ledger": st["ledger_key"], "strategy": st["strategy"], "exported_at": iso_time(utcnow()),
                "proposals": items, "trades": [t for p in items for t in p["payload"].get("trades", [])]}

    def add_alert_once(self, kind: str, message: str, level: str = "warning", asset: str | None = None) -> bool:
        """An alert unless one of this kind and asset is still open (no alert per cycle)."""
        with self.session() as s:
            if s.scalar(select(Alert.id).where(Alert.kind == kind, Alert.resolved_at.is_(None),
                                               Alert.asset.is_(None) if asset is None else Alert.asset == asset)
                        .limit(1)) is not None:
                return False
            s.add(Alert(level=level, kind=kind, message=message, asset=asset))
        return True

    def resolve_alert(self, alert_id: int) -> Outcome:
        with self.session() as s:
            n = s.execute(update(Alert).where(Alert.id == alert_id, Alert.resolved_at.is_(None))
                          .values(resolved_at=utcnow())).rowcount
            exists = s.get(Alert, alert_id) is not None
        if not exists:
            raise InputError(f"no alert with id {alert_id}")
        return Outcome(alert_id, "resolved", n == 1)

    # ---------------------------------------------------------------- service-side writes
    def start_service(self, holdings: dict[str, float], strategy: str, executor: str, source: str,
                      dry_run: bool) -> bool:
        """Record who runs; store the starting holdings once. Returns True on the first start."""
        with self.session() as s:
            first = s.scalar(select(func.count()).select_from(StartingHolding)) == 0
            if first:
                s.add_all(StartingHolding(asset=a, units=float(u)) for a, u in holdings.items())
            s.execute(update(ServiceState).where(ServiceState.id == 1).values(
                strategy=strategy, executor=executor, source=source, dry_run=dry_run,
                started_at=utcnow(), heartbeat_at=utcnow(), updated_at=utcnow()))
        return first

    def cycle_inputs(self) -> tuple[bool, dict[str, float], list[int]]:
        """(paused, holdings, unfinished decisions) read in one transaction at the top of a cycle."""
        with self.session() as s:
            return bool(s.scalar(PAUSED_QUERY)), self.holdings(s), self._unfinished(s)

    def record_cycle(self, observed_at: datetime, period: int | None, status: CycleStatus, note: str | None,
                     prices: dict[str, float | None], value: float | None,
                     lines: list[dict[str, Any]] | None, plan: PlannedDecision | None = None,
                     propose: bool = False, alerts: Sequence[GuardAlert] = ()) -> CycleRecord:
        """Write one cycle atomically: prices, snapshot, alerts, and the decision with its orders
        (client order ids included) — all before anything is sent to a venue."""
        with self.session() as s:
            cid = s.scalar(insert(Cycle).values(period=period, observed_at=observed_at, started_at=utcnow(),
                                                status=status, note=note, value=_num(value)).returning(Cycle.id))
            s.execute(insert(PriceSeen), [{"cycle_id": cid, "asset": a, "price": _num(p)} for a, p in prices.items()])
            if lines is not None and value is not None:
                s.execute(insert(HoldingSnapshot).values(cycle_id=cid, observed_at=observed_at, total_value=value,
                                                         lines=lines))
            if alerts:
                s.execute(insert(Alert), [{"level": level, "kind": kind, "message": message, "asset": asset,
                                           "cycle_id": cid, "created_at": utcnow()}
                                          for level, kind, message, asset in alerts])
            if plan is None:
                return CycleRecord(cid, None, [], None)
            key = s.scalar(select(ServiceState.ledger_key).where(ServiceState.id == 1))
            d = Decision(cycle_id=cid, period=period, observed_at=observed_at, reason=plan.reason,
                         state=DecisionState.PLANNED, executor=plan.executor, value_before=plan.value_before,
                         notional=plan.notional, expected_cost=plan.expected_cost, weights=plan.weights,
                         note=plan.note)
            s.add(d)
            s.flush()
            orders = [Order(decision_id=d.id, client_order_id=f"bl-{key}-{d.id}-{k}", asset=o.asset,
                            quote_asset=o.quote_asset, side=o.side, quantity=o.quantity,
                            ref_price=o.ref_price, quote_price=o.quote_price, limit_price=o.limit_price, notional=o.notional,
                            expected_cost=o.expected_cost, status=OrderStatus.PLANNED)
                      for k, o in enumerate(plan.orders)]
            s.add_all(orders)
            s.flush()
            pid = None
            if propose:
                p = Proposal(decision_id=d.id, state=ProposalState.PENDING, payload={
                    "decision_id": d.id, "reason": plan.reason, "observed_at": iso_time(observed_at),
                    "value_before": plan.value_before, "expected_cost": plan.expected_cost,
                    "notional": plan.notional, "weights": plan.weights,
                    "trades": [{"client_order_id": o.client_order_id, "asset": o.asset, "side": o.side,
                                "quantity": o.quantity, "quote_asset": o.quote_asset,
                                "ref_price": o.ref_price, "limit_price": o.limit_price,
                                "notional": o.notional, "expected_cost": o.expected_cost} for o in orders]})
                s.add(p)
                s.flush()
                pid = p.id
            if not orders and not propose:
                d.state = DecisionState.FILLED
            return CycleRecord(cid, d.id, [o.id for o in orders], pid)

    def add_alert(self, kind: str, message: str, level: str = "warning", asset: str | None = None,
                  cycle_id: int | None = None) -> int:
        with self.session() as s:
            a = Alert(level=level, kind=kind, message=message, asset=asset, cycle_id=cycle_id)
            s.add(a)
            s.flush()
            return a.id

    def set_order(self, order_id: int, status: OrderStatus, exchange_order_id: str | None = None,
                  error: str | None = None) -> None:
        if status not in ORDER_STATES:
            raise ValueError(f"unknown order status {status!r}")
        values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
        if exchange_order_id is not None:
            values["exchange_order_id"] = exchange_order_id
        if error is not None:
            values["error"] = error[:2000]
        with self.session() as s:
            s.execute(update(Order).where(Order.id == order_id).values(**values))

    def record_fill(self, order_id: int, trade_key: str, quantity: float, price: float,
                    quote_quantity: float, fee: float, status: OrderStatus | None = None,
                    gross: float | None = None, fee_leg: tuple[str, float, float] | None = None) -> bool:
        """Record one venue fill (idempotent on ``trade_key``) and optionally the order's new
        status, in one transaction. Returns False if the fill was already recorded.

        ``fee_leg`` = (currency, units, value): a fee the venue took in a third currency (BNB on
        Binance), booked as its own leg so holdings stay = start + fills; ``value`` (in the
        portfolio's currency, 0 when it could not be valued) is the leg's ``fee``."""
        with self.session() as s:
            o = s.get(Order, order_id)
            if o is None:
                raise ValueError(f"no order {order_id}")
            seen = s.scalar(select(Fill.id).where(Fill.order_id == order_id, Fill.trade_key == trade_key))
            if seen is None:
                s.add(Fill(order_id=order_id, trade_key=trade_key, asset=o.asset, quantity=quantity,
                           price=price, quote_asset=o.quote_asset, quote_quantity=quote_quantity, fee=fee))
                if fee_leg is not None:
                    ccy, units, value = fee_leg
                    s.add(Fill(order_id=order_id, trade_key=f"{trade_key}:fee", asset=ccy, quantity=-units,
                               price=value / units if units else 0.0, quote_asset=o.quote_asset,
                               quote_quantity=0.0, fee=value))
                o.filled_quantity = (o.filled_quantity or 0.0) + (abs(quantity) if gross is None else gross)
            if status is not None:
                o.status = status
            o.updated_at = utcnow()
            return seen is None

    def settle_decision(self, decision_id: int) -> DecisionState:
        """Derive the decision's state from its orders once none is open; returns the state."""
        with self.session() as s:
            d = s.get(Decision, decision_id)
            assert d is not None
            sts = list(s.scalars(select(Order.status).where(Order.decision_id == decision_id)))
            if any(x in ORDER_OPEN for x in sts):
                new = DecisionState.SUBMITTED if any(x in (OrderStatus.SUBMITTED, OrderStatus.CANCEL_REQUESTED) for x in sts) else DecisionState(d.state)
            elif not sts or all(x == OrderStatus.FILLED for x in sts):
                new = DecisionState.FILLED
            elif any(x in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED) for x in sts):
                new = DecisionState.PARTIALLY_FILLED
            elif all(x == OrderStatus.CANCELLED for x in sts):
                new = DecisionState.CANCELLED
            else:
                new = DecisionState.FAILED
            if new != d.state:
                d.state = new
                d.updated_at = utcnow()
            pid = s.scalar(select(Proposal.id).where(Proposal.decision_id == decision_id,
                                                     Proposal.state == ProposalState.EXECUTING))
            if pid is not None and new in DECISION_FINAL:
                s.execute(update(Proposal).where(Proposal.id == pid).values(
                    state=ProposalState.EXECUTED if new in (DecisionState.FILLED, DecisionState.PARTIALLY_FILLED) else ProposalState.FAILED,
                    executed_at=utcnow()))
            return new


def _expire(s: Session, proposal_id: int, reason: str) -> None:
    """The proposal is too old or no longer fits: expired, its decision and orders cancelled."""
    did = s.scalar(select(Proposal.decision_id).where(Proposal.id == proposal_id))
    s.execute(update(Proposal).where(Proposal.id == proposal_id).values(state=ProposalState.EXPIRED, note=reason[:2000],
                                                                        executed_at=utcnow()))
    s.execute(update(Decision).where(Decision.id == did).values(state=DecisionState.CANCELLED, note=f"expired: {reason}"[:2000],
                                                                updated_at=utcnow()))
    s.execute(update(Order).where(Order.decision_id == did, Order.status == OrderStatus.PLANNED)
              .values(status=OrderStatus.CANCELLED, error=f"proposal expired: {reason}"[:2000], updated_at=utcnow()))
    s.add(Alert(level="warning", kind="proposal_expired", message=f"proposal {proposal_id} expired: {reason}"))

