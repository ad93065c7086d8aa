"""What a trigger is: a yes/no question asked at every close, with a reason when the answer is yes.

Triggers form a tree: leaves (``Calendar``, ``Band``, ...) and combinators (``AnyOf``, ``AllOf``,
``Cooldown``). The numba engine cannot call Python objects, so a tree whose leaves can ``encode``
themselves is compiled into flat arrays (`TriggerProgram`) and evaluated in reverse Polish order;
the kernel reports which leaves were true, and `reason` rebuilds the same text the pure-Python
path produces, from the same tree.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ballast.market import Market

# Leaf kinds understood by the kernel (triggers/kernel.py).
LEAF_NEVER = 0
LEAF_MASK = 1
LEAF_BAND = 2
LEAF_VOL_REGIME = 3
LEAF_TRACKING_ERROR = 4

# Program opcodes (column 0 of TriggerProgram.program); column 1 is the argument.
OP_LEAF = 0
OP_ANY = 1
OP_ALL = 2
OP_COOLDOWN = 3

MAX_LEAVES = 63


@dataclass(frozen=True)
class TriggerState:
    """What a trigger may look at on the close of period ``t`` (pure-Python path and live)."""

    market: Market  # only rows 0..t may be used
    t: int
    weights: np.ndarray  # pre-trade weights at the close of t
    target: np.ndarray  # target weights at t
    last_rebalance: int  # period of the last executed rebalance (0 = formation)


@dataclass(frozen=True)
class LeafSpec:
    """One leaf as arrays; unused fields keep their defaults."""

    kind: int
    mask: np.ndarray | None = None  # bool[T]
    series: np.ndarray | None = None  # float[T]
    width_abs: np.ndarray | None = None  # float[N]
    width_rel: np.ndarray | None = None  # float[N]
    params: tuple[float, ...] = ()


class Trigger(ABC):
    """Base of every trigger node. ``a | b`` is ``AnyOf(a, b)``, ``a & b`` is ``AllOf(a, b)``."""

    def __or__(self, other: "Trigger") -> "Trigger":
        return AnyOf(self, other)

    def __and__(self, other: "Trigger") -> "Trigger":
        return AllOf(self, other)

    @abstractmethod
    def leaves(self) -> list["Leaf"]:
        """Leaves of this subtree, depth first (their order defines leaf ids)."""

    @abstractmethod
    def reason_from(self, values: dict[int, str | None], state: TriggerState | None) -> str | None:
        """Reason text if this subtree fires, given each leaf's reason (None = not true)."""

    def fires(self, state: TriggerState) -> str | None:
        """Evaluate the tree on one state (pure-Python path and live service)."""
        values = {id(leaf): (leaf.reason(state) if leaf.check(state) else None) for leaf in self.leaves()}
        return self.reason_from(values, state)

    def describe(self) -> str:
        return type(self).__name__


class Leaf(Trigger):
    """A trigger that answers by itself. Subclass and implement ``check`` (and ``reason``)."""

    @abstractmethod
    def check(self, state: TriggerState) -> bool:
        """True when this leaf wants a rebalance at the close of ``state.t``."""

    def reason(self, state: TriggerState) -> str:
        return self.describe()

    def encode(self, market: Market) -> LeafSpec | None:
        """Arrays for the compiled kernel, or None if only the pure-Python path can run it."""
        return None

    def leaves(self) -> list["Leaf"]:
        return [self]

    def reason_from(self, values: dict[int, str | None], state: TriggerState | None) -> str | None:
        return values[id(self)]


class AnyOf(Trigger):
    """Fires when any child fires; the reason lists every child that fired."""

    def __init__(self, *children: Trigger) -> None:
        if not children:
            raise ValueError("any_of needs at least one trigger")
        self.children = children

    def leaves(self) -> list[Leaf]:
        return [leaf for c in self.children for leaf in c.leaves()]

    def reason_from(self, values: dict[int, str | None], state: TriggerState | None) -> str | None:
        fired = [r for c in self.children if (r := c.reason_from(values, state)) is not None]
        return "; ".join(fired) if fired else None

    def describe(self) -> str:
        return " or ".join(c.describe() for c in self.children)


class AllOf(Trigger):
    """Fires when every child fires."""

    def __init__(self, *children: Trigger) -> None:
        if not children:
            raise ValueError("all_of needs at least one trigger")
        self.children = children

    def leaves(self) -> list[Leaf]:
        return [leaf for c in self.children for leaf in c.leaves()]

    def reason_from(self, values: dict[int, str | None], state: TriggerState | None) -> str | None:
        reasons = [c.reason_from(values, state) for c in self.children]
        if any(r is None for r in reasons):
            return None
        return " and ".join(r for r in reasons if r is not None)

    def describe(self) -> str:
        return " and ".join(c.describe() for c in self.children)


class Cooldown(Trigger):
    """Let ``inner`` fire only if at least ``periods`` periods passed since the last rebalance."""

    def __init__(self, inner: Trigger, periods: int) -> None:
        if periods < 0:
            raise ValueError(f"cooldown must be >= 0 periods, got {periods}")
        self.inner = inner
        self.periods = int(periods)

    def leaves(self) -> list[Leaf]:
        return self.inner.leaves()

    def reason_from(self, values: dict[int, str | None], state: TriggerState | None) -> str | None:
        if state is not None and state.t - state.last_rebalance < self.periods:
            return None
        return self.inner.reason_from(values, state)

    def describe(self) -> str:
        return f"({self.inner.describe()}) with cooldown {self.periods}"


def any_of(*triggers: Trigger) -> Trigger:
    return triggers[0] if len(triggers) == 1 else AnyOf(*triggers)


def all_of(*triggers: Trigger) -> Trigger:
    return triggers[0] if len(triggers) == 1 else AllOf(*triggers)


class TriggerProgram(NamedTuple):
    """A trigger tree flattened for the kernel (a NamedTuple so numba reads fields by name)."""

    kind: np.ndarray  # int64[L]
    mask: np.ndarray  # bool[L, T]
    series: np.ndarray  # float64[L, T]; float64[0] when no leaf needs a series
    width_abs: np.ndarray  # float64[L, N]
    width_rel: np.ndarray  # float64[L, N]
    params: np.ndarray  # float64[L, 4]
    program: np.ndarray  # int64[P, 2] reverse Polish (opcode, argument)


def compile_trigger(trigger: Trigger, market: Market) -> TriggerProgram | None:
    """Flatten ``trigger`` for the kernel; None if some leaf only runs in Python."""
    leaves = trigger.leaves()
    if len(leaves) > MAX_LEAVES:
        raise ValueError(f"a trigger may have at most {MAX_LEAVES} leaves, got {len(leaves)}")
    specs = [leaf.encode(market) for leaf in leaves]
    if any(s is None for s in specs):
        return None
    T, N = market.prices.shape
    L = max(len(leaves), 1)
    kind = np.zeros(L, np.int64)
    # Per-period rows only when some leaf has them: a sweep compiles one program per configuration.
    mask = np.zeros((L, T if any(s.mask is not None for s in specs) else 0), np.bool_)
    series = np.zeros((L, T if any(s.series is not None for s in specs) else 0), np.float64)
    width_abs = np.zeros((L, N), np.float64)
    width_rel = np.zeros((L, N), np.float64)
    params = np.zeros((L, 4), np.float64)
    for i, s in enumerate(specs):
        assert s is not None
        kind[i] = s.kind
        if s.mask is not None:
            mask[i] = s.mask
        if s.series is not None:
            series[i] = s.series
        if s.width_abs is not None:
            width_abs[i] = s.width_abs
        if s.width_rel is not None:
            width_rel[i] = s.width_rel
        params[i, : len(s.params)] = s.params
    ids = {id(leaf): i for i, leaf in enumerate(leaves)}
    program: list[tuple[int, int]] = []

    def emit(node: Trigger) -> None:
        if isinstance(node, Leaf):
            program.append((OP_LEAF, ids[id(node)]))
        elif isinstance(node, (AnyOf, AllOf)):
            for c in node.children:
                emit(c)
            program.append((OP_ANY if isinstance(node, AnyOf) else OP_ALL, len(node.children)))
        elif isinstance(node, Cooldown):
            emit(node.inner)
            program.append((OP_COOLDOWN, node.periods))
        else:
            raise TypeError(f"cannot compile trigger node {type(node).__name__}")

    emit(trigger)
    if not any(spec.kind >= LEAF_VOL_REGIME for spec in specs):
        # No series-driven leaf: a 1-D series gives the kernel a specialisation without that code
        # (see triggers/kernel.py::leaf_fires), which keeps every close ~3x cheaper.
        series = np.zeros(0, np.float64)
    return TriggerProgram(kind, mask, series, width_abs, width_rel, params,
                          np.array(program, dtype=np.int64).reshape(-1, 2))


def reason_from_bits(trigger: Trigger, bits: int, state: TriggerState | None) -> str | None:
    """The reason text for a kernel-reported set of true leaves (bit i = leaf i)."""
    leaves = trigger.leaves()
    values: dict[int, str | None] = {}
    for i, leaf in enumerate(leaves):
        true = bool((bits >> i) & 1)
        values[id(leaf)] = (leaf.reason(state) if state is not None else leaf.describe()) if true else None
    return trigger.reason_from(values, state)
