"""The live loop: observe prices, value the ledger's holdings, decide with the strategy's own
objects, write the decision, then execute or propose it.

Decisions use exactly what the backtest uses — ``Target.at``, ``Trigger.fires``, ``Planner.plan``
and the compiled ``execute`` accounting with the strategy's cost arrays — so replaying a price
file through the service gives the backtest's rebalances and trades.

Crash safety, in order of events within one cycle:
1. reconcile any unfinished decision with the venue (by client order id) — nothing new is decided
   while one is unresolved;
2. write the cycle (prices, snapshot, alerts) and, if the trigger fires, the decision and all its
   orders with their client ids, in ONE transaction;
3. send the orders; record each venue answer (fills are idempotent per venue trade key);
4. settle the decision's state from its orders.
A kill anywhere leaves either no trace of the cycle (it is replayed) or a decision that step 1
finishes. Holdings are never stored, only derived: starting holdings plus all fills.
"""
from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ballast.costs.base import compile_costs
from ballast.errors import InputError
from ballast.live.config import LiveSection
from ballast.live.executors import Executor, TransientError, VenueOrder, wait_backoff
from ballast.live.lease import Lease
from ballast.live.ledger import (
    CASH, ORDER_FINAL, FitCheck, Ledger, PlannedDecision, PlannedOrder, utcnow,
)
from ballast.live.proposals import Fit, fit_plan, staleness
from ballast.live.sources import Observation, Source, SourceUnavailable
from ballast.live.treasury import LiveTreasury, check_live_routing
from ballast.market import Market
from ballast.strategy import Strategy
from ballast.planning.base import PlanSpec
from ballast.planning.constraints_kernel import floor_target
from ballast.triggers.base import TriggerState

log = logging.getLogger("ballast.live")

CONV = {"exact": 0, "bt": 1}
STATUS_OF = {"open": "submitted", "filled": "filled", "partially_filled": "partially_filled",
             "cancelled": "cancelled", "rejected": "rejected"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, message and any ``extra`` fields."""

    SKIP = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": datetime.fromtimestamp(record.created).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        out.update({k: v for k, v in record.__dict__.items() if k not in self.SKIP})
        return json.dumps(out, default=str)


def setup_logging(as_json: bool, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter(
        "%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    root = logging.getLogger("ballast")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class History:
    """The live market so far: prices appended in place (amortised), viewed as a `Market`."""

    def __init__(self, assets: tuple[str, ...], periods_per_year: float) -> None:
        self.assets = assets
        self.ppy = periods_per_year
        self.prices = np.empty((256, len(assets)))
        self.stamps = np.empty(256, "datetime64[ns]")
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def append(self, when: datetime, row: np.ndarray) -> None:
        if self.n == self.prices.shape[0]:
            self.prices = np.concatenate([self.prices, np.empty_like(self.prices)])
            self.stamps = np.concatenate([self.stamps, np.empty_like(self.stamps)])
        self.prices[self.n] = row
        self.stamps[self.n] = np.datetime64(when, "ns")
        self.n += 1

    def pop(self) -> None:
        self.n -= 1

    def market(self) -> Market:
        return Market(self.prices[: self.n], self.assets, pd.DatetimeIndex(self.stamps[: self.n]), self.ppy)

    def last(self) -> np.ndarray | None:
        return self.prices[self.n - 1] if self.n else None

    def last_time(self) -> datetime | None:
        return pd.Timestamp(self.stamps[self.n - 1]).to_pydatetime() if self.n else None

    def recent(self) -> tuple[Market, int]:
        """The last two closes as a market, and the current close's row in it.

        Per-period cost and constraint arrays are built on this, so period 0 is the formation
        (no turnover cap) exactly as in the backtest, without rebuilding them over all history.
        """
        n = self.n
        lo = max(n - 2, 0)
        return Market(self.prices[lo:n], self.assets, pd.DatetimeIndex(self.stamps[lo:n]), self.ppy), n - 1 - lo


@dataclass
class CycleView:
    """What the terminal status shows after each cycle."""

    observed_at: datetime | None = None
    period: int | None = None
    status: str = "starting"
    note: str | None = None
    value: float | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)
    last_decision: str | None = None
    decisions: int = 0
    guarded: int = 0
    cycles: int = 0


def check_holdings(holdings: dict[str, float] | None, assets: tuple[str, ...]) -> None:
    unknown = [a for a in holdings or {} if a not in assets]
    if unknown:
        raise InputError(f"[live] holdings: unknown asset(s) {', '.join(map(repr, unknown))}; "
                         f"the strategy trades {', '.join(assets)}")


class LiveService:
    """One strategy, one ledger, one source, one executor (or proposals)."""

    def __init__(self, strategy: Strategy, cfg: LiveSection, ledger: Ledger, source: Source,
                 executor: Executor | None, assets: tuple[str, ...], *, mode: str = "paper",
                 dry_run: bool = False, speed: float | None = None, periods_per_year: float | None = None,
                 source_label: str = "replay", holdings: dict[str, float] | None = None,
                 max_order_age: float | None = None, order_timeout: float = 60.0, poll: float = 1.0,
                 retries: int = 3) -> None:
        self.strategy = strategy
        self.cfg = cfg
        self.ledger = ledger
        self.source = source
        self.executor = executor  # None: proposals are only exported (``[live.propose] then = "none"``)
        self.mode = mode  # paper | ccxt | propose
        self.dry_run = dry_run
        self.speed = speed
        self.assets = assets
        self.n = len(assets)
        self.quote = assets.index(strategy.cash) if strategy.cash else -1
        self.convention = CONV[strategy.convention]
        self.interval = cfg.interval_seconds
        ppy = periods_per_year or 365.25 * 86400.0 / self.interval
        self.history = History(assets, ppy)
        self.source_label = source_label
        self.start_holdings = holdings
        self.max_order_age = max_order_age
        self.order_timeout = order_timeout
        self.poll = poll
        self.retries = retries
        self.pending_jump: dict[str, float] = {}
        self.last_rebalance = 0
        check_holdings(holdings, assets)
        self.view = CycleView()
        self.lease = Lease(ledger, strategy.name, cfg.lease_expiry_seconds)
        self.started = False
        self.registered = False
        # Limit prices only where a venue honours them (the paper venue fills at the observed price).
        self.limits = executor is None or executor.name != "paper"
        self.account_pending = False  # the restart's account comparison waits for a full reconcile
        self.replan: str | None = None  # an approved proposal expired: propose afresh this cycle
        self.treasury = LiveTreasury(strategy, assets)  # yields and scheduled flows, booked each close

    # ------------------------------------------------------------------ start
    def start(self) -> None:
        """Load history from the ledger, record the service, then reconcile before anything new."""
        import ballast.engine.kernel  # noqa: F401  (load the compiled accounting before the first cycle)

        owner = self.ledger.state()["strategy"]
        if owner is not None and owner != self.strategy.name:
            raise InputError(f"ledger {self.ledger.safe_url}: it belongs to strategy {owner!r}, not "
                             f"{self.strategy.name!r}; give this strategy its own --db")
        for period, at, prices in self.ledger.history():
            if period != len(self.history):
                raise InputError(f"ledger {self.ledger.safe_url}: observed periods are not contiguous at {period}")
            row = np.array([prices.get(a, math.nan) if prices.get(a) is not None else math.nan
                            for a in self.assets])
            if not np.all(np.isfinite(row)):
                missing = [a for a, v in zip(self.assets, row) if not np.isfinite(v)]
                raise InputError(f"ledger {self.ledger.safe_url}: period {period} has no price for "
                                 f"{', '.join(missing)}; this ledger belongs to another strategy")
            self.history.append(at, row)
        self.lease.acquire()  # one runner per ledger, before anything is reconciled or sent
        try:
            if self.ledger.starting_holdings():
                self._register()
            # Compare with the account only once nothing is unresolved: an order the venue filled but
            # the ledger has not yet recorded is not a difference (checked after a later reconcile).
            self.account_pending = not self.reconcile()
            self.last_rebalance = self.ledger.last_rebalance_period()  # after reconciling: fills may be new
            if not self.account_pending:
                self.check_account()
        except BaseException:
            self.lease.release()
            raise
        self.started = True
        log.info("started: %d periods of history, executor %s, source %s%s", len(self.history),
                 self.mode, self.source_label, " (dry run)" if self.dry_run else "",
                 extra={"event": "start", "periods": len(self.history)})

    def check_account(self) -> None:
        """On restart against a real account: say so if the exchange holds other amounts than the
        ledger (a deposit, a withdrawal, a trade made by hand). The ledger is not changed."""
        if self.executor is None or not self.registered:
            return
        venue = self.executor.balances(list(self.assets))
        if venue is None:
            return
        held = self.ledger.holdings()
        off = [f"{a}: ledger {held.get(a, 0.0):.8g}, exchange {v:.8g}" for a, v in venue.items()
               if abs(held.get(a, 0.0) - v) > 1e-8 * max(abs(v), 1.0)]
        if off:
            msg = "holdings differ from the exchange account (" + "; ".join(off) + ")"
            log.warning(msg, extra={"event": "holdings_mismatch"})
            self.ledger.add_alert("holdings_mismatch", msg, "warning")

    def _register(self) -> None:
        holdings = self.start_holdings
        if holdings is None and self.executor is not None:  # an exchange account has its own
            holdings = self.executor.balances(list(self.assets))
        if holdings is None:  # the backtest's start: the capital as unallocated cash
            holdings = {CASH: float(self.strategy.capital)}
        name = self.strategy.name
        self.registered = True
        if self.ledger.start_service(holdings, name, self.mode, self.source_label, self.dry_run):
            log.info("starting holdings recorded: %s", holdings, extra={"event": "holdings", "holdings": holdings})

    # ------------------------------------------------------------------ reconcile / execute
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
            if reconcile or o["status"] != "planned":
                try:
                    answer = ex.lookup(o)
                except TransientError as exc:
                    log.warning("order %s: venue unreachable while reconciling: %s", o["client_order_id"], exc)
                    continue
                if answer is None and o["status"] != "planned":
                    self.ledger.set_order(o["id"], "failed", error="the venue does not know this order")
                    continue
            if answer is None and self.ledger.is_paused():
                continue  # pause stops all sending: the order waits, planned, for resume
            if answer is None:
                age = (utcnow() - datetime.fromisoformat(o["created_at"].rstrip("Z"))).total_seconds()
                if reconcile and self.max_order_age is not None and age > self.max_order_age:
                    self.ledger.set_order(o["id"], "cancelled",
                                          error=f"not sent: planned {age:.0f}s ago, older than max_order_age")
                    continue
                answer = self._submit(o, price)
                if answer is None:
                    continue  # fate unknown: stays open, reconciled next cycle
            self._apply(o, answer)
        self._poll(did)
        return self.ledger.settle_decision(did)

    def _submit(self, o: dict[str, Any], price: float | None) -> VenueOrder | None:
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
                log.warning("order %s: send failed (%s), attempt %d", o["client_order_id"], exc, attempt + 1,
                            extra={"event": "send_error", "order": o["client_order_id"]})
                wait_backoff(attempt)
        self.ledger.add_alert("venue_unreachable", f"order {o['client_order_id']}: no definite answer from the "
                              f"venue after {self.retries + 1} attempts; will reconcile", "error", o["asset"])
        return None

    def _apply(self, o: dict[str, Any], answer: VenueOrder, cancelling: bool = False) -> None:
        """Record the venue's answer. An order whose cancel was asked for (now or before) and
        that the venue still reports open stays ``cancel_requested``: looked up until final."""
        for f in answer.fills:
            new = self.ledger.record_fill(o["id"], f.key, f.quantity, f.price, f.quote_quantity, f.fee,
                                          gross=f.gross, fee_leg=f.fee_leg)
            if new and f.fee_leg is not None and not f.fee_leg[2]:
                ccy, units, _ = f.fee_leg
                self.ledger.add_alert("fee_unvalued", f"order {o['client_order_id']}: fee of {units:.8g} {ccy} "
                                      f"booked in {ccy}; the venue has no {ccy} price to value it", "warning", ccy)
        status = STATUS_OF[answer.status]
        if status == "submitted" and (cancelling or o["status"] == "cancel_requested"):
            status = "cancel_requested"
        self.ledger.set_order(o["id"], status, exchange_order_id=answer.exchange_id, error=answer.error)
        if status == "rejected":
            log.error("order %s rejected: %s", o["client_order_id"], answer.error,
                      extra={"event": "rejected", "order": o["client_order_id"]})
            self.ledger.add_alert("order_rejected", f"order {o['client_order_id']} ({o['side']} "
                                  f"{o['quantity']:g} {o['asset']}) rejected: {answer.error}", "error", o["asset"])

    def _poll(self, did: int) -> None:
        """Poll open orders until filled or ``order_timeout``; then cancel what is left."""
        assert self.executor is not None
        deadline = time.monotonic() + self.order_timeout
        while True:
            open_ = [o for o in self.ledger.order_rows(did) if o["status"] == "submitted"]
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
                    log.info("order %s: cancel requested after %.0fs (%s)", o["client_order_id"],
                             self.order_timeout, final.status if final else "unknown",
                             extra={"event": "cancel_stale", "order": o["client_order_id"]})
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
            prices = dict(zip(self.assets, map(float, last)))
        assert now is not None
        seen = max((p["id"] for p in self.ledger.proposals("expired", limit=1)), default=0)
        for pid in self.ledger.claim_approved(self.fit_check(prices, now)):
            did = self.ledger.proposal_decision(pid)
            state = self.execute_decision(did, prices)
            self.last_rebalance = self.ledger.last_rebalance_period()
            log.info("proposal %d executed: decision %d %s", pid, did, state,
                     extra={"event": "proposal_executed", "proposal": pid, "decision": did, "state": state})
        for p in self.ledger.expired_since(seen):
            log.warning("proposal %d expired: %s", p["id"], p["note"], extra={"event": "proposal_expired",
                                                                              "proposal": p["id"]})
            self.replan = f"re-plan: proposal {p['id']} expired"

    def fit_check(self, prices: dict[str, float], now: datetime) -> FitCheck:
        """The test an approved proposal passes, inside the transaction that claims it: not older
        than ``valid_for``, no price moved more than ``max_price_move``, and its orders fit the
        holdings at these prices (no sale of more than held, no balance below zero — buys whose
        price rose within the tolerance are scaled down to the paying balance)."""
        cfg = self.cfg.propose
        cost = self.cost_fn()

        def check(held: dict[str, float], orders: list[dict[str, Any]], proposal: dict[str, Any]) -> Fit:
            planned_at = datetime.fromisoformat(proposal["payload"]["observed_at"].rstrip("Z"))
            old = staleness(orders, planned_at, prices, now, cfg.valid_seconds, cfg.max_price_move)
            return Fit(old, {}) if old else fit_plan(held, orders, prices, cost, cfg.max_price_move)

        return check

    # ------------------------------------------------------------------ one cycle
    def guard_alerts(self, obs: Observation) -> list[tuple[str, str, str, str | None]]:
        g = self.cfg.guards
        out: list[tuple[str, str, str, str | None]] = []
        last = self.history.last()
        for i, a in enumerate(self.assets):
            p = obs.prices.get(a, math.nan)
            if p is None or not math.isfinite(p) or p <= 0:
                out.append(("error", "bad_price", f"{a}: price {p!r} at {obs.time:%Y-%m-%d %H:%M} is missing, "
                            "not a number or not positive", a))
                continue
            stamp = obs.stamps.get(a, obs.time)
            age = (obs.time - stamp).total_seconds()
            if age > g.stale_after * self.interval:
                out.append(("warning", "stale_price", f"{a}: price is {age / self.interval:.1f} intervals old "
                            f"(limit {g.stale_after:g})", a))
            elif -age > g.clock_skew:
                out.append(("warning", "future_price", f"{a}: price time {stamp:%Y-%m-%d %H:%M:%S} is {-age:.0f}s "
                            f"ahead of the clock (limit clock_skew {g.clock_skew:g}s)", a))
            if g.max_jump > 0 and last is not None:
                move = p / last[i] - 1.0
                if abs(move) > g.max_jump:
                    pend = self.pending_jump.get(a)
                    if pend is not None and abs(p / pend - 1.0) <= g.max_jump:
                        continue  # confirmed by a second observation
                    self.pending_jump[a] = p
                    out.append(("warning", "price_jump", f"{a}: moved {move:+.1%} since the last observation "
                                f"(limit ±{g.max_jump:.0%}); waiting for confirmation", a))
        if not any(k == "price_jump" for _, k, _, _ in out):
            self.pending_jump.clear()
        return out

    def cycle(self, obs: Observation) -> str:
        """Process one observation; returns the cycle status."""
        if not self.registered:
            self._register()
        prices = {a: obs.prices.get(a, math.nan) for a in self.assets}
        alerts = self.guard_alerts(obs)
        if alerts:
            for level, kind, msg, _ in alerts:
                log.warning("no trading this cycle (%s): %s", kind, msg,
                            extra={"event": "guard", "kind": kind, "observed_at": obs.time})
            self.ledger.record_cycle(obs.time, None, "guarded", "; ".join(m for _, _, m, _ in alerts),
                                     prices, None, None, alerts=alerts)
            self._show(obs, None, "guarded", alerts[0][2], None, [])
            return "guarded"
        paused, held, unfinished = self.ledger.cycle_inputs()
        if unfinished:
            self.reconcile()
            paused, held, unfinished = self.ledger.cycle_inputs()
        if unfinished and paused:
            note = "paused: unsent orders of an earlier decision wait for resume"
            self.ledger.record_cycle(obs.time, None, "paused", note, prices, None, None)
            self._show(obs, None, "paused", note, None, [])
            return "paused"
        if self.account_pending and not unfinished:
            try:
                self.check_account()
                self.account_pending = False
            except TransientError as exc:  # the account cannot be read now: compare next cycle
                log.warning("holdings not compared with the account: %s", exc)
        if unfinished:
            msg = "an earlier decision is still unresolved at the venue; nothing new is decided"
            log.warning(msg, extra={"event": "guard", "kind": "unreconciled"})
            self.ledger.record_cycle(obs.time, None, "guarded", msg, prices, None, None,
                                     alerts=[("error", "unreconciled", msg, None)])
            self._show(obs, None, "guarded", msg, None, [])
            return "guarded"

        self.run_approved(prices, obs.time)  # approved proposals trade at these (guarded) prices
        if self.mode == "propose":
            paused, held, _ = self.ledger.cycle_inputs()
        p = np.array([prices[a] for a in self.assets], dtype=np.float64)
        t = len(self.history)
        self.history.append(obs.time, p)
        try:
            return self._decide(obs, t, p, prices, paused, held)
        except BaseException:
            # Nothing of this period reached the ledger: forget it so a retry sees the same t.
            self.history.pop()
            raise

    def _decide(self, obs: Observation, t: int, p: np.ndarray, prices: dict[str, float], paused: bool,
                held: dict[str, float]) -> str:
        from ballast.engine.kernel import value_and_weights

        market = self.history.market()
        units = np.array([held.get(a, 0.0) for a in self.assets], dtype=np.float64)
        cash = held.get(CASH, 0.0)
        booked = None
        if self.treasury:  # accrue and pay the close's flows before valuing and deciding, as the backtest
            recent, k = self.history.recent()
            costs = compile_costs(self.strategy.costs, recent)
            units, cash, booked = self.treasury.close(recent, k, units, cash, costs)
        record = partial(self.ledger.record_cycle, treasury=booked)  # booked with the cycle, or not at all
        w_pre = np.empty(self.n)
        V = value_and_weights(units, cash, p.reshape(1, -1), 0, w_pre)
        target = np.asarray(self.strategy.target.at(market, t), dtype=np.float64)
        if target.shape != (self.n,) or not np.all(np.isfinite(target)) or abs(target.sum() - 1) > 1e-6:
            raise InputError(f"target {self.strategy.target.describe()} gave invalid weights {target} at {obs.time}")
        lines = [{"asset": a, "units": float(units[i]), "price": float(p[i]), "value": float(units[i] * p[i]),
                  "weight": float(w_pre[i]), "target": float(target[i])} for i, a in enumerate(self.assets)]
        if paused:
            record(obs.time, t, "paused", "paused: no decisions", prices, V, lines)
            self._show(obs, t, "paused", "paused", V, lines)
            return "paused"
        recent, k = self.history.recent()
        spec = self.plan_spec(recent)
        state = TriggerState(market, t, w_pre, floor_target(spec, k, V, target, np.empty(self.n)),
                             self.last_rebalance)
        reason = "initial: form the portfolio" if t == 0 else self.strategy.trigger.fires(state) or self.replan
        if reason is None or not V > 0:
            record(obs.time, t, "hold", None, prices, V, lines)
            self._show(obs, t, "hold", None, V, lines)
            return "hold"
        if self.mode == "propose":
            waiting = self.ledger.open_proposals()
            if waiting:
                w = waiting[0]
                note = f"trigger fired ({reason}); proposal {w['id']} is still {w['state']}" + (
                    " (record its execution with `ballast proposals settle`)" if w["state"] == "exported" else "")
                record(obs.time, t, "hold", note, prices, V, lines)
                self._show(obs, t, "hold", note, V, lines)
                return "hold"

        plan = self.plan_orders(state, recent, k, spec, units, cash, p, V, reason)
        if plan is None or isinstance(plan, str):
            note = plan or f"trigger fired ({reason}) but every trade is below the minimum"
            record(obs.time, t, "hold", note, prices, V, lines)
            self._show(obs, t, "hold", note, V, lines)
            return "hold"
        capped = self.notional_cap(plan.notional, obs.time)
        if capped:
            log.warning("no trading this cycle (notional cap): %s", capped, extra={"event": "guard", "kind": "notional_cap"})
            record(obs.time, t, "guarded", capped, prices, V, lines,
                                     alerts=[("warning", "notional_cap", capped, None)])
            self._show(obs, t, "guarded", capped, V, lines)
            return "guarded"
        propose = self.mode == "propose" and not self.dry_run
        rec = record(obs.time, t, "decided", None, prices, V, lines, plan, propose=propose)
        assert rec.decision_id is not None
        self.replan = None
        log.info("decision %d at %s: %s; %d order(s), notional %.2f, expected cost %.2f%s", rec.decision_id,
                 obs.time, reason, len(plan.orders), plan.notional, plan.expected_cost,
                 f" -> proposal {rec.proposal_id}" if rec.proposal_id else "",
                 extra={"event": "decision", "decision": rec.decision_id, "period": t, "reason": reason,
                        "orders": len(plan.orders), "notional": plan.notional, "proposal": rec.proposal_id})
        if self.dry_run:
            for oid in rec.order_ids:
                self.ledger.set_order(oid, "cancelled", error="dry run: not sent")
            self.ledger.settle_decision(rec.decision_id)
            state_ = "dry run"
        elif propose:
            state_ = f"proposal {rec.proposal_id} pending"
        else:
            assert self.executor is not None
            state_ = self.execute_decision(rec.decision_id, prices)
            if t > 0 and any(o["filled_quantity"] > 0 for o in self.ledger.order_rows(rec.decision_id)):
                self.last_rebalance = t
        self.view.decisions += 1
        self.view.last_decision = f"#{rec.decision_id} {obs.time:%Y-%m-%d %H:%M} {reason} → {state_}"
        self._show(obs, t, "decided", reason, V, lines)
        return "decided"

    def plan_spec(self, market: Market) -> PlanSpec:
        """The planner's encoding with the target's constraints on the prices seen so far (for a
        user-defined planner, a carrier of the constraints only), as the backtest builds it."""
        from ballast.planning.full import Full
        from ballast.targets.constraints import with_constraints

        spec = self.strategy.planner.encode(self.assets)
        return with_constraints(spec if spec is not None else Full().encode(self.assets),
                                self.strategy.target, market)

    def plan_orders(self, state: TriggerState, recent: Market, k: int, spec: PlanSpec, units: np.ndarray,
                    cash: float, p: np.ndarray, V: float, reason: str) -> PlannedDecision | str | None:
        """Run the backtest's own plan-and-execute on a copy of the holdings: the trades and costs
        the backtest would make here become orders (``recent``/``k``: see `History.recent`).
        A string is the note of a rebalance the cost gate skipped; None means nothing to trade."""
        from ballast.engine.python_path import plan_and_execute

        costs = compile_costs(self.strategy.costs, recent)
        dv = np.zeros(self.n)
        cost = np.zeros(self.n)
        w_pre, target = state.weights, state.target
        builtin = self.strategy.planner.encode(self.assets) is not None
        *_, outcome = plan_and_execute(self.strategy.planner, spec, builtin, state, units.copy(), cash, p,
                                       costs, k, self.quote, self.convention, dv, cost)
        if outcome.note() is not None:
            return f"trigger fired ({reason}) but {outcome.note()}"
        w_new = outcome.weights
        settle = self.settlement(cash, V)
        q_price = 1.0 if settle == CASH else float(p[self.quote])
        orders = []
        for i, a in enumerate(self.assets):
            if dv[i] == 0.0 or a == settle:
                continue
            side = "buy" if dv[i] > 0 else "sell"
            slip = self.cfg.ccxt.slippage
            limit = p[i] * (1 + slip if side == "buy" else 1 - slip) if self.limits else None
            orders.append(PlannedOrder(a, settle, side, abs(dv[i] / p[i]), float(p[i]), q_price,
                                       limit, abs(float(dv[i])), float(cost[i])))
        if not orders:
            return None
        planned, (orders, small) = orders, self.venue_sized(orders)
        dropped = sum(o.expected_cost for o in planned if o not in orders)
        if not orders:
            return f"trigger fired ({reason}) but every trade is below the venue's minimum: {small}"
        notes = [n for n in ("dry run: not sent" if self.dry_run else None,
                             f"skipped below the venue's minimum: {small}" if small else None) if n]
        weights = {"before": dict(zip(self.assets, map(float, w_pre))),
                   "target": dict(zip(self.assets, map(float, target))),
                   "planned": dict(zip(self.assets, map(float, w_new)))}
        return PlannedDecision(reason, "dry-run" if self.dry_run else self.mode, float(V),
                               float(sum(o.notional for o in orders)), float(cost.sum()) - dropped, weights, orders,
                               "; ".join(notes) or None)

    def venue_sized(self, orders: list[PlannedOrder]) -> tuple[list[PlannedOrder], str | None]:
        """Drop orders below the venue's minimum amount or value (they would be rejected every
        cycle); one open ``below_minimum`` alert per asset says why, not one per cycle."""
        if self.executor is None:
            return orders, None
        keep, small = [], []
        for o in orders:
            units, value = self.executor.minimum(o.asset)
            worth = o.notional / o.quote_price
            if (units is not None and o.quantity < units) or (value is not None and worth < value):
                why = (f"{o.side} {o.quantity:.8g} {o.asset} (worth {worth:,.2f}) is below the venue's minimum "
                       f"order ({units if units is not None else '-'} units, {value if value is not None else '-'} "
                       f"{o.quote_asset})")
                small.append(why)
                if self.ledger.add_alert_once("below_minimum", f"{why}; not sent until it grows", "warning", o.asset):
                    log.warning("not sent: %s", why, extra={"event": "below_minimum", "asset": o.asset})
            else:
                keep.append(o)
        return keep, "; ".join(small) or None

    def settlement(self, cash: float, value: float) -> str:
        """The asset trades settle in. Under exact accounting with a quote asset, the backtest's
        cash is zero after formation and the quote asset absorbs every trade; before that (and
        under bt accounting) trades move the unallocated cash, including buys of the quote asset."""
        if self.quote >= 0 and self.convention == 0 and abs(cash) <= 1e-9 * max(abs(value), 1.0):
            return self.assets[self.quote]
        return CASH

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

    def notional_cap(self, notional: float, when: datetime) -> str | None:
        g = self.cfg.guards
        if g.max_notional_cycle and notional > g.max_notional_cycle:
            return f"planned trades of {notional:,.2f} exceed max_notional_cycle {g.max_notional_cycle:,.2f}"
        if g.max_notional_day:
            day = self.ledger.notional_since(when - timedelta(days=1))
            if day + notional > g.max_notional_day:
                return (f"planned trades of {notional:,.2f} would bring the last 24 h to {day + notional:,.2f}, "
                        f"above max_notional_day {g.max_notional_day:,.2f}")
        return None

    # ------------------------------------------------------------------ loop
    def run(self, until_end: bool = True, max_cycles: int | None = None,
            on_cycle: Callable[["LiveService"], None] | None = None, stop: Callable[[], bool] | None = None) -> int:
        """Loop until the replay ends (``until_end``), ``max_cycles`` or ``stop()``; returns cycles run."""
        if not self.started:
            self.start()
        elif not self.lease.held:
            self.lease.acquire()
        try:
            return self._loop(until_end, max_cycles, on_cycle, stop)
        finally:
            self.lease.release()  # a clean exit frees the ledger at once (a kill lets it expire)

    def _loop(self, until_end: bool, max_cycles: int | None, on_cycle: Callable[["LiveService"], None] | None,
              stop: Callable[[], bool] | None) -> int:
        done = 0
        after = self.ledger.last_observed() if self.source.replay else None
        while max_cycles is None or done < max_cycles:
            if stop is not None and stop():
                break
            t0 = time.monotonic()
            self.lease.beat()
            try:
                obs = self.source.next(after)
            except SourceUnavailable as exc:
                log.warning("no prices this cycle: %s", exc, extra={"event": "source_unavailable"})
                self.ledger.add_alert("source_unavailable", str(exc), "warning")
                self._sleep(self.interval, stop)
                continue
            after = None
            if obs is None:
                if until_end:
                    log.info("replay finished after %d cycles", done, extra={"event": "end", "cycles": done})
                    break
                self.run_approved(None, None)
                self.view.status, self.view.note = "waiting", "the replay has ended (Ctrl-C to stop)"
                if on_cycle:
                    on_cycle(self)
                self._sleep(0.5, stop)
                continue
            self.cycle(obs)
            done += 1
            self.view.cycles += 1
            if on_cycle:
                on_cycle(self)
            pause = (1.0 / self.speed if self.speed else 0.0) if self.source.replay else self.interval
            rest = pause - (time.monotonic() - t0)
            if rest > 0:
                self._sleep(rest, stop)
        return done

    def _sleep(self, seconds: float, stop: Callable[[], bool] | None) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if stop is not None and stop():
                return
            time.sleep(min(left, 0.5))
            self.lease.beat()

    def _show(self, obs: Observation, t: int | None, status: str, note: str | None, value: float | None,
              lines: list[dict[str, Any]]) -> None:
        v = self.view
        v.observed_at, v.period, v.status, v.note = obs.time, t, status, note
        if value is not None:
            v.value = value
        if lines:
            v.lines = lines
        if status == "guarded":
            v.guarded += 1


@dataclass(frozen=True)
class RunSettings:
    """Command-line choices layered over the file's ``[live]`` section."""

    db: str | None = None
    source: str | None = None
    executor: str | None = None
    speed: str | float | None = None
    dry_run: bool = False
    replay_file: str | None = None


def strategy_assets(cfg: Any, strategy: Strategy) -> tuple[str, ...]:
    """The traded universe: the target's assets, else ``[data] assets``; plus the cash asset."""
    named = strategy.target.assets() or (tuple(cfg.data.assets) if cfg.data.assets else None)
    if not named:
        raise InputError(f"{cfg.source}: the live service needs the assets by name: give target weights "
                         "or [data] assets = [...]")
    assets = list(dict.fromkeys(named))
    if strategy.cash and strategy.cash not in assets:
        assets.append(strategy.cash)
    return tuple(assets)


def open_service(path: str, settings: RunSettings = RunSettings(), ledger: Ledger | None = None,
                 exchange: Any = None) -> LiveService:
    """Everything ``ballast run`` needs, validated up front; errors name the file and field.

    ``exchange`` injects a ready ccxt exchange object (tests point one at a local server).
    """
    from pathlib import Path

    from ballast.config import load_strategy_file
    from ballast.live.config import load_live_section, parse_speed
    from ballast.live.executors import CcxtExecutor, PaperExecutor
    from ballast.live.sources import CcxtSource, JsonSource, ReplaySource, ccxt_exchange, read_replay_table

    cfg = load_strategy_file(path)
    live = load_live_section(cfg.live, path)
    strategy = cfg.to_strategy()
    check_live_routing(strategy, path)
    if cfg.data.relatives:
        raise InputError(f"{path}: [data] relatives: the live service needs prices, not price relatives")
    assets = strategy_assets(cfg, strategy)
    source_kind = settings.source or live.source
    mode = settings.executor or live.executor
    if source_kind not in ("replay", "ccxt", "json"):
        raise InputError(f"--source must be replay, ccxt or json, got {source_kind!r}")
    if mode not in ("paper", "ccxt", "propose"):
        raise InputError(f"--executor must be paper, ccxt or propose, got {mode!r}")
    try:
        speed = parse_speed(settings.speed if settings.speed is not None else live.replay.speed)
    except ValueError as exc:
        raise InputError(f"--speed: {exc}") from None
    base = Path(path).resolve().parent

    def near(p: str) -> str:
        from ballast.data.bundled import DATASETS

        return p if p in DATASETS or Path(p).is_absolute() else str(base / p)

    uses_ccxt = source_kind == "ccxt" or mode == "ccxt" or (mode == "propose" and live.propose.then == "ccxt")
    quote = live.ccxt.quote or strategy.cash
    if uses_ccxt:
        if not quote:
            raise InputError(f"{path}: [live.ccxt] quote: name the quote asset (or set [portfolio] cash)")
        if (mode == "ccxt" or live.propose.then == "ccxt") and (strategy.cash != quote or strategy.convention != "exact"):
            raise InputError(f"{path}: [portfolio] the ccxt executor needs cash = {quote!r} (the quote asset "
                             "every order settles in) and convention = \"exact\"")
        if exchange is None:
            exchange = ccxt_exchange(live.ccxt)
    if source_kind == "replay":
        file = settings.replay_file or (near(live.replay.file) if live.replay.file else cfg.prices_path())
        frame = read_replay_table(file, list(assets), cfg.data.start, cfg.data.end, strategy.cash, cfg.data.fill)
        source: Source = ReplaySource(frame, f"replay {Path(file).name}")
    elif source_kind == "json":
        if live.json_ is None:
            raise InputError(f"{path}: [live.json] file: the json source needs a file of prices")
        source = JsonSource(near(live.json_.file), list(assets))
        source.check()  # a missing or malformed file is a configuration error at start-up
    else:
        source = CcxtSource(exchange, list(assets), quote, live.ccxt.symbols)

    check_holdings(live.holdings, assets)  # before a database file is created
    led = ledger or Ledger(settings.db or live.db)

    def executor_for(kind: str) -> Executor | None:
        if kind == "paper":
            return PaperExecutor(led)
        if kind == "ccxt":
            return CcxtExecutor(exchange, quote, live.ccxt.symbols, live.ccxt.order_type, live.ccxt.slippage)
        return None

    executor = executor_for(live.propose.then if mode == "propose" else mode)
    ccxt_exec = isinstance(executor, CcxtExecutor)
    svc = LiveService(strategy, live, led, source, executor, assets, mode=mode,
                      dry_run=settings.dry_run or live.dry_run, speed=speed,
                      periods_per_year=cfg.data.periods_per_year, source_label=source.describe(),
                      holdings=dict(live.holdings) or None,
                      max_order_age=live.ccxt.max_order_age if ccxt_exec else None,
                      order_timeout=live.ccxt.order_timeout if ccxt_exec else 0.0,
                      poll=live.ccxt.poll, retries=live.ccxt.retries)
    if isinstance(executor, PaperExecutor):
        executor.cost = svc.cost_fn()
    return svc
