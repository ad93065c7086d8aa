"""The liquidity position in the ledger: a close's mark and wallet entries, written in the cycle's
transaction (so a crash books the whole close or nothing), the state the next close starts from,
and what `ballast status`, the API and the dashboard show.

A reset goes through the decision of its close, in the ledger's crash-safety order: the cycle's
transaction books the close as it stands before the reset, keeps the reset's plan (new state, gas)
in the mark and links it to the decision and to the order carrying its swap (`link_reset`); the
swap is filled like any order; when the decision settles with that order filled (or, without a
swap, settles at all: an executed proposal), `book_reset` books the gas legs (keys
``lp-reset:<decision>:<asset>``: never twice) and the position re-deposited on the new range, in
the settling transaction. A reset whose decision is cancelled, rejected or expired never happens."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ballast.live.liquidity import LPClose, LPState
from ballast.live.models import Decision, LedgerEntry, LiquidityMark, Order, PriceSeen, utcnow

if TYPE_CHECKING:
    from ballast.onchain.lp_calls import RangeReset


def book_cycle(s: Session, cycle_id: int, period: int, at: datetime, close: LPClose) -> None:
    """The close's mark, and the tokens the position moved in the wallet as ``lp`` entries
    (the pool's traders, fees, a reset's swap and gas, all together; keys ``p<period>:lp:<asset>``).
    A pending reset (``close.pending``: the close is then the one before it) is kept in the mark."""
    state: dict[str, Any] = close.state.as_dict()
    if close.pending is not None:
        state["reset"] = close.pending.plan()
    s.execute(
        insert(LiquidityMark).values(
            cycle_id=cycle_id,
            period=period,
            pair=list(close.pair),
            state=state,
            in_range=close.in_range,
            value=close.value,
            fees=close.fees,
            reset=close.reset,
            reason=close.reason[:200],
            swap_cost=close.swap_cost,
            gas=close.gas,
        )
    )
    what = "deposit" if close.deposited else "reset" if close.reset else "pool"
    s.execute(
        insert(LedgerEntry),
        [
            {
                "key": f"p{period}:lp:{asset}",
                "cycle_id": cycle_id,
                "period": period,
                "entry_at": at,
                "asset": asset,
                "units": units,
                "value": None,
                "kind": "lp",
                "source": "liquidity",
                "note": f"{what}; fees {close.fees:.6g}" + (f"; {close.reason}" if close.reason else ""),
                "recorded_at": utcnow(),
            }
            for asset, units in zip(close.pair, (close.units0, close.units1), strict=True)
        ],
    )


def link_reset(s: Session, cycle_id: int, decision_id: int, order_id: int | None) -> None:
    """Tie the close's pending reset to its decision and to the order of its swap (None: no swap)."""
    mark = s.get(LiquidityMark, cycle_id)
    assert mark is not None and "reset" in mark.state
    mark.state = {**mark.state, "reset": {**mark.state["reset"], "decision": decision_id, "order": order_id}}


def _planned(s: Session, decision_id: int) -> tuple[LiquidityMark, dict[str, Any]] | None:
    """The mark holding the reset a decision carries, and its plan (None: no reset)."""
    d = s.get(Decision, decision_id)
    mark = None if d is None else s.get(LiquidityMark, d.cycle_id)
    plan = None if mark is None else mark.state.get("reset")
    if mark is None or not plan or plan.get("decision") != decision_id:
        return None
    return mark, plan


def _prices(s: Session, mark: LiquidityMark) -> tuple[float, float]:
    """The pair's prices at the mark's close (an accepted close: every price is there)."""
    seen = select(PriceSeen.asset, PriceSeen.price).where(PriceSeen.cycle_id == mark.cycle_id)
    rows = {asset: float(price) for asset, price in s.execute(seen) if price is not None}
    return rows[mark.pair[0]], rows[mark.pair[1]]


def _newest(s: Session) -> LiquidityMark | None:
    return s.scalars(select(LiquidityMark).order_by(LiquidityMark.cycle_id.desc()).limit(1)).first()


def book_reset(s: Session, decision_id: int) -> bool:
    """Book the reset a settled decision carried, once: its gas legs and the position on the new
    range, in the newest mark (the plan's own close; or, for a proposal executed closes later, the
    planned liquidity re-placed at the newest close's prices). False when there is nothing to book:
    no reset, already booked, or its swap was not filled."""
    found = _planned(s, decision_id)
    if found is None:
        return False
    mark, plan = found
    pair = list(mark.pair)
    stem = f"lp-reset:{decision_id}"
    if s.scalar(select(LedgerEntry.id).where(LedgerEntry.key == f"{stem}:{pair[0]}")) is not None:
        return False
    swap = None if plan["order"] is None else s.get(Order, plan["order"])
    if swap is not None and not (swap.filled_quantity or 0.0) > 0.0:
        return False
    newest = _newest(s)
    assert newest is not None
    new, value = LPState.from_dict(plan["state"]), float(plan["value"])
    if newest.cycle_id != mark.cycle_id:
        new, value = _replaced(new, newest, _prices(s, newest))
    at = utcnow()
    s.execute(
        insert(LedgerEntry),
        [
            {"key": f"{stem}:{asset}", "cycle_id": mark.cycle_id, "period": mark.period, "entry_at": at,
             "asset": asset, "units": -float(plan[gas]), "value": None, "kind": "lp", "source": "liquidity",
             "note": f"reset gas (burn, collect, mint) of decision {decision_id}", "recorded_at": at}
            for asset, gas in zip(pair, ("gas0", "gas1"), strict=True)
        ],
    )  # fmt: skip
    newest.state = new.as_dict()
    newest.reset, newest.value = True, value
    newest.swap_cost, newest.gas = newest.swap_cost + float(plan["cost"]), newest.gas + float(plan["gas"])
    return True


def _replaced(planned: LPState, newest: LiquidityMark, prices: tuple[float, float]) -> tuple[LPState, float]:
    """The planned liquidity and range at the newest close's prices (a reset executed late)."""
    from ballast.positions.uniswap_v3 import amounts

    p0, p1 = prices
    x, y = amounts(planned.liquidity, p0 / p1, planned.lower, planned.upper)
    now = LPState.from_dict(newest.state)
    new = LPState(
        planned.liquidity, planned.log_lower, planned.log_upper, token0=float(x), token1=float(y),
        last_reset=float(newest.period), deposited=1.0, hold0=float(x), hold1=float(y), fees=now.fees,
        resets=now.resets + 1,
    )  # fmt: skip
    return new, float(x * p0 + y * p1)


def reset_plan(s: Session, decision_id: int) -> tuple[RangeReset, str | None] | None:
    """The liquidity reset a decision carries, for a Safe batch — the position withdrawn (as its
    close left it), the new range and deposit, at that close's prices — and the client order id
    of its swap (None: nothing to swap). None without a reset."""
    from ballast.onchain.lp_calls import RangeReset

    found = _planned(s, decision_id)
    if found is None:
        return None
    mark, plan = found
    held, new = LPState.from_dict(mark.state), LPState.from_dict(plan["state"])
    swap = None if plan["order"] is None else s.scalar(select(Order.client_order_id).where(Order.id == plan["order"]))
    reset = RangeReset(
        (mark.pair[0], mark.pair[1]), int(plan["fee_tier"]), held.liquidity, (held.token0, held.token1),
        new.lower, new.upper, (new.token0, new.token1), _prices(s, mark),
    )  # fmt: skip
    return reset, swap


def last_state(s: Session) -> LPState:
    """The state after the newest booked close (a fresh state before the first deposit)."""
    row = _newest(s)
    return LPState() if row is None else LPState.from_dict(row.state)


def lp_status(s: Session) -> dict[str, Any] | None:
    """The position now: range, in-range flag, value, fees earned, resets (None: no position)."""
    row = _newest(s)
    if row is None:
        return None
    state = LPState.from_dict(row.state)
    closes = s.scalar(select(func.count()).select_from(LiquidityMark)) or 0
    inside = s.scalar(select(func.count()).select_from(LiquidityMark).where(LiquidityMark.in_range)) or 0
    return {
        "pair": list(row.pair),
        "period": row.period,
        "lower": state.lower,
        "upper": state.upper,
        "in_range": row.in_range,
        "liquidity": state.liquidity,
        "token0": state.token0,
        "token1": state.token1,
        "value": row.value,
        "fees": state.fees,
        "resets": state.resets,
        "time_in_range": inside / closes if closes else None,
        "last_reason": row.reason or None,
    }
