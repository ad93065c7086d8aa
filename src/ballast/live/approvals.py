"""The writes an operator makes (CLI, API) and races the runner on: pause and resume, approve,
reject, claim, export and expire proposals, resolve alerts. Each is a conditional UPDATE (``WHERE
state = <expected>``), so of several concurrent callers exactly one changes the row and the
others see ``changed=False`` or a clear error — never a double execution."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ballast.errors import InputError
from ballast.live.database import changed
from ballast.live.models import (
    Alert,
    Decision,
    Order,
    Proposal,
    ServiceState,
    utcnow,
)
from ballast.live.queries import PAUSED_QUERY, LedgerQueries
from ballast.live.records import (
    DecisionState,
    FitCheck,
    OrderStatus,
    Outcome,
    ProposalState,
    iso_time,
    order_row,
    proposal_row,
)


class OperatorWrites(LedgerQueries):
    """State changes requested from outside the runner (and the runner's claim of approvals)."""

    def pause(self, reason: str | None = None) -> Outcome:
        """Stop trading at the next cycle (observations and alerts continue). Idempotent."""
        with self.session() as s:
            n = changed(
                s.execute(
                    update(ServiceState)
                    .where(ServiceState.id == 1, ServiceState.paused.is_(False))
                    .values(paused=True, pause_reason=reason, updated_at=utcnow())
                )
            )
        return Outcome(1, "paused", n == 1)

    def resume(self) -> Outcome:
        with self.session() as s:
            n = changed(
                s.execute(
                    update(ServiceState)
                    .where(ServiceState.id == 1, ServiceState.paused.is_(True))
                    .values(paused=False, pause_reason=None, updated_at=utcnow())
                )
            )
        return Outcome(1, "running", n == 1)

    def _transition(
        self, proposal_id: int, frm: tuple[str, ...], to: str, done: tuple[str, ...], **values: Any
    ) -> Outcome:
        """Conditional UPDATE: only one concurrent caller moves the proposal out of ``frm``."""
        with self.session() as s:
            n = changed(
                s.execute(
                    update(Proposal)
                    .where(Proposal.id == proposal_id, Proposal.state.in_(frm))
                    .values(state=to, **values)
                )
            )
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
        return self._transition(
            proposal_id,
            (ProposalState.PENDING,),
            ProposalState.APPROVED,
            (ProposalState.APPROVED, ProposalState.EXECUTING, ProposalState.EXECUTED),
            decided_at=utcnow(),
            decided_by=by,
            note=note,
        )

    def reject_proposal(self, proposal_id: int, by: str | None = None, note: str | None = None) -> Outcome:
        """pending → rejected (its decision becomes cancelled). Idempotent."""
        out = self._transition(
            proposal_id,
            (ProposalState.PENDING,),
            ProposalState.REJECTED,
            (ProposalState.REJECTED,),
            decided_at=utcnow(),
            decided_by=by,
            note=note,
        )
        if out.changed:
            with self.session() as s:
                did = s.scalar(select(Proposal.decision_id).where(Proposal.id == proposal_id))
                s.execute(
                    update(Decision)
                    .where(Decision.id == did, Decision.state == DecisionState.PLANNED)
                    .values(state=DecisionState.CANCELLED, note="proposal rejected", updated_at=utcnow())
                )
                s.execute(
                    update(Order)
                    .where(Order.decision_id == did, Order.status == OrderStatus.PLANNED)
                    .values(status=OrderStatus.CANCELLED, error="proposal rejected", updated_at=utcnow())
                )
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
            ids = list(
                s.scalars(select(Proposal.id).where(Proposal.state == ProposalState.APPROVED).order_by(Proposal.id))
            )
        won = []
        for pid in ids:
            with self.session() as s:
                if s.scalar(PAUSED_QUERY):
                    break
                n = changed(
                    s.execute(
                        update(Proposal)
                        .where(Proposal.id == pid, Proposal.state == ProposalState.APPROVED)
                        .values(state=ProposalState.EXECUTING)
                    )
                )
                if n != 1:
                    continue
                reason: str | None = None
                resize: dict[int, float] = {}
                if check is not None:
                    p = s.get(Proposal, pid)
                    assert p is not None
                    orders = [
                        order_row(o)
                        for o in s.scalars(select(Order).where(Order.decision_id == p.decision_id).order_by(Order.id))
                    ]
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

    def export_approved(self, mark: bool = True, ids: list[int] | None = None) -> dict[str, Any]:
        """Approved proposals as one batch (e.g. for a multisig transaction builder). ``mark``:
        they become ``exported`` in the same transaction, so no later export holds them again and
        no runner executes them; ``ballast proposals settle`` records what was done on chain.
        ``ids``: only these (a batch checked before marking must be the batch marked)."""
        with self.session() as s:
            q = select(Proposal).where(Proposal.state == ProposalState.APPROVED).order_by(Proposal.id)
            rows = list(s.scalars(q if ids is None else q.where(Proposal.id.in_(ids))))
            items = [proposal_row(p) for p in rows]
            if mark and rows:
                s.execute(
                    update(Proposal)
                    .where(Proposal.id.in_([p.id for p in rows]), Proposal.state == ProposalState.APPROVED)
                    .values(state=ProposalState.EXPORTED)
                )
        st = self.state()
        return {
            "ledger": st["ledger_key"],
            "strategy": st["strategy"],
            "exported_at": iso_time(utcnow()),
            "proposals": items,
            "trades": [t for p in items for t in p["payload"].get("trades", [])],
        }

    def resolve_alert(self, alert_id: int) -> Outcome:
        with self.session() as s:
            n = changed(
                s.execute(
                    update(Alert).where(Alert.id == alert_id, Alert.resolved_at.is_(None)).values(resolved_at=utcnow())
                )
            )
            exists = s.get(Alert, alert_id) is not None
        if not exists:
            raise InputError(f"no alert with id {alert_id}")
        return Outcome(alert_id, "resolved", n == 1)


def _expire(s: Session, proposal_id: int, reason: str) -> None:
    """The proposal is too old or no longer fits: expired, its decision and orders cancelled."""
    did = s.scalar(select(Proposal.decision_id).where(Proposal.id == proposal_id))
    s.execute(
        update(Proposal)
        .where(Proposal.id == proposal_id)
        .values(state=ProposalState.EXPIRED, note=reason[:2000], executed_at=utcnow())
    )
    s.execute(
        update(Decision)
        .where(Decision.id == did)
        .values(state=DecisionState.CANCELLED, note=f"expired: {reason}"[:2000], updated_at=utcnow())
    )
    s.execute(
        update(Order)
        .where(Order.decision_id == did, Order.status == OrderStatus.PLANNED)
        .values(status=OrderStatus.CANCELLED, error=f"proposal expired: {reason}"[:2000], updated_at=utcnow())
    )
    s.add(Alert(level="warning", kind="proposal_expired", message=f"proposal {proposal_id} expired: {reason}"))
