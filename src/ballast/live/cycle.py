"""The live cycle: observe prices, value the ledger's holdings, decide with the strategy's own
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

`LiveService` is one object assembled from mixins — the order protocol (`venue.VenueProtocol`),
planning (`plans.OrderPlanning`) and the run loop (`loop.RunLoop`) — so each step stays a method
of the running service, where fault-injection tests replace it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from ballast.costs.base import compile_costs
from ballast.enums import CONVENTION_CODES
from ballast.errors import InputError
from ballast.live.executors import Executor, TransientError
from ballast.live.guards import PriceGuard, check_holdings, notional_cap
from ballast.live.hedge import LiveHedge, is_perp
from ballast.live.hedge_ledger import perp_state
from ballast.live.history import History
from ballast.live.lease import Lease
from ballast.live.liquidity import advance, check_live, for_cycle
from ballast.live.loans import LiveLoan, LoanDesk, unchanged_weights
from ballast.live.loop import CycleView, RunLoop
from ballast.live.lp_ledger import last_state
from ballast.live.models import utcnow
from ballast.live.plans import OrderPlanning
from ballast.live.records import (
    CASH,
    CycleStatus,
    GuardAlert,
    OrderStatus,
    PlannedDecision,
    ProposalState,
    add_orders,
)
from ballast.live.repository import Ledger
from ballast.live.sources import Observation, Source
from ballast.live.treasury import LiveTreasury
from ballast.live.venue import VenueProtocol
from ballast.planning.constraints_kernel import floor_target
from ballast.strategy import Strategy
from ballast.triggers.base import TriggerState

if TYPE_CHECKING:
    from ballast.config.live import LiveSection

log = logging.getLogger("ballast.live")


class LiveService(VenueProtocol, OrderPlanning, RunLoop):
    """One strategy, one ledger, one source, one executor (or proposals)."""

    def __init__(
        self,
        strategy: Strategy,
        cfg: LiveSection,
        ledger: Ledger,
        source: Source,
        executor: Executor | None,
        assets: tuple[str, ...],
        *,
        mode: str = "paper",
        dry_run: bool = False,
        speed: float | None = None,
        periods_per_year: float | None = None,
        source_label: str = "replay",
        holdings: dict[str, float] | None = None,
        max_order_age: float | None = None,
        order_timeout: float = 60.0,
        poll: float = 1.0,
        retries: int = 3,
        loans: Sequence[LiveLoan] = (),
    ) -> None:
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
        self.convention = CONVENTION_CODES[strategy.convention]
        self.interval = cfg.interval_seconds
        ppy = periods_per_year or 365.25 * 86400.0 / self.interval
        self.history = History(assets, ppy)
        self.source_label = source_label
        self.start_holdings = holdings
        self.max_order_age = max_order_age
        self.order_timeout = order_timeout
        self.poll = poll
        self.retries = retries
        from ballast.live.depeg_alerts import depeg_rule, pegged_assets

        self.price_guard = PriceGuard(cfg.guards, self.interval, assets, pegged_assets(strategy))
        self.depeg = depeg_rule(strategy)
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
        # loans at the paper lending market: accrued, liquidated and kept in their band each close
        self.loans = LoanDesk(loans, assets, strategy.cash, mode, cfg.ccxt.slippage if self.limits else None)
        self.liquidity = strategy.liquidity  # a concentrated-liquidity position in the paper pool
        if self.liquidity is not None:
            check_live(self.liquidity, mode, assets)
        # a delta hedge's perp: settled and re-hedged each close
        slip = cfg.ccxt.slippage if self.limits else None
        hedge = strategy.hedge
        pair = None if self.liquidity is None else self.liquidity.pair
        self.hedge = None if hedge is None else LiveHedge(hedge, strategy.costs, assets, strategy.cash, pair, slip)

    def executor_name(self) -> str:
        """Who carries out this service's decisions, as a decision records it."""
        return "dry-run" if self.dry_run else self.mode

    # ------------------------------------------------------------------ start
    def start(self) -> None:
        """Load history from the ledger, record the service, then reconcile before anything new."""
        import ballast.engine.kernel  # noqa: F401  (load the compiled accounting before the first cycle)

        owner = self.ledger.state()["strategy"]
        if owner is not None and owner != self.strategy.name:
            raise InputError(
                f"ledger {self.ledger.safe_url}: it belongs to strategy {owner!r}, not "
                f"{self.strategy.name!r}; give this strategy its own --db"
            )
        for period, at, prices in self.ledger.history():
            if period != len(self.history):
                raise InputError(f"ledger {self.ledger.safe_url}: observed periods are not contiguous at {period}")
            row = np.array([prices.get(a, math.nan) if prices.get(a) is not None else math.nan for a in self.assets])
            if not np.all(np.isfinite(row)):
                missing = [a for a, v in zip(self.assets, row, strict=True) if not np.isfinite(v)]
                raise InputError(
                    f"ledger {self.ledger.safe_url}: period {period} has no price for "
                    f"{', '.join(missing)}; this ledger belongs to another strategy"
                )
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
        log.info(
            "started: %d periods of history, executor %s, source %s%s",
            len(self.history),
            self.mode,
            self.source_label,
            " (dry run)" if self.dry_run else "",
            extra={"event": "start", "periods": len(self.history)},
        )

    def _register(self) -> None:
        holdings = self.start_holdings
        if holdings is None:  # an exchange account (or a Safe) has its own
            holdings = self.account_balances()
        if holdings is None:  # the backtest's start: the capital as unallocated cash
            holdings = {CASH: float(self.strategy.capital)}
        name = self.strategy.name
        self.registered = True
        if self.ledger.start_service(holdings, name, self.mode, self.source_label, self.dry_run):
            log.info("starting holdings recorded: %s", holdings, extra={"event": "holdings", "holdings": holdings})
        if self.loans:
            self.loans.register(self.ledger, utcnow())

    def cycle(self, obs: Observation) -> str:
        """Process one observation; returns the cycle status."""
        if not self.registered:
            self._register()
        prices = {a: obs.prices.get(a, math.nan) for a in self.assets}
        alerts = self.price_guard.alerts(obs, self.history.last())
        if alerts:
            for _, kind, msg, _ in alerts:
                log.warning(
                    "no trading this cycle (%s): %s",
                    kind,
                    msg,
                    extra={"event": "guard", "kind": kind, "observed_at": obs.time},
                )
            self.ledger.record_cycle(
                obs.time,
                None,
                CycleStatus.GUARDED,
                "; ".join(a.message for a in alerts),
                prices,
                None,
                None,
                alerts=alerts,
            )
            self._show(obs, None, CycleStatus.GUARDED, alerts[0].message, None, [])
            return CycleStatus.GUARDED
        paused, held, unfinished = self.ledger.cycle_inputs()
        if unfinished:
            self.reconcile()
            paused, held, unfinished = self.ledger.cycle_inputs()
        if unfinished and paused:
            note = "paused: unsent orders of an earlier decision wait for resume"
            self.ledger.record_cycle(obs.time, None, CycleStatus.PAUSED, note, prices, None, None)
            self._show(obs, None, CycleStatus.PAUSED, note, None, [])
            return CycleStatus.PAUSED
        if self.account_pending and not unfinished:
            try:
                self.check_account()
                self.account_pending = False
            except TransientError as exc:  # the account cannot be read now: compare next cycle
                log.warning("holdings not compared with the account: %s", exc)
        if unfinished:
            msg = "an earlier decision is still unresolved at the venue; nothing new is decided"
            log.warning(msg, extra={"event": "guard", "kind": "unreconciled"})
            self.ledger.record_cycle(
                obs.time,
                None,
                CycleStatus.GUARDED,
                msg,
                prices,
                None,
                None,
                alerts=[GuardAlert("error", "unreconciled", msg)],
            )
            self._show(obs, None, CycleStatus.GUARDED, msg, None, [])
            return CycleStatus.GUARDED

        self.run_approved(prices, obs.time)  # approved proposals trade at these (guarded) prices
        if self.mode == "propose":
            paused, held, _ = self.ledger.cycle_inputs()
        p = np.array([prices[a] for a in self.assets], dtype=np.float64)
        t = len(self.history)
        self.history.append(obs.time, p)
        try:
            if self.depeg is not None:
                from ballast.live.depeg_alerts import depeg_alerts

                for level, kind, msg, asset in depeg_alerts(self.depeg, self.history.market()):
                    self.ledger.add_alert_once(kind, msg, level, asset)
            return self._decide(obs, t, p, prices, paused, held)
        except BaseException:
            # Nothing of this period reached the ledger: forget it so a retry sees the same t.
            self.history.pop()
            raise

    def _decide(
        self, obs: Observation, t: int, p: np.ndarray, prices: dict[str, float], paused: bool, held: dict[str, float]
    ) -> str:
        from ballast.engine.kernel import value_and_weights

        market = self.history.market()
        loans = None
        if self.loans:  # accrue, liquidate and mark the loans at this close; plan the openings and bands' moves
            recent, k = self.history.recent()
            loans = self.loans.close(self.ledger, held, recent, k, t, prices, self.cost_fn(), moves=not paused)
            held = loans.net_holdings(held)  # as the backtest: the debt is a negative holding
        units = np.array([held.get(a, 0.0) for a in self.assets], dtype=np.float64)
        cash = held.get(CASH, 0.0)
        target = np.asarray(self.strategy.target.at(market, t), dtype=np.float64)
        if target.shape != (self.n,) or not np.all(np.isfinite(target)) or abs(target.sum() - 1) > 1e-6:
            raise InputError(f"target {self.strategy.target.describe()} gave invalid weights {target} at {obs.time}")
        booked = None
        if self.treasury:  # accrue and pay the close's flows (routed to the target) before deciding, as the backtest
            recent, k = self.history.recent()
            costs = compile_costs(self.strategy.costs, recent)
            units, cash, booked = self.treasury.close(recent, k, units, cash, costs, target)
        lp = position = None  # the position as the decision (and a hedge of its delta) sees it
        if self.liquidity is not None and t > 0:  # the pool moved the position; fees; a reset (the backtest's step)
            with self.ledger.session() as s:
                lp_state = last_state(s)
            lp = advance(self.liquidity, lp_state, market, self.strategy.costs, units, cash)
            proposing = lp.pending is not None and self.mode == "propose"
            decides = not paused and not (proposing and self.ledger.open_proposals())
            lp, seen = for_cycle(lp, self.mode, decides)  # a reset goes with the decision, which sees it done
            units = units.copy()
            for a, moved in zip(lp.pair, (seen.units0, seen.units1), strict=True):
                units[self.assets.index(a)] += moved
            position = seen.state
        hc = None
        if self.hedge is not None:  # the perp's mark-to-market, funding and a liquidation (the backtest's settle)
            with self.ledger.session() as s:
                perp, _, carry = perp_state(s, self.hedge.symbol, self.hedge.hedge.leverage)
            hc = self.hedge.settle(market, perp, units, carry)
            units = units.copy()
            units[self.quote] += hc.cash
        record = partial(self.ledger.record_cycle, treasury=booked, loans=loans, liquidity=lp, hedge=hc)
        w_pre = np.empty(self.n)
        V = value_and_weights(units, cash, p.reshape(1, -1), 0, w_pre)
        lines = [
            {
                "asset": a,
                "units": float(units[i]),
                "price": float(p[i]),
                "value": float(units[i] * p[i]),
                "weight": float(w_pre[i]),
                "target": float(target[i]),
            }
            for i, a in enumerate(self.assets)
        ]
        if paused:
            record(obs.time, t, CycleStatus.PAUSED, "paused: no decisions", prices, V, lines)
            self._show(obs, t, CycleStatus.PAUSED, "paused", V, lines)
            return CycleStatus.PAUSED
        recent, k = self.history.recent()
        spec = self.plan_spec(recent)
        state = TriggerState(market, t, w_pre, floor_target(spec, k, V, target, np.empty(self.n)), self.last_rebalance)
        reason = "initial: form the portfolio" if t == 0 else self.strategy.trigger.fires(state) or self.replan
        moving = (loans is not None and bool(loans.moves)) or (lp is not None and lp.pending is not None)
        moving = moving or hc is not None  # a hedge is checked every close
        if (reason is None and not moving) or not V > 0:
            record(obs.time, t, CycleStatus.HOLD, None, prices, V, lines)
            self._show(obs, t, CycleStatus.HOLD, None, V, lines)
            return CycleStatus.HOLD
        if self.mode == "propose":
            waiting = self.ledger.open_proposals()
            if waiting:
                w = waiting[0]
                fired = f"trigger fired ({reason})" if reason else "the hedge is not re-checked"
                note = f"{fired}; proposal {w['id']} is still {w['state']}" + (
                    " (record its execution with `ballast proposals settle`)"
                    if w["state"] == ProposalState.EXPORTED
                    else ""
                )
                record(obs.time, t, CycleStatus.HOLD, note, prices, V, lines)
                self._show(obs, t, CycleStatus.HOLD, note, V, lines)
                return CycleStatus.HOLD

        plan = self.plan_orders(state, recent, k, spec, units, cash, p, V, reason) if reason is not None else None
        if loans is not None:
            executor = self.executor_name()
            plan = self.loans.with_moves(plan, loans, V, unchanged_weights(self.assets, w_pre, target), executor)
        if lp is not None and lp.pending is not None:  # the reset's swap first: it fills before the rebalance
            order = lp.pending.order
            why = f"liquidity: reset {'/'.join(lp.pair)} ({lp.reason})"
            weights = unchanged_weights(self.assets, w_pre, target)
            plan = add_orders(plan, [] if order is None else [order], why, V, weights, self.executor_name(), first=True)
        if hc is not None and self.hedge is not None:  # re-hedge after the planned trades, as the backtest
            hc = self.hedge.adjust(hc, market, self.after_plan(units, plan), position)
            record = partial(record, hedge=hc)
            if hc.order is not None:
                weights = unchanged_weights(self.assets, w_pre, target)
                plan = add_orders(plan, [hc.order], f"hedge: {hc.reason}", V, weights, self.executor_name())
        if plan is None or isinstance(plan, str):
            hold_note = plan or (f"trigger fired ({reason}) but every trade is below the minimum" if reason else None)
            record(obs.time, t, CycleStatus.HOLD, hold_note, prices, V, lines)
            self._show(obs, t, CycleStatus.HOLD, hold_note, V, lines)
            return CycleStatus.HOLD
        capped = notional_cap(self.cfg.guards, self.ledger, plan.notional, obs.time)
        if capped:
            log.warning(
                "no trading this cycle (notional cap): %s", capped, extra={"event": "guard", "kind": "notional_cap"}
            )
            record(
                obs.time,
                t,
                CycleStatus.GUARDED,
                capped,
                prices,
                V,
                lines,
                alerts=[GuardAlert("warning", "notional_cap", capped)],
            )
            self._show(obs, t, CycleStatus.GUARDED, capped, V, lines)
            return CycleStatus.GUARDED
        propose = self.mode == "propose" and not self.dry_run
        rec = record(obs.time, t, CycleStatus.DECIDED, None, prices, V, lines, plan, propose=propose)
        assert rec.decision_id is not None
        self.replan = None
        reason = plan.reason  # the trigger's, and any loan's repay or boost
        log.info(
            "decision %d at %s: %s; %d order(s), notional %.2f, expected cost %.2f%s",
            rec.decision_id,
            obs.time,
            reason,
            len(plan.orders),
            plan.notional,
            plan.expected_cost,
            f" -> proposal {rec.proposal_id}" if rec.proposal_id else "",
            extra={
                "event": "decision",
                "decision": rec.decision_id,
                "period": t,
                "reason": reason,
                "orders": len(plan.orders),
                "notional": plan.notional,
                "proposal": rec.proposal_id,
            },
        )
        if self.dry_run:
            for oid in rec.order_ids:
                self.ledger.set_order(oid, OrderStatus.CANCELLED, error="dry run: not sent")
            self.ledger.settle_decision(rec.decision_id)
            state_ = "dry run"
        elif propose:
            state_ = f"proposal {rec.proposal_id} pending"
        else:
            assert self.executor is not None
            state_ = self.execute_decision(rec.decision_id, prices)
            orders = self.ledger.order_rows(rec.decision_id)
            if t > 0 and any(o["filled_quantity"] > 0 and not is_perp(o["asset"]) for o in orders):
                self.last_rebalance = t
        self.view.decisions += 1
        self.view.last_decision = f"#{rec.decision_id} {obs.time:%Y-%m-%d %H:%M} {reason} → {state_}"
        self._show(obs, t, CycleStatus.DECIDED, reason, V, lines)
        return CycleStatus.DECIDED

    def after_plan(self, units: np.ndarray, plan: PlannedDecision | str | None) -> np.ndarray:
        """The wallet's units once the planned orders fill (what the backtest's hedge sees after its rebalance)."""
        after = units.copy()
        for o in plan.orders if isinstance(plan, PlannedDecision) else ():
            if o.asset in self.assets:
                after[self.assets.index(o.asset)] += o.quantity if o.side == "buy" else -o.quantity
        return after
