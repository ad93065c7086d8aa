"""Reads of the loans for `ballast status`, the API and the dashboard: each loan now (collateral,
debt, health factor, band), its health factor per cycle, and its events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ballast.live.lending import finite, health_factor, positions
from ballast.live.models import Cycle, LoanEvent, LoanMark, LoanPosition


def loan_status(s: Session, prices: Mapping[str, float | None], wallet: Mapping[str, float]) -> list[dict[str, Any]]:
    """Every loan now: its collateral (the wallet's units of its collateral assets, all pledged)
    and what it owes, valued at ``prices`` (the last close's); its health factor, net value
    (collateral − debt), band, the liquidation price of a single collateral asset, and how many
    repays, boosts and liquidations it had."""
    counts: dict[tuple[int, str], int] = {}
    for lid, kind, n in s.execute(
        select(LoanEvent.loan_id, LoanEvent.kind, func.count(func.distinct(LoanEvent.order_id)))
        .where(LoanEvent.kind.in_(("repay", "borrow")), LoanEvent.order_id.is_not(None))
        .group_by(LoanEvent.loan_id, LoanEvent.kind)
    ):
        counts[(lid, "repays" if kind == "repay" else "boosts")] = int(n)
    for lid, n in s.execute(
        select(LoanEvent.loan_id, func.count())
        .where(LoanEvent.kind == "liquidation", LoanEvent.detail.is_not(None))
        .group_by(LoanEvent.loan_id)
    ):
        counts[(lid, "liquidations")] = int(n)
    out = []
    for pos in positions(s, wallet).values():
        hf, cv, dv = health_factor(pos, prices)
        lt = pos.terms["liquidation_threshold"]
        (single,) = pos.collateral if len(pos.collateral) == 1 else (None,)
        dp = prices.get(pos.debt_asset)
        liq_price = (
            pos.debt * dp / (pos.collateral[single] * lt[single])
            if single is not None and dp is not None and pos.collateral[single] > 0 and pos.debt > 0
            else None
        )
        out.append(
            {
                "name": pos.name,
                "collateral": {
                    a: {"units": u, "price": prices.get(a), "value": None if prices.get(a) is None else u * prices[a]}  # type: ignore[operator]
                    for a, u in pos.collateral.items()
                },
                "collateral_value": finite(cv),
                "debt_asset": pos.debt_asset,
                "debt": pos.debt,
                "debt_value": finite(dv),
                "accrual_index": pos.index,
                "health_factor": None if hf is None else finite(hf),
                "net_value": finite(cv - dv),
                "liquidation_price": liq_price,
                "rule": pos.terms.get("rule"),
                "band": pos.terms.get("band"),
                "warn_at": pos.terms.get("warn_at"),
                "repays": counts.get((pos.loan_id, "repays"), 0),
                "boosts": counts.get((pos.loan_id, "boosts"), 0),
                "liquidations": counts.get((pos.loan_id, "liquidations"), 0),
            }
        )
    return out


def health_history(s: Session, limit: int) -> list[dict[str, Any]]:
    """Each cycle's mark of each loan (HF, collateral and debt value), oldest first."""
    rows = s.execute(
        select(Cycle.observed_at, LoanPosition.name, LoanMark)
        .join(Cycle, Cycle.id == LoanMark.cycle_id)
        .join(LoanPosition, LoanPosition.id == LoanMark.loan_id)
        .order_by(LoanMark.cycle_id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "observed_at": at.isoformat() + "Z",
            "loan": name,
            "health_factor": m.health_factor,
            "collateral_value": m.collateral_value,
            "debt_value": m.debt_value,
        }
        for at, name, m in reversed(rows)
    ]


def loan_events(s: Session, limit: int) -> list[dict[str, Any]]:
    """The newest loan events (liquidations with their amounts), newest first."""
    rows = s.execute(
        select(LoanEvent, LoanPosition.name)
        .join(LoanPosition, LoanPosition.id == LoanEvent.loan_id)
        .order_by(LoanEvent.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": e.id,
            "loan": name,
            "key": e.key,
            "kind": e.kind,
            "period": e.period,
            "event_at": e.event_at.isoformat() + "Z",
            "asset": e.asset,
            "collateral_units": e.collateral_units,
            "debt_units": e.debt_units,
            "accrual_index": e.accrual_index,
            "order_id": e.order_id,
            "detail": e.detail,
        }
        for e, name in rows
    ]
