"""Uniswap v3 concentrated-liquidity math, from the whitepaper (Adams et al., 2021, section 6).

Prices are token1 per token0 (for ETH/USDC: USDC per ETH) in whole-token units, so a tick is
``log(P) / log(1.0001)`` of the human price (the pool's raw price differs by 10^(dec1 − dec0)).
A position of liquidity L on the range [pa, pb] holds, at price P,

    x = L·(1/√P̄ − 1/√pb)  of token0,   y = L·(√P̄ − √pa)  of token1,   P̄ = clamp(P, pa, pb),

which is the whitepaper's 6.29/6.30 inside the range and the single-token forms outside it. Its
value in token1 is V = P·x + y = L·(2√P − √pa − P/√pb) inside the range.

The functions take floats or numpy arrays (ufuncs only); those the compiled backtest step needs
are ``register_jitable``: plain Python here, compiled inside engine/liquidity_kernel.py — one definition.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

import numpy as np
from numba.extending import register_jitable

from ballast.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])


def jitable(fn: F) -> F:
    """numba's ``register_jitable`` with the function's own type: plain Python when called from
    Python, compiled into the compiled functions that call it."""
    return register_jitable(fn)


Num: TypeAlias = Any  # a float or a numpy array: every function here is made of ufuncs

TICK_BASE = 1.0001
LOG_TICK_BASE = math.log(TICK_BASE)
MIN_TICK = -887272  # TickMath.MIN_TICK: price 1.0001^-887272 ≈ 2.9e-39
MAX_TICK = 887272
# UniswapV3Factory: feeAmountTickSpacing (fee in hundredths of a basis point: 3000 = 0.3 %).
TICK_SPACING = {100: 1, 500: 10, 3000: 60, 10000: 200}


def tick_spacing(fee_tier: object) -> int:
    """The tick spacing of a fee tier; an unknown tier is an error naming the field."""
    if isinstance(fee_tier, bool) or fee_tier not in TICK_SPACING:
        tiers = ", ".join(str(k) for k in TICK_SPACING)
        raise InputError(
            f"concentrated_lp: fee_tier must be one of {tiers} (hundredths of a basis point: 3000 = 0.3 %), "
            f"got {fee_tier!r}"
        )
    return TICK_SPACING[fee_tier]


def fee_rate(fee_tier: int) -> float:
    """The swap fee as a fraction (3000 → 0.003)."""
    tick_spacing(fee_tier)
    return fee_tier * 1e-6


def usable_ticks(spacing: int) -> tuple[int, int]:
    """The lowest and highest ticks a position may use: MIN_TICK/MAX_TICK rounded toward zero to the spacing."""
    return -(-MIN_TICK // spacing) * spacing, (MAX_TICK // spacing) * spacing


def price_at_tick(tick: Num) -> Num:
    return TICK_BASE**tick


def tick_at_price(price: float) -> int:
    """The greatest tick whose price is ≤ ``price`` (TickMath.getTickAtSqrtRatio, in float)."""
    tick = math.floor(math.log(price) / LOG_TICK_BASE)
    if price_at_tick(tick + 1) <= price:  # the logarithm's rounding, either way
        tick += 1
    elif price_at_tick(tick) > price:
        tick -= 1
    return tick


def snap_down(tick: int, spacing: int) -> int:
    return (tick // spacing) * spacing


def snap_up(tick: int, spacing: int) -> int:
    return -((-tick) // spacing) * spacing


@jitable
def amounts(liquidity: Num, price: Num, lower: float, upper: float) -> tuple[Num, Num]:
    """(token0, token1) held by ``liquidity`` on [lower, upper] at ``price``."""
    s = np.minimum(np.maximum(np.sqrt(price), math.sqrt(lower)), math.sqrt(upper))
    return liquidity * (1.0 / s - 1.0 / math.sqrt(upper)), liquidity * (s - math.sqrt(lower))


@jitable
def value(liquidity: Num, price: Num, lower: float, upper: float) -> Num:
    """Value in token1: P·x + y (L·(2√P − √pa − P/√pb) inside the range)."""
    x, y = amounts(liquidity, price, lower, upper)
    return price * x + y


def liquidity_for_value(deposit: Num, price: Num, lower: float, upper: float) -> Num:
    """The liquidity whose value at ``price`` is ``deposit`` (token1), the deposit split as the range needs."""
    return deposit / value(1.0, price, lower, upper)


@jitable
def liquidity_for_amounts(amount0: float, amount1: float, price: float, lower: float, upper: float) -> float:
    """The most liquidity ``amount0`` and ``amount1`` can fund (LiquidityAmounts.getLiquidityForAmounts)."""
    x1, y1 = amounts(1.0, price, lower, upper)
    l0 = amount0 / x1 if x1 > 0.0 else math.inf
    l1 = amount1 / y1 if y1 > 0.0 else math.inf
    return min(l0, l1)


def gamma(liquidity: Num, price: Num, lower: float, upper: float) -> Num:
    """d²V/dP²: −L/(2·P^(3/2)) inside the range, zero outside (the value is linear there)."""
    inside = (price >= lower) & (price < upper)
    return np.where(inside, -0.5 * liquidity / (price * np.sqrt(price)), 0.0)


def in_range(price: Num, lower: float, upper: float) -> Num:
    """Whether the position is active at ``price``: tickLower ≤ tick < tickUpper."""
    return (price >= lower) & (price < upper)


def impermanent_loss(liquidity: float, entry: float, price: Num, lower: float, upper: float) -> Num:
    """Value of holding the deposit's tokens minus the position's value (≥ 0, fees excluded)."""
    x0, y0 = amounts(liquidity, entry, lower, upper)
    return price * x0 + y0 - value(liquidity, price, lower, upper)


def lvr_steps(liquidity: float, prices: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """Loss-versus-rebalancing per step: the rebalancing portfolio's P&L minus the LP's.

    The rebalancing portfolio holds the LP's token0 amount x(Pₜ₋₁) over each step and trades at the
    market price (Milionis et al., 2022); it sums to ∫ σ²P²/2·|x′(P)| dt as the steps shrink.
    """
    x, _ = amounts(liquidity, prices, lower, upper)
    v = value(liquidity, prices, lower, upper)
    return x[:-1] * np.diff(prices) - np.diff(v)


def volume_fees(volume: Num, fee: float, liquidity: Num, pool_liquidity: Num, active: Num) -> Num:
    """Fees of one bar from its volume (demeter's rule): volume × fee × L / (L_pool + L) while in range.

    ``pool_liquidity`` is the pool's other in-range liquidity; the position adds its own.
    """
    share = liquidity / (pool_liquidity + liquidity)
    return np.where(active, volume * fee * share, 0.0)


def apr_fees(apr: Num, years: Num, liquidity: Num, price: Num, active: Num) -> Num:
    """Fees of one bar from the pool's fee APR on its TVL while in range.

    The pool earns apr·TVL a year on liquidity L_pool, as if full range (TVL = 2·L_pool·√P), so
    each unit of in-range liquidity earns apr·2√P a year: a narrower range of the same value has
    more liquidity and earns more, as it would from volume.
    """
    return np.where(active, apr * years * 2.0 * liquidity * np.sqrt(price), 0.0)
