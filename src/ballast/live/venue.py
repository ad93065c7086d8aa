"""The venue protocol: how a decision's orders reach the venue and how its answers come back —
send once, resend only when the venue provably has no such order, poll until filled or timed
out, cancel what is left, and reconcile by client order id after a crash. Approved proposals
are claimed and executed here too. A mixin of `LiveService` (it reads the service's executor,
ledger and lease), kept in its own module because it is the part that can lose money."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ballast.costs.base import compile_costs
from ballast.live import lending
from ballast.live.executors import Executor, TransientError, VenueOrder, wait_backoff
from ballast.live.hedge import LiveHedge, is_perp
from ballast.live.history import History
from ballast.live.lease import Lease
from ballast.live.models import utcnow
from ballast.live.proposals import Fit, fit_plan, staleness
from ballast.live.records import ORDER_FINAL, FitCheck, OrderRow, OrderStatus, ProposalRow, ProposalState
from ballast.live.repository import Ledger
from ballast.live.sources import Observation, Source
from ballast.market import Market
from ballast.strategy import Strategy

if TYPE_CHECKING:
    from ballast.config.live import LiveSection

log = logging.getLogger("ballast.live")

# An executor's answer → the order's status in the ledger.
STATUS_OF = {
    "open": OrderStatus.SUBMITTED,
    "filled": OrderStatus.FILLED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "cancelled": OrderStatus.CANCELLED,
    "rejected": OrderStatus.REJECTED,
}


class VenueProtocol:
    """Sending, polling, cancelling and reconciling orders (mixed into `LiveService`)."""

    strategy: Strategy
    cfg: LiveSection
    ledger: Ledger
    executor: Executor | None
    source: Source
    lease: Lease
    history: History
    assets: tuple[str, ...]
    mode: str
    registered: bool
    retries: int
    poll: float
    order_timeout: float
    max_order_age: float | None
    last_rebalance: int
    replan: str | None
    hedge: LiveHedge | None

    def account_balances(self) -> dict[str, float] | None:
        """The account's units: the source's when it reads one (web3: the Safe), else the executor's."""
        reader = self.source if hasattr(self.source, "balances") else self.executor
        return None if reader is None else reader.balances(list(self.assets))

    def check_account(self) -> None:
        """On restart against a real account: say so if the exchange holds other amounts than the
        ledger (a deposit, a withdrawal, a trade made by hand). The ledger is not changed."""
        if not self.registered:
            return
        venue = self.account_balances()
        if venue is None:
            return
        held = self.ledger.holdings()
        off = [
            f"{a}: ledger {held.get(a, 0.0):.8g}, exchange {v:.8g}"
            for a, v in venue.items()
            if abs(held.get(a, 0.0) - v) > 1e-8 * max(abs(v), 1.0)
        ]
        if off:
            msg = "holdings differ from the exchange account (" + "; ".join(off) + ")"
            log.warning(msg, extra={"event": "holdings_mismatch"})
            self.ledger.add_alert("holdings_mismatch", msg, "warning")

    def reconcile(self) -> bool:
        """Finish every unfinished decision with the venue; True when none is left open."""
        todo = self.ledger.unfinished_decisions()
        if todo and self.executor is None:
            return False
        for did in todo:
            log.info("reconciling decision %d with the venue", did, extra={"event": "reconcile", "decision": did})
            self.execute_decision(did, None, reconcile=True)
        if todo:
            self.last_rebalance = self.ledger.last_rebalance_period()
        return not self.ledger.unfinished_decisions()

    def execute_decision(self, did: int, prices: dict[str, float] | None, reconcile: bool = False) -> str:
        assert self.executor is not None
        ex = self.executor
        for o in self.ledger.order_rows(did):
            if o["status"] in ORDER_FINAL:
                continue
            price = None if prices is None else prices.get(o["asset"])
            answer: VenueOrder | None = None
            if reconcile or o["status"] != OrderStatus.PLANNED:
                try:
                    answer = ex.lookup(o)
                except TransientError as exc:
                    log.warning("order %s: venue unreachable while reconciling: %s", o["client_order_id"], exc)
                    continue
                if answer is None and o["status"] != OrderStatus.PLANNED:
                    self.ledger.set_order(o["id"], OrderStatus.FAILED, error="the venue does not know this order")
                    continue
            if answer is None and self.ledger.is_paused():
                continue  # pause stops all sending: the order waits, planned, for resume
            if answer is None:
                created = o["created_at"]
                assert created is not None
                age = (utcnow() - datetime.fromisoformat(created.rstrip("Z"))).total_seconds()
                if reconcile and self.max_order_age is not None and age > self.max_order_age:
                    self.ledger.set_order(
                        o["id"],
                        OrderStatus.CANCELLED,
                        error=f"not sent: planned {age:.0f}s ago, older than max_order_age",
                    )
                    continue
                answer = self._submit(o, price)
                if answer is None:
                    continue  # fate unknown: stays open, reconciled next cycle
            self._apply(o, answer)
        self._poll(did)
        return self.ledger.settle_decision(did)

    def _submit(self, o: OrderRow, price: float | None) -> VenueOrder | None:
        """Send once; after a transient error, resend only when the venue definitely has no such
        order — so a retry can never double-trade."""
        assert self.executor is not None
        for attempt in range(self.retries + 1):
            if attempt > 0:
                try:
                    found = self.executor.lookup(o)
                except TransientError as exc:
                    log.warning("order %s: lookup failed (%s); not resending", o["client_order_id"], exc)
                    wait_backoff(attempt)
                    continue
                if found is not None:
                    return found
            self.lease.ensure()  # a runner that lost its lease stops here, before sending
            try:
                return self.executor.submit(o, price)
            except TransientError as exc:
                log.warning(
                    "order %s: send failed (%s), attempt %d",
                    o["client_order_id"],
                    exc,
                    attempt + 1,
                    extra={"event": "send_error", "order": o["client_order_id"]},
                )
                wait_backoff(attempt)
        self.ledger.add_alert(
            "venue_unreachable",
            f"order {o['client_order_id']}: no definite answer from the "
            f"venue after {self.retries + 1} attempts; will reconcile",
            "error",
            o["asset"],
        )
        return None

    def _apply(self, o: OrderRow, answer: VenueOrder, cancelling: bool = False) -> None:
        """Record the venue's answer. An order whose cancel was asked for (now or before) and
        that the venue still reports open stays ``cancel_requested``: looked up until final."""
        for f in answer.fills:
            new = self.ledger.record_fill(
                o["id"], f.key, f.quantity, f.price, f.quote_quantity, f.fee, gross=f.gross, fee_leg=f.fee_leg
            )
            if new and f.fee_leg is not None and not f.fee_leg[2]:
                ccy, units, _ = f.fee_leg
                self.ledger.add_alert(
                    "fee_unvalued",
                    f"order {o['client_order_id']}: fee of {units:.8g} {ccy} "
                    f"booked in {ccy}; the venue has no {ccy} price to value it",
                    "warning",
                    ccy,
                )
        status = STATUS_OF[answer.status]
        if status == OrderStatus.SUBMITTED and (cancelling or o["status"] == OrderStatus.CANCEL_REQUESTED):
            status = OrderStatus.CANCEL_REQUESTED
        self.ledger.set_order(o["id"], status, exchange_order_id=answer.exchange_id, error=answer.error)
        if status == OrderStatus.REJECTED:
            log.error(
                "order %s rejected: %s",
                o["client_order_id"],
                answer.error,
                extra={"event": "rejected", "order": o["client_order_id"]},
            )
            self.ledger.add_alert(
                "order_rejected",
                f"order {o['client_order_id']} ({o['side']} {o['quantity']:g} {o['asset']}) rejected: {answer.error}",
                "error",
                o["asset"],
            )

    def _poll(self, did: int) -> None:
        """Poll open orders until filled or ``order_timeout``; then cancel what is left."""
        assert self.executor is not None
        deadline = time.monotonic() + self.order_timeout
        while True:
            open_ = [o for o in self.ledger.order_rows(did) if o["status"] == OrderStatus.SUBMITTED]
            if not open_:
                return
            if time.monotonic() >= deadline:
                self.lease.ensure()  # only the lease holder touches the venue
                for o in open_:
                    try:
                        final = self.executor.cancel(o)
                    except TransientError as exc:
                        log.warning("order %s: cancel failed: %s", o["client_order_id"], exc)
                        continue
                    if final is not None:
                        self._apply(o, final, cancelling=True)
                    log.info(
                        "order %s: cancel requested after %.0fs (%s)",
                        o["client_order_id"],
                        self.order_timeout,
                        final.status if final else "unknown",
                        extra={"event": "cancel_stale", "order": o["client_order_id"]},
                    )
                return
            time.sleep(self.poll)
            self.lease.beat()
            for o in open_:
                try:
                    ans = self.executor.lookup(o)
                except TransientError:
                    continue
                if ans is not None:
                    self._apply(o, ans)

    def run_approved(self, prices: dict[str, float] | None, now: datetime | None) -> None:
        """Execute proposals approved since the last cycle (each claimed by exactly one runner),
        re-priced at ``prices`` (observed at ``now``; None: the last accepted observation)."""
        if self.executor is None or self.mode != "propose":
            return
        if prices is None:
            last, now = self.history.last(), self.history.last_time()
            if last is None:
                return
            prices = dict(zip(self.assets, map(float, last), strict=True))
        assert now is not None
        if self.hedge is not None:  # a re-hedge is re-priced at its underlying's price
            prices = {**prices, **self.hedge.mark(prices)}
        seen = max((p["id"] for p in self.ledger.proposals(ProposalState.EXPIRED, limit=1)), default=0)
        for pid in self.ledger.claim_approved(self.fit_check(prices, now)):
            did = self.ledger.proposal_decision(pid)
            state = self.execute_decision(did, prices)
            self.last_rebalance = self.ledger.last_rebalance_period()
            log.info(
                "proposal %d executed: decision %d %s",
                pid,
                did,
                state,
                extra={"event": "proposal_executed", "proposal": pid, "decision": did, "state": state},
            )
        for p in self.ledger.expired_since(seen):
            log.warning(
                "proposal %d expired: %s", p["id"], p["note"], extra={"event": "proposal_expired", "proposal": p["id"]}
            )
            self.replan = f"re-plan: proposal {p['id']} expired"

    def fit_check(self, prices: dict[str, float], now: datetime) -> FitCheck:
        """The test an approved proposal passes, inside the transaction that claims it: not older
        than ``valid_for``, no price moved more than ``max_price_move``, and its orders fit the
        holdings at these prices (no sale of more than held, no balance below zero — buys whose
        price rose within the tolerance are scaled down to the paying balance)."""
        cfg = self.cfg.propose
        cost = self.cost_fn()
        to_fit = lending.approved_moves(self.ledger)  # a loan's boost buys with what it borrows

        def check(held: dict[str, float], orders: list[OrderRow], proposal: ProposalRow) -> Fit:
            planned_at = datetime.fromisoformat(proposal["payload"]["observed_at"].rstrip("Z"))
            old = staleness(orders, planned_at, prices, now, cfg.valid_seconds, cfg.max_price_move)
            spot = [o for o in to_fit(orders) if not is_perp(o["asset"])]  # a perp sells no holding
            return Fit(old, {}) if old else fit_plan(held, spot, prices, cost, cfg.max_price_move)

        return check

    def cost_arrays(self, obs: Observation, p: np.ndarray) -> Any:
        """The strategy's cost arrays on this one observation (period index 0)."""
        one = Market(p[None, :], self.assets, pd.DatetimeIndex([obs.time]), self.history.ppy)
        return compile_costs(self.strategy.costs, one)

    def cost_fn(self) -> Callable[[str, float], float]:
        """(asset, value) → cost through the shared ``trade_cost`` (paper fills of late proposals)."""
        from ballast.costs.kernel import trade_cost

        def cost(asset: str, value: float) -> float:
            last = self.history.last()
            if last is None:
                return 0.0
            when = self.history.last_time()
            assert when is not None
            arrays = self.cost_arrays(Observation(when, {}), last)
            return float(trade_cost(arrays, self.assets.index(asset), 0, value))

        return cost
