"""The life of an approved proposal after approval: does it still fit, and what was done with it.

An approval can come hours after the plan. Before anything is sent, `fit_reason` re-prices the
plan against the current prices and the ledger's holdings (inside the transaction that claims it,
see `Ledger.claim_approved`): a plan too old, moved too far, selling more than is held or driving
any balance below zero expires instead of executing. With ``[live.propose] then = "none"`` the
user executes elsewhere (e.g. a multisig) and records the fills with `settle_proposal`.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import select, update

from ballast.errors import InputError
from ballast.live import lending
from ballast.live.database import changed
from ballast.live.hedge import is_perp, perp_cash
from ballast.live.models import Decision, Fill, Order, Proposal, utcnow
from ballast.live.records import CASH, DecisionState, OrderRow, OrderStatus, Outcome, ProposalState
from ballast.live.repository import Ledger

CostFn = Callable[[str, float], float]  # (asset, traded value) → cost in currency
SLACK = 1e-9  # relative rounding allowed before a balance counts as negative


def balances_after(
    held: dict[str, float], orders: Sequence[OrderRow], prices: dict[str, float], cost: CostFn | None = None
) -> dict[str, float]:
    """Holdings after the planned orders fill at their worst admissible price: a buy at the
    higher of the current and limit price, a sell at the lower; costs at that price (the
    planned cost when the price is the planned one, else ``cost``)."""
    after = dict(held)
    for o in orders:
        if o["status"] != OrderStatus.PLANNED:
            continue
        p = prices[o["asset"]]
        limit = o.get("limit_price")
        worst = p if limit is None else (max(p, limit) if o["side"] == "buy" else min(p, limit))
        sign = 1.0 if o["side"] == "buy" else -1.0
        value = o["quantity"] * worst
        same = cost is None or worst == o["ref_price"]  # as the paper venue charges
        fee = o["expected_cost"] * worst / o["ref_price"] if same or cost is None else cost(o["asset"], value)
        q_price = 1.0 if o["quote_asset"] == CASH else prices.get(o["quote_asset"], o["quote_price"])
        after[o["asset"]] = after.get(o["asset"], 0.0) + sign * o["quantity"]
        after[o["quote_asset"]] = after.get(o["quote_asset"], 0.0) - (sign * value + fee) / q_price
    return after


def fit_reason(
    held: dict[str, float], orders: Sequence[OrderRow], prices: dict[str, float], cost: CostFn | None = None
) -> str | None:
    """Why the planned orders cannot execute on these holdings, or None when they can."""
    for o in orders:
        if (
            o["status"] == OrderStatus.PLANNED
            and o["side"] == "sell"
            and o["quantity"] > held.get(o["asset"], 0.0) * (1 + SLACK) + SLACK
        ):
            return f"sells {o['quantity']:.8g} {o['asset']} but holds {held.get(o['asset'], 0.0):.8g}"
    after = balances_after(held, orders, prices, cost)
    for a, units in after.items():
        if units < -SLACK * max(1.0, abs(held.get(a, 0.0))):
            return f"{a} would fall to {units:,.8g}"
    return None


class Fit(NamedTuple):
    """The verdict on an approved plan: a reason it must not execute, or the buy quantities
    scaled down (order id → units) so that the balance it is paid from stays non-negative."""

    reason: str | None
    quantities: dict[int, float]


def fit_plan(
    held: dict[str, float], orders: Sequence[OrderRow], prices: dict[str, float], cost: CostFn | None, max_shrink: float
) -> Fit:
    """Fit the planned orders to the holdings at today's prices. A plan that sells more than is
    held does not fit. Buys whose price rose may be scaled down by at most ``max_shrink`` (the
    price tolerance) to stay within the paying balance; anything more does not fit."""
    reason = fit_reason(held, orders, prices, cost)
    if reason is None or reason.startswith("sells"):
        return Fit(reason, {})
    planned = {o["id"]: o["quantity"] for o in orders}
    current = orders
    for _ in range(4):  # a fixed fee per trade does not shrink with the trade: converge in steps
        after = balances_after(held, current, prices, cost)
        buys = [o for o in current if o["status"] == OrderStatus.PLANNED and o["side"] == "buy"]
        scale: dict[str, float] = {}
        for q in {o["quote_asset"] for o in buys}:
            spent = -sum(balances_after({}, [o], prices, cost)[q] for o in buys if o["quote_asset"] == q)
            if after.get(q, 0.0) < 0 and spent > 0:
                scale[q] = max(0.0, 1.0 + after[q] / spent) * (1 - 1e-9)
        if not scale:
            break
        current = [
            {
                **o,
                "quantity": o["quantity"] * scale.get(o["quote_asset"], 1.0),
                "expected_cost": o["expected_cost"] * scale.get(o["quote_asset"], 1.0),
            }
            if o in buys
            else o
            for o in current
        ]
        if fit_reason(held, current, prices, cost) is None:
            break
    quantities = {o["id"]: o["quantity"] for o in current if o["quantity"] != planned[o["id"]]}
    if fit_reason(held, current, prices, cost) is not None or any(
        q < planned[i] * (1.0 - max_shrink) for i, q in quantities.items()
    ):
        return Fit(reason, {})
    return Fit(None, quantities)


def staleness(
    orders: Sequence[OrderRow],
    planned_at: datetime,
    prices: dict[str, float],
    now: datetime,
    valid_for: float,
    max_move: float,
) -> str | None:
    """Why a plan is too old or its prices moved too far to execute as planned, or None."""
    age = (now - planned_at).total_seconds()
    if age > valid_for:
        return f"planned at {planned_at:%Y-%m-%d %H:%M}, {age / 3600:.1f} h ago (valid_for {valid_for / 3600:g} h)"
    for o in orders:
        p = prices.get(o["asset"])
        if p is None or not math.isfinite(p) or p <= 0:
            return f"no current price of {o['asset']}"
        move = p / o["ref_price"] - 1.0
        if abs(move) > max_move:
            return (
                f"{o['asset']} moved {move:+.1%} since the plan ({o['ref_price']:,.8g} → {p:,.8g}; "
                f"max_price_move {max_move:.1%})"
            )
    return None


# ---------------------------------------------------------------- settling (then = "none")
@dataclass(frozen=True)
class SettleFill:
    """One on-chain execution of a proposal's trade: units (positive) at a price, with a fee."""

    asset: str
    quantity: float
    price: float
    fee: float = 0.0


_SPEC = re.compile(r"\s*([^=\s]+)\s*=\s*([0-9.eE+-]+)\s*@\s*([0-9.eE+-]+)\s*")


def parse_fill(spec: str) -> SettleFill:
    """``ASSET=QUANTITY@PRICE`` (e.g. ``BTC=0.5@60000``)."""
    m = _SPEC.fullmatch(spec)
    if not m:
        raise InputError(f"--fill {spec!r}: expected ASSET=QUANTITY@PRICE, e.g. BTC=0.5@60000")
    return _checked(m.group(1), m.group(2), m.group(3), "0", f"--fill {spec!r}")


def spread_fee(specs: list[str], fee: float = 0.0) -> list[SettleFill]:
    """``--fill`` specs, with a total ``fee`` (currency) shared over them by traded value."""
    fills = [parse_fill(x) for x in specs]
    if not (math.isfinite(fee) and fee >= 0):
        raise InputError(f"--fee must be a non-negative number, got {fee!r}")
    total = sum(f.quantity * f.price for f in fills)
    return [SettleFill(f.asset, f.quantity, f.price, fee * f.quantity * f.price / total) for f in fills]


def read_fills(path: Path) -> list[SettleFill]:
    """A JSON list of ``{asset, quantity, price, fee?}`` or a CSV with those columns."""
    if not path.exists():
        raise InputError(f"{path}: no such file of fills")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            rows = json.loads(text)
        except ValueError as exc:
            raise InputError(f"{path}: not valid JSON: {exc}") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InputError(f"{path}: expected a list of {{asset, quantity, price, fee}} objects")
        where = [f"{path}: item {i + 1}" for i in range(len(rows))]
    else:
        rows = list(csv.DictReader(text.splitlines()))
        where = [f"{path}: line {i + 2}" for i in range(len(rows))]
    out = []
    for r, w in zip(rows, where, strict=True):
        missing = [k for k in ("asset", "quantity", "price") if r.get(k) in (None, "")]
        if missing:
            raise InputError(f"{w}: missing {', '.join(missing)}")
        out.append(_checked(str(r["asset"]), r["quantity"], r["price"], r.get("fee") or 0, w))
    if not out:
        raise InputError(f"{path}: no fills")
    return out


def _checked(asset: str, qty: Any, price: Any, fee: Any, where: str) -> SettleFill:
    try:
        q, p, f = float(qty), float(price), float(fee)
    except (TypeError, ValueError):
        raise InputError(f"{where}: quantity, price and fee must be numbers") from None
    if not (math.isfinite(q) and q > 0 and math.isfinite(p) and p > 0 and math.isfinite(f) and f >= 0):
        raise InputError(f"{where}: quantity and price must be positive and the fee non-negative")
    return SettleFill(asset, q, p, f)


def settle_proposal(ledger: Ledger, proposal_id: int, fills: list[SettleFill], by: str | None = None) -> Outcome:
    """Book what was executed on chain for an approved/exported proposal, in one transaction:
    each fill as a ledger fill of the proposal's order for that asset (holdings = start + fills
    still holds), orders without fills cancelled, the decision settled, the proposal ``settled``."""
    with ledger.session() as s:
        p = s.get(Proposal, proposal_id)
        if p is None:
            raise InputError(f"no proposal with id {proposal_id}")
        if p.state == ProposalState.SETTLED:
            return Outcome(proposal_id, ProposalState.SETTLED, False)
        # Conditional, first: a runner claiming the same approved proposal cannot also execute it.
        won = changed(
            s.execute(
                update(Proposal)
                .where(Proposal.id == proposal_id, Proposal.state.in_((ProposalState.APPROVED, ProposalState.EXPORTED)))
                .values(state=ProposalState.SETTLED, executed_at=utcnow())
            )
        )
        if won != 1:
            raise InputError(f"proposal {proposal_id} is {p.state}; only an approved or exported one is settled")
        orders = {o.asset: o for o in s.scalars(select(Order).where(Order.decision_id == p.decision_id))}
        unknown = sorted({f.asset for f in fills} - set(orders))
        if unknown:
            raise InputError(
                f"proposal {proposal_id} trades {', '.join(sorted(orders))}; no trade of {', '.join(unknown)}"
            )
        for k, f in enumerate(fills):
            o = orders[f.asset]
            sign = 1.0 if o.side == "buy" else -1.0
            quote = -(sign * f.quantity * f.price + f.fee) / o.quote_price
            if is_perp(o.asset):  # a re-hedge done by hand: only its fee (and its distance from the mark)
                quote = perp_cash(sign * f.quantity, f.price, o.ref_price, f.fee, o.quote_price)
            s.add(
                Fill(
                    order_id=o.id,
                    trade_key=f"settle:{k}",
                    asset=o.asset,
                    quantity=sign * f.quantity,
                    price=f.price,
                    quote_asset=o.quote_asset,
                    quote_quantity=quote,
                    fee=f.fee,
                )
            )
            o.filled_quantity = (o.filled_quantity or 0.0) + f.quantity
            lending.book_fill(s, o, f"settle:{k}", quote)  # a repay/boost's loan leg
        states = []
        for o in orders.values():
            done = o.filled_quantity or 0.0
            o.status = (
                OrderStatus.FILLED
                if done >= o.quantity * (1 - 1e-9)
                else OrderStatus.PARTIALLY_FILLED
                if done > 0
                else OrderStatus.CANCELLED
            )
            o.error = None if done > 0 else "not executed (settled without a fill)"
            o.updated_at = utcnow()
            states.append(o.status)
        state = (
            DecisionState.FILLED
            if all(x == OrderStatus.FILLED for x in states)
            else DecisionState.CANCELLED
            if all(x == OrderStatus.CANCELLED for x in states)
            else DecisionState.PARTIALLY_FILLED
        )
        s.execute(update(Decision).where(Decision.id == p.decision_id).values(state=state, updated_at=utcnow()))
        if state != DecisionState.CANCELLED:
            from ballast.live import lp_ledger  # a liquidity reset's legs, once executed

            lp_ledger.book_reset(s, p.decision_id)
        if by:
            s.execute(update(Proposal).where(Proposal.id == proposal_id).values(note=f"settled by {by}"))
    return Outcome(proposal_id, ProposalState.SETTLED, True)
