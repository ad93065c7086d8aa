"""On-chain costs: AMM pools (constant product, StableSwap), gas, and the bid-ask spread.

Each is a `CostModel`: exact swap math for direct use, plus ``contribute`` for backtests, which
describes the pool by its depth in the portfolio's currency (a number, a time series, or one per
asset) and lets the compiled ``trade_cost`` price every trade. See costs/kernel.py for the value
conventions (signed values, slicing of large swaps).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

import numpy as np
import pandas as pd

from ballast.costs.base import CostArrays, CostModel, per_asset_vector
from ballast.enums import POOL_CONSTANT_PRODUCT, POOL_STABLESWAP
from ballast.market import Market

Depth: TypeAlias = float | pd.Series | np.ndarray | Mapping[str, float | pd.Series | np.ndarray]


def _positive(who: str, name: str, value: float) -> float:
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{who}: {name} must be a positive number, got {value!r}")
    return value


def _fraction(who: str, name: str, value: float) -> float:
    value = float(value)
    if not (np.isfinite(value) and 0 <= value < 1):
        raise ValueError(f"{who}: {name} must be in [0, 1), got {value!r}")
    return value


def _series(
    who: str, what: str, value: float | pd.Series | np.ndarray, market: Market, allow_zero: bool = False
) -> np.ndarray:
    """One positive (or, with ``allow_zero``, non-negative) value per period from a number, a
    length-T array or a date-indexed Series."""
    T = market.n_periods
    if isinstance(value, pd.Series):
        if isinstance(market.index, pd.DatetimeIndex):
            s = value.copy()
            s.index = pd.DatetimeIndex(pd.to_datetime(s.index))
            s = s.sort_index().reindex(market.index, method="ffill")
        else:
            s = value.reindex(market.index)
        arr = s.to_numpy(dtype=np.float64)
        missing = np.flatnonzero(~np.isfinite(arr))
        if missing.size:
            raise ValueError(
                f"{who}: {what} has no value at {market.index[missing[0]]} (the series starts {value.index.min()})"
            )
    elif np.ndim(value) == 0:
        arr = np.full(T, float(value))
    else:
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != (T,):
            raise ValueError(f"{who}: {what} must have one value per period ({T}), got shape {arr.shape}")
    bad = np.flatnonzero(~(np.isfinite(arr) & ((arr >= 0) if allow_zero else (arr > 0))))
    if bad.size:
        kind = "≥ 0" if allow_zero else "positive"
        raise ValueError(f"{who}: {what} must be {kind}, got {arr[bad[0]]!r} at {market.index[bad[0]]}")
    return arr


def _assets(who: str, assets: Sequence[str] | None, market: Market) -> list[int]:
    if assets is None:
        return list(range(market.n_assets))
    unknown = [a for a in assets if a not in market.assets]
    if unknown:
        raise KeyError(
            f"{who}: unknown asset(s) {', '.join(map(repr, unknown))}; the prices have: {', '.join(market.assets)}"
        )
    return [market.assets.index(a) for a in assets]


def slice_fraction(kind: int, fee: float, amp: float, max_slippage: float | None) -> float:
    """Largest swap, as a fraction of the depth, whose price impact (fee excluded) stays within
    ``max_slippage`` on a buy (the costlier side). 0 means no slicing."""
    from ballast.costs.kernel import swap_cost

    if max_slippage is None:
        return 0.0
    lo, hi = 0.0, 0.999
    for _ in range(100):
        m = 0.5 * (lo + hi)
        if swap_cost(kind, 1.0, 0.0, amp, m) / m <= max_slippage:
            lo = m
        else:
            hi = m
    return lo


def _depth_text(depth: Depth | None) -> str:
    if depth is None:
        return "unset"
    if isinstance(depth, Mapping):
        return "per asset"
    return f"{float(depth):,.0f}" if np.ndim(depth) == 0 else "time series"  # type: ignore[arg-type,unused-ignore]


class _Pool(CostModel):
    """What both pool kinds share: which assets trade through them, depth, slicing."""

    kind = 0
    who = "pool"

    def __init__(
        self,
        fee: float,
        depth: Depth | None,
        assets: Sequence[str] | None,
        max_slippage: float | None,
        depth_follows_price: bool,
    ) -> None:
        self.fee = _fraction(self.who, "fee", fee)
        self.depth = depth
        self.assets = None if assets is None else [str(a) for a in assets]
        self.max_slippage = None if max_slippage is None else _positive(self.who, "max_slippage", max_slippage)
        self.depth_follows_price = bool(depth_follows_price)

    def amp(self) -> float:
        return 0.0

    def _depth_of(self, i: int, market: Market) -> np.ndarray:
        depth = self.depth
        name = market.assets[i]
        if isinstance(depth, Mapping):
            if name not in depth:
                raise KeyError(f"{self.who}: depth has no entry for asset {name!r}")
            depth = depth[name]
        if depth is None:
            raise ValueError(
                f"{self.who}: a backtest needs the pool depth in the portfolio currency, "
                "e.g. depth=20e6 (USD on each side of the pool)"
            )
        arr = _series(self.who, f"depth of {name}", depth, market)
        if self.depth_follows_price:
            arr = arr * market.prices[:, i] / market.prices[0, i]
        return arr

    def contribute(self, arrays: CostArrays, market: Market) -> CostArrays:
        if isinstance(self.depth, Mapping):
            unknown = [a for a in self.depth if a not in market.assets]
            if unknown:
                raise KeyError(f"{self.who}: depth names unknown asset(s) {', '.join(map(repr, unknown))}")
        idx = _assets(
            self.who,
            self.assets if self.assets is not None or not isinstance(self.depth, Mapping) else list(self.depth),
            market,
        )
        kind, depth = arrays.pool_kind.copy(), arrays.pool_depth.copy()
        fee, amp, sl = arrays.pool_fee.copy(), arrays.pool_amp.copy(), arrays.pool_slice.copy()
        frac = slice_fraction(self.kind, self.fee, self.amp(), self.max_slippage)
        for i in idx:
            if kind[i] != 0:
                raise ValueError(f"{self.who}: asset {market.assets[i]!r} already trades through another pool")
            kind[i] = self.kind
            depth[:, i] = self._depth_of(i, market)
            fee[i] = self.fee
            amp[i] = self.amp()
            sl[i] = frac
        return arrays._replace(pool_kind=kind, pool_depth=depth, pool_fee=fee, pool_amp=amp, pool_slice=sl)


class ConstantProductPool(_Pool):
    """Uniswap-v2 style pool: ``out = in·(1 − fee)·R_out / (R_in + in·(1 − fee))``.

    ``reserve_in``/``reserve_out`` give the exact swap math (`amount_out`, `amount_in`). In a
    backtest the pool is described by ``depth``: the value on each side in the portfolio's currency
    (a number, a date-indexed Series, a length-T array, or a mapping asset → any of those); with
    ``depth_follows_price`` the asset side holds a fixed number of units, so depth moves with the
    price. Without ``depth``, ``reserve_in`` is read as the quote-side reserve in currency.
    ``assets`` (default: all) trade through such a pool against the quote; swaps whose price impact
    would exceed ``max_slippage`` are split into slices (see costs/kernel.py).
    """

    kind = POOL_CONSTANT_PRODUCT
    who = "ConstantProductPool"

    def __init__(
        self,
        reserve_in: float | None = None,
        reserve_out: float | None = None,
        fee: float = 0.003,
        *,
        depth: Depth | None = None,
        assets: Sequence[str] | None = None,
        max_slippage: float | None = 0.01,
        depth_follows_price: bool = False,
    ) -> None:
        self.reserve_in = None if reserve_in is None else _positive(self.who, "reserve_in", reserve_in)
        self.reserve_out = None if reserve_out is None else _positive(self.who, "reserve_out", reserve_out)
        if depth is None and self.reserve_in is not None:
            depth = self.reserve_in
        super().__init__(fee, depth, assets, max_slippage, depth_follows_price)

    def _reserves(self) -> tuple[float, float]:
        if self.reserve_in is None or self.reserve_out is None:
            raise ValueError("ConstantProductPool: swap math needs reserve_in and reserve_out")
        return self.reserve_in, self.reserve_out

    def amount_out(self, amount_in: float) -> float:
        """Output of swapping ``amount_in`` (exact float formula)."""
        r_in, r_out = self._reserves()
        x = amount_in * (1.0 - self.fee)
        return x * r_out / (r_in + x)

    def amount_in(self, amount_out: float) -> float:
        """Input needed to receive ``amount_out`` (infinite at or beyond the whole reserve)."""
        r_in, r_out = self._reserves()
        if amount_out >= r_out:
            return float("inf")
        return r_in * amount_out / ((r_out - amount_out) * (1.0 - self.fee))

    def price_impact(self, amount_in: float) -> float:
        """Execution price worse than spot, fee excluded: x/(R_in + x) with x the input after fee."""
        r_in, _ = self._reserves()
        x = amount_in * (1.0 - self.fee)
        return x / (r_in + x)

    def describe(self) -> str:
        return f"constant-product pool (fee {self.fee:g}, depth {_depth_text(self.depth)})"


def uniswap_v2_get_amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountOut, integer arithmetic (0.3 % fee as 997/1000), as published."""
    if amount_in <= 0 or reserve_in <= 0 or reserve_out <= 0:
        raise ValueError("UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT or INSUFFICIENT_LIQUIDITY")
    amount_in_with_fee = amount_in * 997
    numerator = amount_in_with_fee * reserve_out
    denominator = reserve_in * 1000 + amount_in_with_fee
    return numerator // denominator


def uniswap_v2_get_amount_in(amount_out: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountIn, integer arithmetic (rounds up by adding 1)."""
    if amount_out <= 0 or reserve_in <= 0 or reserve_out <= amount_out:
        raise ValueError("UniswapV2Library: INSUFFICIENT_OUTPUT_AMOUNT or INSUFFICIENT_LIQUIDITY")
    numerator = reserve_in * amount_out * 1000
    denominator = (reserve_out - amount_out) * 997
    return numerator // denominator + 1


class StableSwapPool(_Pool):
    """Curve StableSwap pool for pegged pairs (whitepaper invariant, A as in the whitepaper:
    Curve's contracts store A·n^(n−1)).

    ``balances`` give the exact math (`invariant`, `get_y`, `amount_out`); in a backtest the pool
    is the two-coin balanced pool quote ↔ asset with ``depth`` per side (default: mean balance).
    """

    kind = POOL_STABLESWAP
    who = "StableSwapPool"

    def __init__(
        self,
        balances: Sequence[float] | None = None,
        A: float = 100.0,
        fee: float = 0.0004,
        *,
        depth: Depth | None = None,
        assets: Sequence[str] | None = None,
        max_slippage: float | None = 0.01,
        depth_follows_price: bool = False,
    ) -> None:
        self.A = _positive(self.who, "A", A)
        self.balances = (
            None
            if balances is None
            else np.array([_positive(self.who, f"balances[{k}]", b) for k, b in enumerate(balances)], dtype=np.float64)
        )
        if self.balances is not None and len(self.balances) < 2:
            raise ValueError("StableSwapPool: a pool needs at least 2 balances")
        if depth is None and self.balances is not None:
            depth = float(self.balances.mean())
        super().__init__(fee, depth, assets, max_slippage, depth_follows_price)

    def amp(self) -> float:
        return self.A

    def _balances(self) -> np.ndarray:
        if self.balances is None:
            raise ValueError("StableSwapPool: swap math needs balances")
        return self.balances

    def invariant(self, balances: Sequence[float] | None = None) -> float:
        """D for ``balances`` (default: the pool's)."""
        from ballast.costs.kernel import stableswap_d

        x = self._balances() if balances is None else np.asarray(balances, dtype=np.float64)
        return float(stableswap_d(x, self.A))

    def get_y(self, i: int, balances: Sequence[float] | np.ndarray, d: float | None = None) -> float:
        """Balance of coin ``i`` keeping invariant ``d`` (default: that of the pool) given the others."""
        from ballast.costs.kernel import stableswap_y

        x = np.asarray(balances, dtype=np.float64)
        return float(stableswap_y(x, int(i), self.invariant() if d is None else float(d), self.A))

    def amount_out(self, i: int, j: int, dx: float) -> float:
        """Coin ``j`` received for ``dx`` of coin ``i`` (fee on the output, as Curve charges it)."""
        x = self._balances().copy()
        d = self.invariant()
        x[i] += dx
        dy = x[j] - self.get_y(j, x, d)
        return dy * (1.0 - self.fee)

    def describe(self) -> str:
        return f"stableswap pool (A {self.A:g}, fee {self.fee:g}, depth {_depth_text(self.depth)})"


class Gas(CostModel):
    """Gas per swap, paid in the chain's native asset and converted at its price at t.

    Each trade costs ``units_per_swap`` gas plus ``extra_units_per_hop`` for every routing hop
    beyond the first (``hops`` per asset, default 1: asset ↔ quote). ``gas_price_gwei`` is a number
    or a time series (1 gwei = 1e-9 of the native asset per gas unit).
    """

    def __init__(
        self,
        units_per_swap: float = 150_000,
        gas_price_gwei: float | pd.Series | np.ndarray = 30.0,
        native_asset: str = "ETH",
        extra_units_per_hop: float = 50_000,
        hops: Mapping[str, int] | None = None,
    ) -> None:
        self.units_per_swap = _positive("Gas", "units_per_swap", units_per_swap)
        self.extra_units_per_hop = float(extra_units_per_hop)
        if not (np.isfinite(self.extra_units_per_hop) and self.extra_units_per_hop >= 0):
            raise ValueError(f"Gas: extra_units_per_hop must be a non-negative number, got {extra_units_per_hop!r}")
        if np.ndim(gas_price_gwei) == 0:
            _positive("Gas", "gas_price_gwei", gas_price_gwei)  # type: ignore[arg-type]
        self.gas_price_gwei = gas_price_gwei
        self.native_asset = str(native_asset)
        self.hops = {}
        for k, v in (hops or {}).items():
            if int(v) != v or v < 1:
                raise ValueError(f"Gas: hops[{k}] must be a whole number ≥ 1, got {v!r}")
            self.hops[str(k)] = int(v)

    def per_unit(self, market: Market) -> np.ndarray:
        """Currency per gas unit at each period."""
        if self.native_asset not in market.assets:
            raise KeyError(
                f"Gas: native asset {self.native_asset!r} is not among the prices "
                f"({', '.join(market.assets)}); add it to the data's assets"
            )
        gwei = _series("Gas", "gas_price_gwei", self.gas_price_gwei, market)
        return gwei * 1e-9 * market.prices[:, market.asset_index(self.native_asset)]

    def contribute(self, arrays: CostArrays, market: Market) -> CostArrays:
        unit = self.per_unit(market)
        hops = per_asset_vector(1.0, {k: float(v) for k, v in self.hops.items()}, market, "Gas hops")
        extra = np.outer(unit, (hops - 1.0) * self.extra_units_per_hop)
        return arrays._replace(fixed=arrays.fixed + self.units_per_swap * unit, fixed_asset=arrays.fixed_asset + extra)

    def describe(self) -> str:
        g = f"{self.gas_price_gwei:g}" if np.ndim(self.gas_price_gwei) == 0 else "series"  # type: ignore[str-format,unused-ignore]
        return f"gas {self.units_per_swap:g} units @ {g} gwei {self.native_asset}"


class Spread(CostModel):
    """Bid-ask spread of ``bps`` basis points (quoted, full width): each trade pays half of it."""

    def __init__(self, bps: float, per_asset: Mapping[str, float] | None = None) -> None:
        from ballast.costs.simple import _non_negative

        self.bps = _non_negative("Spread", "bps", bps)
        self.per_asset = {str(k): _non_negative("Spread", f"per_asset[{k}]", v) for k, v in (per_asset or {}).items()}

    def contribute(self, arrays: CostArrays, market: Market) -> CostArrays:
        bps = per_asset_vector(self.bps, self.per_asset, market, "Spread")
        return arrays._replace(prop=arrays.prop + 0.5 * bps * 1e-4)

    def describe(self) -> str:
        return f"spread {self.bps:g} bps"
