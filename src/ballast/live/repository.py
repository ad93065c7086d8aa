"""The ledger's write side: what the runner records as it observes, decides and trades.

Crash-safety order (see docs/live.md): everything about a cycle — prices, snapshot, alerts, the
decision and all its orders with their client order ids — is written in ONE transaction before
anything is sent (`record_cycle`); a venue's answer is recorded afterwards, fills idempotently per
venue trade key (`record_fill`); the decision's state is derived from its orders last
(`settle_decision`). The operator's writes (approvals, pause) are in `approvals`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update

from ballast.live.approvals import OperatorWrites
from ballast.live.hedge import HedgeClose
from ballast.live.liquidity import LPClose
from ballast.live.models import (
    Alert,
    Cycle,
    Decision,
    Fill,
    HoldingSnapshot,
    Order,
    PriceSeen,
    Proposal,
    ServiceState,
    StartingHolding,
    utcnow,
)
from ballast.live.queries import PAUSED_QUERY
from ballast.live.records import (
    DECISION_FINAL,
    ORDER_OPEN,
    ORDER_STATES,
    CycleRecord,
    CycleStatus,
    DecisionState,
    GuardAlert,
    OrderStatus,
    PlannedDecision,
    ProposalState,
    iso_time,
)
from ballast.live.treasury import TreasuryCycle

if TYPE_CHECKING:
    from ballast.live.loans import LoanCycle


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


class Ledger(OperatorWrites):
    """Repository over the ledger database: the reads (`LedgerQueries`), the operator's writes
    (`OperatorWrites`) and the runner's records of cycles, orders and fills."""

    def add_alert_once(self, kind: str, message: str, level: str = "warning", asset: str | None = None) -> bool:
        """An alert unless one of this kind and asset is still open (no alert per cycle)."""
        with self.session() as s:
            if (
                s.scalar(
                    select(Alert.id)
                    .where(
                        Alert.kind == kind,
                        Alert.resolved_at.is_(None),
                        Alert.asset.is_(None) if asset is None else Alert.asset == asset,
                    )
                    .limit(1)
                )
                is not None
            ):
                return False
            s.add(Alert(level=level, kind=kind, message=message, asset=asset))
        return True

    # ---------------------------------------------------------------- service-side writes
    def start_service(
        self, holdings: dict[str, float], strategy: str, executor: str, source: str, dry_run: bool
    ) -> bool:
        """Record who runs; store the starting holdings once. Returns True on the first start."""
        with self.session() as s:
            first = s.scalar(select(func.count()).select_from(StartingHolding)) == 0
            if first:
                s.add_all(StartingHolding(asset=a, units=float(u)) for a, u in holdings.items())
            s.execute(
                update(ServiceState)
                .where(ServiceState.id == 1)
                .values(
                    strategy=strategy,
                    executor=executor,
                    source=source,
                    dry_run=dry_run,
                    started_at=utcnow(),
                    heartbeat_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
        return first

    def cycle_inputs(self) -> tuple[bool, dict[str, float], list[int]]:
        """(paused, holdings, unfinished decisions) read in one transaction at the top of a cycle."""
        with self.session() as s:
            return bool(s.scalar(PAUSED_QUERY)), self.holdings(s), self._unfinished(s)

    def record_cycle(
        self,
        observed_at: datetime,
        period: int | None,
        status: CycleStatus,
        note: str | None,
        prices: Mapping[str, float | None],
        value: float | None,
        lines: list[dict[str, Any]] | None,
        plan: PlannedDecision | None = None,
        propose: bool = False,
        alerts: Sequence[GuardAlert] = (),
        treasury: TreasuryCycle | None = None,
        loans: LoanCycle | None = None,
        liquidity: LPClose | None = None,
        hedge: HedgeClose | None = None,
    ) -> CycleRecord:
        """Write one cycle atomically: prices, snapshot, alerts, the close's flows and accruals
        (``treasury``, a `live.treasury.TreasuryCycle`), the loans' accruals, liquidations and
        marks (``loans``, a `live.loans.LoanCycle`), the liquidity position's close (``liquidity``,
        a `live.liquidity.LPClose`: its mark and wallet entries), a delta hedge's close (``hedge``,
        a `live.hedge.HedgeClose`: the perp's mark, settlement and the re-hedge's why), and the
        decision with its orders (client order ids included, repay/boost orders linked to their
        loan) — all before anything is sent to a venue."""
        with self.session() as s:
            cid = s.scalar(
                insert(Cycle)
                .values(
                    period=period,
                    observed_at=observed_at,
                    started_at=utcnow(),
                    status=status,
                    note=note,
                    value=_num(value),
                )
                .returning(Cycle.id)
            )
            assert cid is not None
            if treasury is not None:
                from ballast.live import treasury as entries  # looked up per call: tests inject a crash

                entries.book_cycle(s, cid, period, observed_at, treasury)
            if loans is not None:
                from ballast.live import lending  # looked up per call: tests inject a crash

                lending.book_cycle(s, cid, period, observed_at, loans.closes)
            if liquidity is not None:
                assert period is not None
                from ballast.live import lp_ledger  # looked up per call: tests inject a crash

                lp_ledger.book_cycle(s, cid, period, observed_at, liquidity)
            if hedge is not None:
                assert period is not None
                from ballast.live import hedge_ledger  # looked up per call: tests inject a crash

                hedge_ledger.book_cycle(s, cid, period, observed_at, hedge)
            s.execute(insert(PriceSeen), [{"cycle_id": cid, "asset": a, "price": _num(p)} for a, p in prices.items()])
            if lines is not None and value is not None:
                s.execute(
                    insert(HoldingSnapshot).values(
                        cycle_id=cid, observed_at=observed_at, total_value=value, lines=lines
                    )
                )
            if alerts:
                s.execute(
                    insert(Alert),
                    [
                        {
                            "level": level,
                            "kind": kind,
                            "message": message,
                            "asset": asset,
                            "cycle_id": cid,
                            "created_at": utcnow(),
                        }
                        for level, kind, message, asset in alerts
                    ],
                )
            if plan is None:
                return CycleRecord(cid, None, [], None)
            key = s.scalar(select(ServiceState.ledger_key).where(ServiceState.id == 1))
            d = Decision(
                cycle_id=cid,
                period=period,
                observed_at=observed_at,
                reason=plan.reason,
                state=DecisionState.PLANNED,
                executor=plan.executor,
                value_before=plan.value_before,
                notional=plan.notional,
                expected_cost=plan.expected_cost,
                weights=plan.weights,
                note=plan.note,
            )
            s.add(d)
            s.flush()
            orders = [
                Order(
                    decision_id=d.id,
                    client_order_id=f"bl-{key}-{d.id}-{k}",
                    asset=o.asset,
                    quote_asset=o.quote_asset,
                    side=o.side,
                    quantity=o.quantity,
                    ref_price=o.ref_price,
                    quote_price=o.quote_price,
                    limit_price=o.limit_price,
                    notional=o.notional,
                    expected_cost=o.expected_cost,
                    status=OrderStatus.PLANNED,
                )
                for k, o in enumerate(plan.orders)
            ]
            s.add_all(orders)
            s.flush()
            if loans is not None and loans.moves:
                from ballast.live import lending

                lending.link_orders(s, loans.links(plan.orders, [o.id for o in orders]))
            if liquidity is not None and liquidity.pending is not None:  # the reset goes with this decision
                from ballast.live import lp_ledger

                swap = liquidity.pending.order
                oid = next((r.id for o, r in zip(plan.orders, orders, strict=True) if o is swap), None)
                lp_ledger.link_reset(s, cid, d.id, oid)
            pid = None
            if propose:
                p = Proposal(
                    decision_id=d.id,
                    state=ProposalState.PENDING,
                    payload={
                        "decision_id": d.id,
                        "reason": plan.reason,
                        "observed_at": iso_time(observed_at),
                        "value_before": plan.value_before,
                        "expected_cost": plan.expected_cost,
                        "notional": plan.notional,
                        "weights": plan.weights,
                        "trades": [
                            {
                                "client_order_id": o.client_order_id,
                                "asset": o.asset,
                                "side": o.side,
                                "quantity": o.quantity,
                                "quote_asset": o.quote_asset,
                                "ref_price": o.ref_price,
                                "limit_price": o.limit_price,
                                "notional": o.notional,
                                "expected_cost": o.expected_cost,
                            }
                            for o in orders
                        ],
                    },
                )
                s.add(p)
                s.flush()
                pid = p.id
            if not orders and not propose:
                d.state = DecisionState.FILLED
            return CycleRecord(cid, d.id, [o.id for o in orders], pid)

    def add_alert(
        self, kind: str, message: str, level: str = "warning", asset: str | None = None, cycle_id: int | None = None
    ) -> int:
        with self.session() as s:
            a = Alert(level=level, kind=kind, message=message, asset=asset, cycle_id=cycle_id)
            s.add(a)
            s.flush()
            return a.id

    def set_order(
        self, order_id: int, status: OrderStatus, exchange_order_id: str | None = None, error: str | None = None
    ) -> None:
        if status not in ORDER_STATES:
            raise ValueError(f"unknown order status {status!r}")
        values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
        if exchange_order_id is not None:
            values["exchange_order_id"] = exchange_order_id
        if error is not None:
            values["error"] = error[:2000]
        with self.session() as s:
            s.execute(update(Order).where(Order.id == order_id).values(**values))

    def record_fill(
        self,
        order_id: int,
        trade_key: str,
        quantity: float,
        price: float,
        quote_quantity: float,
        fee: float,
        status: OrderStatus | None = None,
        gross: float | None = None,
        fee_leg: tuple[str, float, float] | None = None,
    ) -> bool:
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
                s.add(
                    Fill(
                        order_id=order_id,
                        trade_key=trade_key,
                        asset=o.asset,
                        quantity=quantity,
                        price=price,
                        quote_asset=o.quote_asset,
                        quote_quantity=quote_quantity,
                        fee=fee,
                    )
                )
                if fee_leg is not None:
                    ccy, units, value = fee_leg
                    s.add(
                        Fill(
                            order_id=order_id,
                            trade_key=f"{trade_key}:fee",
                            asset=ccy,
                            quantity=-units,
                            price=value / units if units else 0.0,
                            quote_asset=o.quote_asset,
                            quote_quantity=0.0,
                            fee=value,
                        )
                    )
                o.filled_quantity = (o.filled_quantity or 0.0) + (abs(quantity) if gross is None else gross)
                from ballast.live import lending  # a repay/boost order's loan legs come with its fill

                lending.book_fill(s, o, trade_key, quote_quantity)
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
                new = (
                    DecisionState.SUBMITTED
                    if any(x in (OrderStatus.SUBMITTED, OrderStatus.CANCEL_REQUESTED) for x in sts)
                    else DecisionState(d.state)
                )
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
            if new in (DecisionState.FILLED, DecisionState.PARTIALLY_FILLED):
                from ballast.live import lp_ledger  # a liquidity reset's legs, once its swap filled

                lp_ledger.book_reset(s, decision_id)
            pid = s.scalar(
                select(Proposal.id).where(
                    Proposal.decision_id == decision_id, Proposal.state == ProposalState.EXECUTING
                )
            )
            if pid is not None and new in DECISION_FINAL:
                s.execute(
                    update(Proposal)
                    .where(Proposal.id == pid)
                    .values(
                        state=ProposalState.EXECUTED
                        if new in (DecisionState.FILLED, DecisionState.PARTIALLY_FILLED)
                        else ProposalState.FAILED,
                        executed_at=utcnow(),
                    )
                )
            return new
