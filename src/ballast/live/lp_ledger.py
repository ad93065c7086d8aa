"""The liquidity position in the ledger: a close's mark and wallet entries, written in the cycle's
transaction (so a crash books the whole close or nothing), the state the next close starts from,
and what `ballast status`, the API and the dashboard show."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ballast.live.liquidity import LPClose, LPState
from ballast.live.models import LedgerEntry, LiquidityMark, utcnow


def book_cycle(s: Session, cycle_id: int, period: int, at: datetime, close: LPClose) -> None:
    """The close's mark, and the tokens the position moved in the wallet as ``lp`` entries
    (the pool's traders, fees, a reset's swap and gas, all together; keys ``p<period>:lp:<asset>``)."""
    s.execute(
        insert(LiquidityMark).values(
            cycle_id=cycle_id,
            period=period,
            pair=list(close.pair),
            state=close.state.as_dict(),
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


def last_state(s: Session) -> LPState:
    """The state after the newest booked close (a fresh state before the first deposit)."""
    row = s.scalars(select(LiquidityMark).order_by(LiquidityMark.cycle_id.desc()).limit(1)).first()
    return LPState() if row is None else LPState.from_dict(row.state)


def lp_status(s: Session) -> dict[str, Any] | None:
    """The position now: range, in-range flag, value, fees earned, resets (None: no position)."""
    row = s.scalars(select(LiquidityMark).order_by(LiquidityMark.cycle_id.desc()).limit(1)).first()
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
