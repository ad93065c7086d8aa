"""Stack many configurations' NamedTuples into per-field pools the batched kernel indexes.

A band-width sweep has 1,000 distinct band widths but one target path, one calendar mask and one
cost table: storing each field once per *distinct value* (by identity, then by content) keeps a
chunk's memory at what actually differs, whatever fields other modules add to the NamedTuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

SMALL = 512  # bytes


class Pooled(NamedTuple):
    """Field pools plus, per configuration and field, the pool row and its length on axis 0."""

    pools: tuple[np.ndarray, ...]
    idx: np.ndarray  # int64[C, F]
    length: np.ndarray  # int64[C, F] (0 for scalar fields)


def _content_key(value: Any) -> tuple[Any, ...]:
    if isinstance(value, np.ndarray):
        return ("a", value.dtype.str, value.shape, np.ascontiguousarray(value).tobytes())
    return ("s", type(value).__name__, value)


def _stack(values: list[Any], field: str) -> np.ndarray:
    """One array with a leading axis over distinct values; ragged axis 0 is zero-padded."""
    if not isinstance(values[0], np.ndarray):
        if any(isinstance(v, np.ndarray) for v in values):
            raise TypeError(f"field {field!r} mixes arrays and scalars across configurations")
        arr = np.asarray(values)
        if arr.dtype.kind in "iu":
            return arr.astype(np.int64)
        if arr.dtype.kind == "f":
            return arr.astype(np.float64)
        return arr
    dtypes = {v.dtype for v in values}
    if len(dtypes) != 1:
        raise TypeError(f"field {field!r} has different dtypes across configurations: {dtypes}")
    # Every axis is padded to the largest (unused rows and columns are never read: the kernel
    # reads a leaf's mask or series only for leaves of that kind). An empty array of fewer
    # dimensions is the "none" marker of a field (a program without series-driven leaves).
    ndim = max(v.ndim for v in values)
    shaped = []
    for v in values:
        if v.ndim != ndim:
            if v.size:
                raise ValueError(f"field {field!r} has different dimensions across configurations")
            v = v.reshape((0,) * ndim)
        shaped.append(v)
    if len(shaped) == 1:  # one distinct value (a target path, a cost table): a view, no copy
        return np.ascontiguousarray(shaped[0])[None]
    if len({v.shape for v in shaped}) == 1:
        return np.stack(shaped)
    shape = tuple(max(v.shape[k] for v in shaped) for k in range(ndim))
    out = np.zeros((len(shaped), *shape), dtype=shaped[0].dtype)
    for u, v in enumerate(shaped):
        out[(u, *(slice(0, k) for k in v.shape))] = v  # type: ignore[index]
    return out


def pool(records: Sequence[tuple[Any, ...]], fields: Sequence[str]) -> Pooled:
    """Pool ``records`` (one tuple per configuration, same fields) field by field.

    Records that are one object (a compiled component shared by many configurations) are pooled
    once: the work is then per distinct record, not per configuration and field."""
    ids = [id(r) for r in records]
    distinct = {i: r for i, r in zip(ids, records, strict=True)}
    if len(distinct) < len(records):
        slot = {i: j for j, i in enumerate(distinct)}
        rows = np.array([slot[i] for i in ids], np.int64)
        once = _pool_fields(list(distinct.values()), fields)
        return Pooled(once.pools, once.idx[rows], once.length[rows])
    return _pool_fields(records, fields)


def _pool_fields(records: Sequence[tuple[Any, ...]], fields: Sequence[str]) -> Pooled:
    C, F = len(records), len(fields)
    idx = np.zeros((C, F), np.int64)
    length = np.zeros((C, F), np.int64)
    pools: list[np.ndarray] = []
    for f, (name, column) in enumerate(zip(fields, zip(*records, strict=True), strict=True)):
        ids = [id(v) for v in column]
        objects = {i: v for i, v in zip(ids, column, strict=True)}  # distinct objects, in order
        slot_of: dict[int, int] = {}
        by_content: dict[tuple[Any, ...], int] = {}
        values: list[Any] = []
        compare = len(objects) > 1
        for i, v in objects.items():
            # Small arrays are kept as they come: comparing their contents costs more than
            # storing them again.
            key = _content_key(v) if compare and (not isinstance(v, np.ndarray) or v.nbytes > SMALL) else None
            slot = by_content.get(key) if key is not None else None
            if slot is None:
                slot = len(values)
                values.append(v)
                if key is not None:
                    by_content[key] = slot
            slot_of[i] = slot
        pools.append(_stack(values, name))
        idx[:, f] = [slot_of[i] for i in ids]
        if isinstance(column[0], np.ndarray):
            length[:, f] = [v.shape[0] if v.ndim else 0 for v in column]
    return Pooled(tuple(pools), idx, length)
