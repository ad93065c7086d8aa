"""Providing liquidity over time: a range policy, a reset rule and a fee source, as kernel arrays.

`LiquidityProvision` is what a strategy carries: deposit ``share`` of the portfolio into a
``pair`` pool of ``fee_tier`` at the first close after forming, place the range by ``policy``,
reset it by ``rule`` (paying ``reset_gas`` in the portfolio's currency for burn + mint, and the
pool costs of the swap), and earn ``fees`` while in range. `encode(market)` turns it into the
`LiquidityArrays` the compiled step reads (engine/liquidity_kernel.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple, TypeAlias

import numpy as np
import pandas as pd

from ballast.costs.pools import _series
from ballast.errors import InputError
from ballast.market import Market
from ballast.positions import uniswap_v3 as v3
from ballast.positions.lp import pair_of
from ballast.positions.ranges import FixedWidth, RangePolicy
from ballast.positions.resets import ResetRule, twap_log_prices
from ballast.yields.base import period_years

Series: TypeAlias = float | pd.Series | np.ndarray

FEES_VOLUME = 0  # volume × fee × L/(L_pool + L)
FEES_APR = 1  # apr × years × 2·L·√P
# LiquidityArrays.params
P_SHARE, P_FEE, P_GAS, P_SPACING, P_LIMIT_TICKS, P_FEE_MODE, P_PER_DAY = range(7)
N_PARAMS = 7


class LiquidityArrays(NamedTuple):
    """What the compiled step reads. ``pair``: the asset indices of token0 and token1."""

    pair: np.ndarray  # int64[2]
    params: np.ndarray  # float64[N_PARAMS]
    rule: np.ndarray  # float64[N_RULE] (positions/resets.py)
    down: np.ndarray  # float64[T]: log distance of a new range's lower edge below the price
    up: np.ndarray  # float64[T]: ... and of its upper edge above it
    twap: np.ndarray  # float64[T]: log TWAP of the pool price
    flow: np.ndarray  # float64[T]: the bar's volume (currency) or the fee APR
    pool: np.ndarray  # float64[T]: the pool's other in-range liquidity L (volume fees only)
    years: np.ndarray  # float64[T]: length of the bar (t−1, t] in years


@dataclass(frozen=True)
class VolumeFees:
    """Fees from the pool's volume per bar (currency) and its TVL (currency; the pool's own
    liquidity L_pool = TVL / (2·√P) in token1, as if full range)."""

    volume: Series
    tvl: Series

    def describe(self) -> str:
        return "fees from volume × fee tier × share of in-range liquidity"


@dataclass(frozen=True)
class AprFees:
    """Fees from the pool's fee APR on its TVL (a number or a series), earned while in range."""

    apr: Series

    def describe(self) -> str:
        a = self.apr
        return f"fees at {float(a):.2%} APR of an equal full-range position" if np.ndim(a) == 0 else "fee APR series"


@dataclass(frozen=True)
class LiquidityProvision:
    """A concentrated-liquidity position managed over time (see the module docstring)."""

    pair: tuple[str, str]
    fee_tier: int = 3000
    share: float = 0.5
    policy: RangePolicy = field(default_factory=lambda: FixedWidth(pct=0.1))
    rule: ResetRule = field(default_factory=ResetRule)
    fees: VolumeFees | AprFees = field(default_factory=lambda: AprFees(0.0))
    reset_gas: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "pair", pair_of(self.pair))
        v3.tick_spacing(self.fee_tier)
        if not (isinstance(self.share, (int, float)) and 0.0 < self.share <= 1.0):
            raise InputError(
                f"concentrated_lp: share must be a fraction of the portfolio in (0, 1], got {self.share!r}"
            )
        if not (isinstance(self.reset_gas, (int, float)) and math.isfinite(self.reset_gas) and self.reset_gas >= 0):
            raise InputError(
                f"concentrated_lp: reset_gas must be a cost ≥ 0 in the portfolio's currency, got {self.reset_gas!r}"
            )
        if not isinstance(self.policy, RangePolicy):
            raise InputError(f"concentrated_lp: policy must be a range policy, got {self.policy!r}")
        if not isinstance(self.rule, ResetRule):
            raise InputError(f"concentrated_lp: rule must be a ResetRule, got {self.rule!r}")
        if not isinstance(self.fees, (VolumeFees, AprFees)):
            raise InputError(f"concentrated_lp: fees must be VolumeFees or AprFees, got {self.fees!r}")

    def pool_prices(self, market: Market) -> np.ndarray:
        """token1 per token0 at each close."""
        for a in self.pair:
            if a not in market.assets:
                raise InputError(
                    f"concentrated_lp: pair asset {a!r} is not among the prices ({', '.join(market.assets)})"
                )
        i0, i1 = (market.asset_index(a) for a in self.pair)
        return market.prices[:, i0] / market.prices[:, i1]

    def encode(self, market: Market) -> LiquidityArrays:
        pool_p = self.pool_prices(market)
        down, up = self.policy.widths(pool_p)
        params = np.zeros(N_PARAMS)
        params[P_SHARE] = self.share
        params[P_FEE] = v3.fee_rate(self.fee_tier)
        params[P_GAS] = self.reset_gas
        params[P_SPACING] = v3.tick_spacing(self.fee_tier)
        params[P_LIMIT_TICKS] = self.policy.limit_ticks
        params[P_PER_DAY] = market.periods_per_year / 365.0
        who = "concentrated_lp"
        if isinstance(self.fees, VolumeFees):
            params[P_FEE_MODE] = FEES_VOLUME
            flow = _per_period(who, "volume", self.fees.volume, market, allow_zero=True)
            tvl = _per_period(who, "tvl", self.fees.tvl, market)
            p1 = market.prices[:, market.asset_index(self.pair[1])]
            pool = tvl / (2.0 * np.sqrt(pool_p) * p1)
        else:
            params[P_FEE_MODE] = FEES_APR
            flow = _per_period(who, "apr", self.fees.apr, market, allow_zero=True)
            pool = np.zeros(market.n_periods)
        i0, i1 = (market.asset_index(a) for a in self.pair)
        return LiquidityArrays(
            np.array([i0, i1], np.int64),
            params,
            self.rule.encode(),
            down,
            up,
            twap_log_prices(pool_p, self.rule.twap_window),
            flow,
            pool,
            period_years(market, 365.0),
        )

    def describe(self) -> str:
        a, b = self.pair
        return (
            f"{a}/{b} {self.fee_tier / 1e4:g} % LP, {self.share:.0%} of the portfolio; range {self.policy.describe()}; "
            f"reset {self.rule.describe()}; {self.fees.describe()}"
        )


def _per_period(who: str, what: str, value: Series, market: Market, allow_zero: bool = False) -> np.ndarray:
    """One value per period (costs/pools.py's reader), its errors as InputError."""
    try:
        return _series(who, what, value, market, allow_zero=allow_zero)
    except ValueError as exc:
        raise InputError(str(exc)) from None
