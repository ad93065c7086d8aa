"""Reads the dashboard needs that the `Ledger` does not offer, written with its ORM models
(SQLAlchemy expressions only, no SQL text)."""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ballast.live.ledger import HoldingSnapshot, Ledger


def drift_history(ledger: Ledger, limit: int) -> list[dict[str, Any]]:
    """Pre-trade weight − target per asset at each observed cycle (what the trigger saw), oldest
    first, from the holding snapshot the service writes every cycle."""
    with ledger.session() as s:
        rows = s.execute(select(HoldingSnapshot.observed_at, HoldingSnapshot.lines)
                         .order_by(HoldingSnapshot.id.desc()).limit(limit)).all()
    out = []
    for at, lines in reversed(rows):
        if not any(_number(ln.get("weight")) and ln["weight"] for ln in lines):
            continue  # before formation nothing is held: a drift of −target would squash the band
        drift = {ln["asset"]: float(ln["weight"]) - float(ln["target"]) for ln in lines
                 if _number(ln.get("weight")) and _number(ln.get("target"))}
        out.append({"observed_at": _iso(at), "drift": drift,
                    "max_abs": max(map(abs, drift.values())) if drift else None})
    return out


def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat() + "Z"  # naive UTC, as the ledger writes it
