"""The guards: checks that stop a cycle from trading (and say why in an alert) when its inputs
cannot be trusted — a bad, stale, future-dated or unconfirmed jumping price, a planned notional
above the caps, an order below the venue's minimum. Kept apart from the cycle so each guard is
one small function with its own tests and a new guard is one more function here."""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from ballast.errors import InputError
from ballast.live.executors import Executor
from ballast.live.records import GuardAlert, PlannedOrder
from ballast.live.repository import Ledger
from ballast.live.sources import Observation

if TYPE_CHECKING:
    from ballast.config.live import Guards

log = logging.getLogger("ballast.live")


def check_holdings(holdings: dict[str, float] | None, assets: tuple[str, ...]) -> None:
    unknown = [a for a in holdings or {} if a not in assets]
    if unknown:
        raise InputError(
            f"[live] holdings: unknown asset(s) {', '.join(map(repr, unknown))}; "
            f"the strategy trades {', '.join(assets)}"
        )


class PriceGuard:
    """Checks each observation's prices; a jump beyond ``max_jump`` trades only once a second
    observation confirms it, so the unconfirmed price is remembered here between cycles."""

    def __init__(
        self, guards: Guards, interval: float, assets: tuple[str, ...], pegged: frozenset[str] = frozenset()
    ) -> None:
        self.guards = guards
        self.interval = interval
        self.assets = assets
        self.pegged = pegged  # a stable's move off its peg is information, not a bad tick
        self.pending_jump: dict[str, float] = {}

    def alerts(self, obs: Observation, last: np.ndarray | None) -> list[GuardAlert]:
        """Why these prices must not be traded on (empty: they may); ``last``: the previous row."""
        g = self.guards
        out: list[GuardAlert] = []
        for i, a in enumerate(self.assets):
            p = obs.prices.get(a, math.nan)
            if p is None or not math.isfinite(p) or p <= 0:
                out.append(
                    GuardAlert(
                        "error",
                        "bad_price",
                        f"{a}: price {p!r} at {obs.time:%Y-%m-%d %H:%M} is missing, not a number or not positive",
                        a,
                    )
                )
                continue
            stamp = obs.stamps.get(a, obs.time)
            age = (obs.time - stamp).total_seconds()
            if age > g.stale_after * self.interval:
                out.append(
                    GuardAlert(
                        "warning",
                        "stale_price",
                        f"{a}: price is {age / self.interval:.1f} intervals old (limit {g.stale_after:g})",
                        a,
                    )
                )
            elif -age > g.clock_skew:
                out.append(
                    GuardAlert(
                        "warning",
                        "future_price",
                        f"{a}: price time {stamp:%Y-%m-%d %H:%M:%S} is "
                        f"{-age:.0f}s ahead of the clock (limit clock_skew {g.clock_skew:g}s)",
                        a,
                    )
                )
            if g.max_jump > 0 and last is not None and a not in self.pegged:
                move = p / last[i] - 1.0
                if abs(move) > g.max_jump:
                    pend = self.pending_jump.get(a)
                    if pend is not None and abs(p / pend - 1.0) <= g.max_jump:
                        continue  # confirmed by a second observation
                    self.pending_jump[a] = p
                    out.append(
                        GuardAlert(
                            "warning",
                            "price_jump",
                            f"{a}: moved {move:+.1%} since the last "
                            f"observation (limit ±{g.max_jump:.0%}); waiting for confirmation",
                            a,
                        )
                    )
        if not any(x.kind == "price_jump" for x in out):
            self.pending_jump.clear()
        return out


def notional_cap(guards: Guards, ledger: Ledger, notional: float, when: datetime) -> str | None:
    """Why a plan of this traded value must not be sent (None: within ``max_notional_*``)."""
    g = guards
    if g.max_notional_cycle and notional > g.max_notional_cycle:
        return f"planned trades of {notional:,.2f} exceed max_notional_cycle {g.max_notional_cycle:,.2f}"
    if g.max_notional_day:
        day = ledger.notional_since(when - timedelta(days=1))
        if day + notional > g.max_notional_day:
            return (
                f"planned trades of {notional:,.2f} would bring the last 24 h to {day + notional:,.2f}, "
                f"above max_notional_day {g.max_notional_day:,.2f}"
            )
    return None


def venue_sized(
    executor: Executor | None, ledger: Ledger, orders: list[PlannedOrder]
) -> tuple[list[PlannedOrder], str | None]:
    """Drop orders below the venue's minimum amount or value (they would be rejected every
    cycle); one open ``below_minimum`` alert per asset says why, not one per cycle."""
    if executor is None:
        return orders, None
    keep, small = [], []
    for o in orders:
        units, value = executor.minimum(o.asset)
        worth = o.notional / o.quote_price
        if (units is not None and o.quantity < units) or (value is not None and worth < value):
            why = (
                f"{o.side} {o.quantity:.8g} {o.asset} (worth {worth:,.2f}) is below the venue's minimum "
                f"order ({units if units is not None else '-'} units, {value if value is not None else '-'} "
                f"{o.quote_asset})"
            )
            small.append(why)
            if ledger.add_alert_once("below_minimum", f"{why}; not sent until it grows", "warning", o.asset):
                log.warning("not sent: %s", why, extra={"event": "below_minimum", "asset": o.asset})
        else:
            keep.append(o)
    return keep, "; ".join(small) or None
