"""A reserve of stables in one strategy: the flat keywords ``pegs``, ``depeg`` and ``reserve``
(TOML ``[pegs]``, ``[trigger] depeg = {...}``, ``[reserve]``) turned into pieces.

- ``pegs``: ``{asset: peg}`` plus an optional ``ideal = [...]`` of stables the data lacks, added
  at their peg exactly (an explicitly ideal series, for stress scenarios to shape);
- ``depeg``: the `Depeg` trigger's thresholds (act, warn, two_sided, confirm, recover) and its
  reaction: ``react = "exit" | "freeze" | "hold" | "none"`` with ``into``, ``loss_budget``
  (exit) or ``floor`` (hold);
- ``reserve``: `StableBasket` caps: ``max_weight`` per issuer, ``min_issuers``.

Only strategies that use these import this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ballast.pegs import DepegRule, Pegs
from ballast.planning.base import Planner
from ballast.targets.base import Target
from ballast.triggers.base import Trigger, all_of, any_of
from ballast.triggers.calendar import Never

REACTIONS = ("exit", "freeze", "hold", "none")
RULE_KEYS = ("act", "warn", "two_sided", "confirm", "recover")
REACTION_KEYS = ("react", "into", "loss_budget", "floor")


def parse_pegs(pegs: Pegs | Mapping[str, Any]) -> Pegs:
    if isinstance(pegs, Pegs):
        return pegs
    table = dict(pegs)
    ideal = table.pop("ideal", ())
    if not isinstance(ideal, (list, tuple)) or not all(isinstance(a, str) for a in ideal):
        raise ValueError(f"pegs.ideal: expected a list of asset names, got {ideal!r}")
    unknown = [a for a in ideal if a not in table]
    if unknown:
        raise ValueError(f"pegs.ideal: {', '.join(map(repr, unknown))} must also be given a peg in [pegs]")
    return Pegs(table, ideal=tuple(ideal))


def ideal_columns(pegs: Pegs | Mapping[str, Any] | None) -> dict[str, float] | None:
    """The constant columns of the ideal stables ``pegs`` declares (None without pegs)."""
    return None if pegs is None else parse_pegs(pegs).ideal_columns()


def with_pegs(
    target: Target,
    trigger: Trigger,
    planner: Planner,
    pegs: Pegs | Mapping[str, Any],
    depeg: Mapping[str, Any] | None,
    reserve: Mapping[str, Any] | None,
) -> tuple[Pegs, Target, Trigger, Planner]:
    """The strategy's pieces with the depeg trigger, the reaction and the caps added."""
    from ballast.targets.pegged import Exit, StableBasket

    parsed = parse_pegs(pegs)
    target = _rewrap(target, lambda node: _pegged_runway(node, parsed))
    if reserve:
        unknown = sorted(set(reserve) - {"max_weight", "min_issuers"})
        if unknown:
            raise ValueError(f"reserve: unexpected key(s) {', '.join(unknown)}; expected max_weight, min_issuers")
        target = StableBasket(target, parsed.assets, **reserve)
    if depeg is None:
        return parsed, target, trigger, planner
    unknown = sorted(set(depeg) - set(RULE_KEYS) - set(REACTION_KEYS))
    if unknown:
        raise ValueError(
            f"depeg: unexpected key(s) {', '.join(unknown)}; expected {', '.join(RULE_KEYS + REACTION_KEYS)}"
        )
    rule = DepegRule(parsed, **{k: depeg[k] for k in RULE_KEYS if k in depeg})
    react = depeg.get("react", "exit")
    if react not in REACTIONS:
        raise ValueError(f"depeg.react: expected one of {', '.join(REACTIONS)}, got {react!r}")
    misplaced = [k for k in ("into", "loss_budget") if k in depeg and react != "exit"]
    misplaced += ["floor"] if "floor" in depeg and react != "hold" else []
    if misplaced:
        raise ValueError(
            f"depeg.{misplaced[0]} only applies to react = "
            f'"{"hold" if misplaced[0] == "floor" else "exit"}", not {react!r}'
        )
    from ballast.triggers.depeg import Depeg

    leaf = Depeg(rule)
    trigger = leaf if isinstance(trigger, Never) else any_of(trigger, leaf)
    if react == "exit":
        # Inside the caps: what the exit moves never lifts a receiver above the issuer cap.
        cap = float(reserve.get("max_weight", 1.0)) if reserve else 1.0
        inner = target.inner if isinstance(target, StableBasket) else target
        exited = Exit(inner, rule, into=depeg.get("into"), loss_budget=depeg.get("loss_budget"), max_weight=cap)
        target = StableBasket(exited, parsed.assets, **(reserve or {})) if isinstance(target, StableBasket) else exited
    elif react in ("freeze", "hold"):
        from ballast.planning.pegged import Freeze, Hold

        planner = Freeze(planner, rule) if react == "freeze" else Hold(planner, rule, depeg.get("floor"))
    return parsed, target, trigger, planner


def _rewrap(target: Target, change: Any) -> Target:
    """The wrapper chain of ``target`` with ``change(node)`` applied to each constraint (a copy;
    ``change`` returns the node to keep, or its inner to drop it)."""
    import copy

    from ballast.targets.constraints import Constraint

    if not isinstance(target, Constraint):
        return target
    node = change(target)
    if node is target.inner:  # dropped
        return _rewrap(node, change)
    out = copy.copy(node) if node is target else node  # a replacement is already a copy
    out.inner = _rewrap(node.inner, change)
    out._cache = None
    return out


def _pegged_runway(node: Target, pegs: Pegs) -> Target:
    """A `Runway` on a stable with a numeric peg counts the stable at min(price, peg)."""
    import copy

    from ballast.targets.constraints import Runway

    peg = pegs.pegs.get(node.asset) if isinstance(node, Runway) and node.peg is None else None
    if not isinstance(peg, float):
        return node
    out = copy.copy(node)
    out.peg = peg  # type: ignore[attr-defined]
    return out


def without_reaction(strategy: Any) -> Any:
    """The same strategy with no depeg trigger and no reaction (caps kept): the stress baseline."""
    from dataclasses import replace

    from ballast.planning.pegged import Freeze, Hold
    from ballast.targets.pegged import Exit
    from ballast.triggers.base import AllOf, AnyOf, Cooldown
    from ballast.triggers.depeg import Depeg

    def trigger(node: Trigger) -> Trigger | None:
        if isinstance(node, Depeg):
            return None
        if isinstance(node, (AnyOf, AllOf)):
            kept = [c for c in (trigger(c) for c in node.children) if c is not None]
            return (any_of if isinstance(node, AnyOf) else all_of)(*kept) if kept else None
        if isinstance(node, Cooldown):
            inner = trigger(node.inner)
            return None if inner is None else Cooldown(inner, node.periods)
        return node

    planner = strategy.planner
    while isinstance(planner, (Freeze, Hold)):
        planner = planner.inner
    unwrapped = _rewrap(strategy.target, lambda node: node.inner if isinstance(node, Exit) else node)
    return replace(
        strategy,
        target=unwrapped,
        trigger=trigger(strategy.trigger) or Never(),
        planner=planner,
        name=f"{strategy.name} (no reaction)",
    )
