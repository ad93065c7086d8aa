"""What a trigger is: a yes/no question asked at every close, with a reason when the answer is yes.

Triggers form a tree: leaves (``Calendar``, ``Band``, ...) and combinators (``AnyOf``, ``AllOf``,
``Cooldown``). The numba engine cannot call Python objects, so a tree whose leaves can ``encode``
themselves is compiled into flat arrays (`TriggerProgram`) and evaluated in reverse Polish order;
the kernel reports which leaves were true, and `reason` rebuilds the same text the pure-Python
path produces, from the same tree.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ballast.enums import LEAF_VOL_REGIME, MAX_LEAVES, OP_ALL, OP_ANY, OP_COOLDOWN, OP_LEAF
from ballast.market import Market
from ballast.state import TriggerState as TriggerState  # re-exported: the live service imports it here


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


_SHARED: dict[tuple[object, ...], np.ndarray] = {}


def _shared(key: tuple[object, ...], make: Callable[[], np.ndarray]) -> np.ndarray:
    """One array per distinct constant part of a program (all-zero fields, opcodes, parameters).

    A sweep compiles a program per configuration; parts shared as one object are pooled once
    (sweep/pool.py pools distinct objects) instead of once per configuration. Programs are only
    ever read, by the kernel, so sharing is safe."""
    a = _SHARED.get(key)
    if a is None:
        a = _SHARED[key] = make()
    return a


def _field(values: list[np.ndarray | None], L: int, width: int, dtype: type) -> np.ndarray:
    """The (L, width) field from each leaf's row (None = zeros); a single leaf's row as it is."""
    first = values[0] if values else None
    if L == 1 and first is not None:
        v = first
        if v.dtype != dtype or not v.flags.c_contiguous:
            v = np.ascontiguousarray(v, dtype=dtype)
        return v.reshape(1, width)
    if all(v is None for v in values):
        return _shared(("zeros", L, width, dtype), lambda: np.zeros((L, width), dtype))
    out: np.ndarray = np.zeros((L, width), dtype)
    for i, row in enumerate(values):
        if row is not None:
            out[i] = row
    return out


def _params(L: int, rows: tuple[tuple[float, ...], ...]) -> np.ndarray:
    out = np.zeros((L, 4), np.float64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _program(trigger: Trigger, leaves: list[Leaf]) -> tuple[tuple[int, int], ...]:
    """The tree as reverse-Polish (opcode, argument) pairs; a leaf's argument is its index."""
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
    return tuple(program)


def compile_trigger(trigger: Trigger, market: Market) -> TriggerProgram | None:
    """Flatten ``trigger`` for the kernel; None if some leaf only runs in Python."""
    leaves = trigger.leaves()
    if len(leaves) > MAX_LEAVES:
        raise ValueError(f"a trigger may have at most {MAX_LEAVES} leaves, got {len(leaves)}")
    specs = [leaf.encode(market) for leaf in leaves]
    if any(s is None for s in specs):
        return None
    T, N = market.prices.shape
    L = max(len(specs), 1)
    kinds = tuple(s.kind for s in specs)  # type: ignore[union-attr]
    kind = _shared(("kind", L, kinds), lambda: np.array(kinds + (0,) * (L - len(kinds)), np.int64))
    masks = [s.mask for s in specs]  # type: ignore[union-attr]
    # Per-period rows only when some leaf has them.
    mask = _field(masks, L, T, np.bool_) if any(m is not None for m in masks) else _field([], L, 0, np.bool_)
    if any(k >= LEAF_VOL_REGIME for k in kinds):
        series = _field([s.series for s in specs], L, T, np.float64)  # type: ignore[union-attr]
    else:
        # No series-driven leaf: a 1-D series gives the kernel a specialisation without that code
        # (see triggers/kernel.py::leaf_fires), which keeps every close ~3x cheaper.
        series = _shared(("no series",), lambda: np.zeros(0, np.float64))
    width_abs = _field([s.width_abs for s in specs], L, N, np.float64)  # type: ignore[union-attr]
    width_rel = _field([s.width_rel for s in specs], L, N, np.float64)  # type: ignore[union-attr]
    rows = tuple(tuple(s.params) for s in specs)  # type: ignore[union-attr]
    params = _shared(("params", L, rows), lambda: _params(L, rows))
    # A trigger that is one leaf (most sweeps: one per configuration) skips the tree walk.
    ops = ((OP_LEAF, 0),) if len(leaves) == 1 and trigger is leaves[0] else _program(trigger, leaves)
    code = _shared(("program", ops), lambda: np.array(ops, dtype=np.int64).reshape(-1, 2))
    return TriggerProgram(kind, mask, series, width_abs, width_rel, params, code)


def reason_from_bits(trigger: Trigger, bits: int, state: TriggerState | None) -> str | None:
    """The reason text for a kernel-reported set of true leaves (bit i = leaf i)."""
    leaves = trigger.leaves()
    values: dict[int, str | None] = {}
    for i, leaf in enumerate(leaves):
        true = bool((bits >> i) & 1)
        values[id(leaf)] = (leaf.reason(state) if state is not None else leaf.describe()) if true else None
    return trigger.reason_from(values, state)
