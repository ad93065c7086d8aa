"""Depeg alerts for the live service: a stable at warn or beyond act raises one open alert per
asset and kind (``depeg_warn``, ``depeg_act``) in the ledger, which `ballast status` and the
dashboard list with the others. The price guard leaves pegged assets' moves alone: a stable
leaving its peg is the news, not a bad tick (live/service.py ``guard_alerts``)."""

from __future__ import annotations

from ballast.market import Market
from ballast.pegs import STATE_NAMES, WARN, DepegRule
from ballast.strategy import Strategy


def depeg_rule(strategy: Strategy) -> DepegRule | None:
    """The rule of the strategy's `Depeg` trigger, if it has one (without importing it otherwise)."""
    if strategy.pegs is None:
        return None
    from ballast.triggers.depeg import Depeg

    return next((leaf.rule for leaf in strategy.trigger.leaves() if isinstance(leaf, Depeg)), None)


def pegged_assets(strategy: Strategy) -> frozenset[str]:
    return frozenset(strategy.pegs.assets) if strategy.pegs is not None else frozenset()


def depeg_alerts(rule: DepegRule, market: Market) -> list[tuple[str, str, str, str]]:
    """(level, kind, message, asset) for each stable at warn or worse at the last close."""
    path = rule.path(market)
    t = market.n_periods - 1
    out: list[tuple[str, str, str, str]] = []
    for j, asset in enumerate(rule.pegs.assets):
        s = int(path.state[t, j])
        if s < WARN:
            continue
        dev = float(path.deviation[t, j])
        line = f"{rule.warn:.2%}" if s == WARN else f"{rule.act:.2%}"
        kind, level = ("depeg_warn", "warning") if s == WARN else ("depeg_act", "error")
        out.append((level, kind, f"{asset}: {STATE_NAMES[s]} at {dev:+.2%} from its peg (line {line})", asset))
    return out
