"""Stack many configurations' NamedTuples into per-field pools the batched kernel indexes.

A band-width sweep has 1,000 distinct band widths but one target path, one calendar mask and one
cost table: storing each field once per *distinct value* (by identity, then by content) keeps a
chunk's memory at what actually differs, whatever fields other modules add to the NamedTuples.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np


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
    if len({v.shape[1:] for v in values}) != 1:
        raise ValueError(f"field {field!r} differs in shape beyond its first axis across configurations")
    first = max(v.shape[0] for v in values) if values[0].ndim else 0
    out = np.zeros((len(values), first, *values[0].shape[1:]), dtype=values[0].dtype)
    for u, v in enumerate(values):
        out[u, : v.shape[0]] = v
    return out


def pool(records: Sequence[tuple[Any, ...]], fields: Sequence[str]) -> Pooled:
    """Pool ``records`` (one tuple per configuration, same fields) field by field."""
    C, F = len(records), len(fields)
    idx = np.zeros((C, F), np.int64)
    length = np.zeros((C, F), np.int64)
    pools: list[np.ndarray] = []
    for f, name in enumerate(fields):
        by_id: dict[int, int] = {}
        by_content: dict[tuple[Any, ...], int] = {}
        values: list[Any] = []
        for c, rec in enumerate(records):
            v = rec[f]
            slot = by_id.get(id(v))
            if slot is None:
                key = _content_key(v)
                slot = by_content.get(key)
                if slot is None:
                    slot = len(values)
                    values.append(v)
                    by_content[key] = slot
                by_id[id(v)] = slot
            idx[c, f] = slot
            if isinstance(v, np.ndarray) and v.ndim:
                length[c, f] = v.shape[0]
        pools.append(_stack(values, name))
    return Pooled(tuple(pools), idx, length)
