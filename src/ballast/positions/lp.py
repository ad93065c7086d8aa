"""A concentrated-liquidity range (`ConcentratedLP`) and a position in it (`LPPosition`).

`ConcentratedLP(pair, lower, upper, fee_tier)` is the range: ``pair`` = (token0, token1), prices
in token1 per token0 (ETH/USDC: USDC per ETH), snapped outward to the fee tier's tick spacing so
the range is never narrower than asked. A position is the range plus its liquidity L;
`delta(price)` gives its token0 exposure and gamma, the numbers a hedge needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ballast.errors import InputError
from ballast.positions import uniswap_v3 as v3


class Delta(NamedTuple):
    """Exposure of a position at a price: ``token0`` = dV/dP (units of token0), ``gamma`` = d²V/dP²."""

    token0: float | np.ndarray
    gamma: float | np.ndarray


def _price(field_name: str, value: object) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    v = float(value) if ok else math.nan  # type: ignore[arg-type]
    if not (math.isfinite(v) and v > 0.0):
        raise InputError(f"concentrated_lp: {field_name} must be a positive price, got {value!r}")
    lo, hi = v3.price_at_tick(v3.MIN_TICK), v3.price_at_tick(v3.MAX_TICK)
    if not lo <= v < hi:
        raise InputError(
            f"concentrated_lp: {field_name} {v:g} is outside the valid ticks "
            f"(prices {lo:.3g} to {hi:.3g}, ticks {v3.MIN_TICK} to {v3.MAX_TICK})"
        )
    return v


def pair_of(value: object) -> tuple[str, str]:
    """Two distinct asset names (token0, token1)."""
    if isinstance(value, str) or not isinstance(value, (tuple, list)) or len(value) != 2:
        raise InputError(f"concentrated_lp: pair must be two assets (token0, token1), got {value!r}")
    a, b = (str(v) for v in value)
    if not a or not b or a == b:
        raise InputError(f"concentrated_lp: pair must name two different assets, got {value!r}")
    return a, b


@dataclass(frozen=True)
class ConcentratedLP:
    """A Uniswap-v3 range on ``pair`` from price ``lower`` to ``upper`` in the pool of ``fee_tier``."""

    pair: tuple[str, str]
    lower: float
    upper: float
    fee_tier: int = 3000
    tick_lower: int = field(init=False)
    tick_upper: int = field(init=False)

    def __post_init__(self) -> None:
        pair = pair_of(self.pair)
        spacing = v3.tick_spacing(self.fee_tier)
        lower, upper = _price("lower", self.lower), _price("upper", self.upper)
        if lower >= upper:
            raise InputError(f"concentrated_lp: lower ({lower:g}) must be below upper ({upper:g})")
        lo_min, hi_max = v3.usable_ticks(spacing)
        t_lo = max(v3.snap_down(v3.tick_at_price(lower), spacing), lo_min)
        t_hi = min(v3.snap_up(v3.tick_at_price(upper), spacing), hi_max)
        if t_hi <= t_lo:  # the whole range inside one spacing at the edge of the valid ticks
            t_hi = t_lo + spacing
        object.__setattr__(self, "pair", pair)
        object.__setattr__(self, "tick_lower", t_lo)
        object.__setattr__(self, "tick_upper", t_hi)
        object.__setattr__(self, "lower", v3.price_at_tick(float(t_lo)))
        object.__setattr__(self, "upper", v3.price_at_tick(float(t_hi)))

    @classmethod
    def full_range(cls, pair: tuple[str, str], fee_tier: int = 3000) -> ConcentratedLP:
        """The whole price axis the tier allows: a constant-product (Uniswap v2) position."""
        lo, hi = v3.usable_ticks(v3.tick_spacing(fee_tier))
        return cls(pair, v3.price_at_tick(float(lo)), v3.price_at_tick(float(hi)), fee_tier)

    @classmethod
    def around(
        cls,
        pair: tuple[str, str],
        price: float,
        *,
        pct: float | None = None,
        ticks: int | None = None,
        fee_tier: int = 3000,
    ) -> ConcentratedLP:
        """A range centred on ``price``: ±``pct`` of the price, or ±``ticks`` ticks."""
        p = _price("price", price)
        if (pct is None) == (ticks is None):
            raise InputError("concentrated_lp: give the width as pct or as ticks (one of them)")
        if pct is not None:
            if not (isinstance(pct, (int, float)) and 0.0 < pct < 1.0):
                raise InputError(f"concentrated_lp: pct must be a fraction in (0, 1), got {pct!r}")
            return cls(pair, p * (1.0 - pct), p * (1.0 + pct), fee_tier)
        if not (isinstance(ticks, int) and not isinstance(ticks, bool) and ticks > 0):
            raise InputError(f"concentrated_lp: ticks must be a positive whole number, got {ticks!r}")
        return cls(pair, p * v3.price_at_tick(float(-ticks)), p * v3.price_at_tick(float(ticks)), fee_tier)

    @property
    def fee(self) -> float:
        return v3.fee_rate(self.fee_tier)

    def liquidity(self, deposit: float, price: float) -> float:
        """The liquidity a deposit worth ``deposit`` (token1) buys at ``price``."""
        if not (math.isfinite(deposit) and deposit >= 0.0):
            raise InputError(f"concentrated_lp: deposit must be a value ≥ 0, got {deposit!r}")
        return float(v3.liquidity_for_value(deposit, _price("price", price), self.lower, self.upper))

    def deposit(self, value: float, price: float) -> LPPosition:
        """A position worth ``value`` (token1) at ``price``."""
        return LPPosition(self, self.liquidity(value, price))

    def amounts(self, price: float | np.ndarray, liquidity: float = 1.0) -> tuple[float | np.ndarray, ...]:
        return v3.amounts(liquidity, price, self.lower, self.upper)

    def value(self, price: float | np.ndarray, liquidity: float = 1.0) -> float | np.ndarray:
        return v3.value(liquidity, price, self.lower, self.upper)

    def delta(self, price: float | np.ndarray, liquidity: float = 1.0) -> Delta:
        """dV/dP is the token0 held (the envelope property of the AMM's curve); gamma its slope."""
        x, _ = v3.amounts(liquidity, price, self.lower, self.upper)
        return Delta(x, v3.gamma(liquidity, price, self.lower, self.upper))

    def in_range(self, price: float | np.ndarray) -> bool | np.ndarray:
        return v3.in_range(price, self.lower, self.upper)

    def describe(self) -> str:
        a, b = self.pair
        return (
            f"{a}/{b} {self.fee * 100:g} % range {self.lower:,.6g}–{self.upper:,.6g} "
            f"(ticks {self.tick_lower}…{self.tick_upper})"
        )


@dataclass(frozen=True)
class LPPosition:
    """Liquidity ``liquidity`` on the range ``range``."""

    range: ConcentratedLP
    liquidity: float

    def amounts(self, price: float | np.ndarray) -> tuple[float | np.ndarray, ...]:
        return self.range.amounts(price, self.liquidity)

    def value(self, price: float | np.ndarray) -> float | np.ndarray:
        return self.range.value(price, self.liquidity)

    def delta(self, price: float | np.ndarray) -> Delta:
        return self.range.delta(price, self.liquidity)

    def impermanent_loss(self, entry: float, price: float | np.ndarray) -> float | np.ndarray:
        """Holding the tokens deposited at ``entry`` minus the position at ``price`` (fees excluded)."""
        return v3.impermanent_loss(self.liquidity, entry, price, self.range.lower, self.range.upper)
