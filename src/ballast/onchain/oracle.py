"""Token amounts in integer units and the minimum output a swap must return, from oracle prices.

The minimum is ``amount in × oracle price in / oracle price out × (1 − max slippage)``, computed
in exact rational arithmetic and rounded *down* to the output token's smallest unit, so the bound
is never looser than the slippage allows by more than that one unit and never tighter. The prices
come from the oracle observation the plan was made on (a Chainlink-style feed with the web3
source), never from the pool the swap goes through: a pool's spot price is what a sandwich moves.
"""

from __future__ import annotations

import math
from fractions import Fraction

from ballast.errors import InputError


def _exact(x: float, what: str) -> Fraction:
    if isinstance(x, bool) or not math.isfinite(x) or x <= 0:
        raise InputError(f"{what} must be a positive number, got {x!r}")
    return Fraction(repr(float(x)))  # the decimal the float prints as, not its binary expansion


def to_units(quantity: float, decimals: int, what: str = "quantity") -> int:
    """``quantity`` tokens in the token's smallest unit, rounded down (never more than planned)."""
    return int(math.floor(_exact(quantity, what) * 10**decimals))


def from_answer(answer: int, decimals: int) -> float:
    """A Chainlink-style answer (an integer with ``decimals`` implied decimals) as a price."""
    return float(Fraction(answer, 10**decimals))


def min_out(
    amount_in: int, decimals_in: int, price_in: float, decimals_out: int, price_out: float, max_slippage: float
) -> int:
    """The least output, in the output token's units, that honours ``max_slippage`` against the
    oracle prices (both in the same currency)."""
    if not 0 <= max_slippage < 1:
        raise InputError(f"max slippage must be in [0, 1), got {max_slippage!r}")
    value = (
        Fraction(amount_in, 10**decimals_in)
        * _exact(price_in, "oracle price in")
        / _exact(price_out, "oracle price out")
    )
    return int(math.floor(value * (1 - Fraction(repr(float(max_slippage)))) * 10**decimals_out))
