"""Grids of configurations: axes of keyword values, combined as a product or zipped.

Configurations are produced by index (mixed-radix decoding), never all at once, so a
100,000-point grid costs nothing until a chunk of it runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ballast.strategy import build_strategy

# Keywords that change the market itself (the cash column) or only label the run.
NOT_SWEEPABLE = frozenset({"cash", "name"})


def sweepable() -> tuple[str, ...]:
    """The `build_strategy` keywords a grid may vary (read from its signature, so new ones count)."""
    return tuple(p for p in inspect.signature(build_strategy).parameters if p not in NOT_SWEEPABLE)


def sequence_keywords() -> frozenset[str]:
    """Keywords whose one value is itself a sequence (``vol_thresholds``): a list of such is an axis."""
    return frozenset(
        name
        for name, p in inspect.signature(build_strategy).parameters.items()
        if any(s in str(p.annotation) for s in ("Sequence", "list[", "tuple["))
    )


def is_axis(value: Any, sequence: bool = False) -> bool:
    """A keyword given as a list, tuple, range, array or Series is a grid axis; for a keyword whose
    value is a sequence, only a list of sequences is."""
    many = isinstance(value, (list, tuple, range, np.ndarray, pd.Series, pd.Index))
    if not sequence:
        return many
    return many and len(value) > 0 and all(is_axis(v) for v in value)


def plain(value: Any) -> Any:
    """NumPy scalars as Python scalars (same bits), so columns and error messages read cleanly."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class Grid:
    """Named axes of values; ``zip`` pairs them position by position instead of the product."""

    axes: tuple[tuple[str, tuple[Any, ...]], ...]
    zip: bool = False

    def __post_init__(self) -> None:
        for name, values in self.axes:
            if not values:
                raise ValueError(f"sweep axis {name!r} has no values")
        if self.zip and len({len(v) for _, v in self.axes}) > 1:
            sizes = ", ".join(f"{n}={len(v)}" for n, v in self.axes)
            raise ValueError(f"zipped sweep axes must have the same length, got {sizes}")

    @classmethod
    def from_keywords(cls, keywords: Mapping[str, Any], zip: bool = False) -> tuple["Grid", dict[str, Any]]:  # noqa: A002
        """Split ``keywords`` into the grid (list-valued ones) and the fixed rest."""
        allowed = set(sweepable())
        sequences = sequence_keywords()
        axes, fixed = [], {}
        for name, value in keywords.items():
            if name in sequences and is_axis(value, sequence=True):
                axes.append((name, tuple(tuple(plain(x) for x in v) for v in value)))
            elif name not in sequences and is_axis(value):
                if name not in allowed:
                    why = "it selects the market's cash column" if name == "cash" else "it is not a strategy keyword"
                    raise ValueError(f"{name!r} cannot be a sweep axis: {why}; sweepable: {', '.join(sorted(allowed))}")
                axes.append(
                    (
                        name,
                        tuple(plain(v) for v in np.asarray(value, dtype=object).ravel())
                        if not isinstance(value, (list, tuple))
                        else tuple(plain(v) for v in value),
                    )
                )
            else:
                fixed[name] = value
        return cls(tuple(axes), zip), fixed

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for _, v in self.axes)

    @property
    def size(self) -> int:
        if not self.axes:
            return 1
        return self.shape[0] if self.zip else int(np.prod(self.shape, dtype=np.int64))

    def positions(self, start: int, stop: int) -> np.ndarray:
        """Per configuration in [start, stop), the position on each axis (first axis slowest)."""
        ids = np.arange(start, stop, dtype=np.int64)
        if not self.axes:
            return np.zeros((len(ids), 0), np.int64)
        if self.zip:
            return np.repeat(ids[:, None], len(self.axes), axis=1)
        return np.stack(np.unravel_index(ids, self.shape), axis=1).astype(np.int64)

    def configs(self, start: int, stop: int) -> list[dict[str, Any]]:
        pos = self.positions(start, stop)
        return [{name: values[j] for (name, values), j in zip(self.axes, row, strict=True)} for row in pos]

    def columns(self, start: int, stop: int) -> dict[str, Any]:
        """The parameter columns of rows [start, stop): one column per axis."""
        pos = self.positions(start, stop)
        out: dict[str, Any] = {}
        for k, (name, values) in enumerate(self.axes):
            out[name] = column_values(values)[pos[:, k]]
        return out


def column_values(values: tuple[Any, ...]) -> Any:
    """An axis as a column: numbers stay numbers (None → NaN), text and flags keep a nullable type
    (so every chunk of a streamed file has the same schema), anything else becomes its label."""
    kinds = {type(v) for v in values if v is not None}
    if kinds and kinds <= {int, float}:
        if kinds == {int} and None not in values:
            return np.array(values, dtype=np.int64)
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if kinds == {bool}:
        return pd.array(list(values), dtype="boolean")
    return pd.array([None if v is None else label(v) for v in values], dtype="string")


def label(value: Any) -> str:
    """Text for a non-scalar axis value (a Target object, a mapping)."""
    if isinstance(value, str):
        return value
    describe = getattr(value, "describe", None)
    if callable(describe):
        d = describe()
        return d if isinstance(d, str) else str(d)
    return str(value)
