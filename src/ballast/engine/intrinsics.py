"""Two numba intrinsics the walk needs for speed: borrowed arrays and float bit patterns.

Borrowed arrays: views of the walk's inputs that numba does not reference-count.

numba counts a reference to an array (an atomic add on its owner's counter) whenever it passes
the array to a function or reads it from a tuple, and removes such pairs only inside a function
without raising paths. The walk passes ~20 input arrays down plan → constrain → execute at every
rebalance, so those counts were most of a rebalance's time — and in a sweep, where all
configurations share the pooled arrays, two threads fought over the same counters.

A borrowed view has no owner (a null meminfo), so counting its references is a null check. It is
safe exactly where it is used: on the arguments of a compiled call, which its caller keeps alive
until the call returns. A borrowed view must never be returned or stored beyond that call.
"""

from __future__ import annotations

from typing import Any

from numba import types
from numba.extending import intrinsic, overload


@intrinsic
def borrow(typingctx: Any, arr: types.Type) -> Any:
    """The same array (data, shape, strides) without an owner."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        src = context.make_array(arr)(context, builder, value=args[0])
        dst = context.make_array(arr)(context, builder)
        context.populate_array(
            dst, data=src.data, shape=src.shape, strides=src.strides, itemsize=src.itemsize, meminfo=None, parent=None
        )
        return dst._getvalue()

    return arr(arr), codegen


def borrow_fields(tup):  # noqa: ANN001, ANN201  (numba matches the overload's signature to this)
    """A (named) tuple with every array field borrowed (scalars as they are). Outside compiled
    code there is no reference counting to avoid: the tuple itself."""
    return tup


@overload(borrow_fields, inline="always")
def _borrow_fields(tup):  # noqa: ANN001, ANN202
    if not isinstance(tup, (types.BaseNamedTuple, types.BaseTuple)):
        return None
    parts = ", ".join(
        f"borrow(tup[{i}])" if isinstance(ty, types.Array) else f"tup[{i}]" for i, ty in enumerate(tup.types)
    )
    named = isinstance(tup, types.BaseNamedTuple)
    scope: dict[str, Any] = {"borrow": borrow, "cls": tup.instance_class if named else None}
    body = f"cls({parts})" if named else f"({parts},)"
    exec(f"def impl(tup):\n    return {body}\n", scope)  # noqa: S102  (fields are known types)
    return scope["impl"]


@intrinsic
def float_bits(typingctx: Any, x: types.Type) -> Any:
    """The IEEE-754 bits of a float64 as an int64. For non-negative floats their order is the
    integers' order, and an integer max runs in SIMD lanes where a float max cannot (it must
    honour NaN and −0, which LLVM only drops under fast-math, and that would also reorder sums)."""
    if x != types.float64:
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return types.int64(types.float64), codegen


@intrinsic
def bits_float(typingctx: Any, b: types.Type) -> Any:
    """The float64 whose IEEE-754 bits are the int64 ``b`` (the inverse of `float_bits`)."""
    if b != types.int64:
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen
