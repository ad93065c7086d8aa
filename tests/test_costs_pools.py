"""AMM, gas and spread cost models: exact math against published references, and the kernel."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

import ballast
from ballast.costs import ConstantProductPool, Gas, Proportional, Spread, StableSwapPool, compile_costs
from ballast.costs.kernel import swap_cost, trade_cost
from ballast.costs.pools import uniswap_v2_get_amount_in, uniswap_v2_get_amount_out
from ballast.enums import POOL_CONSTANT_PRODUCT, POOL_STABLESWAP
from ballast.market import Market


def market(T: int = 5, assets: tuple[str, ...] = ("ETH", "BTC", "USDC")) -> Market:
    idx = pd.date_range("2024-01-01", periods=T, freq="D")
    prices = np.column_stack([np.linspace(2000, 3000, T), np.full(T, 60000.0), np.ones(T)])[:, : len(assets)]
    return Market(prices, assets, idx)


@settings(max_examples=300, deadline=None)
@given(r_in=st.integers(10**3, 10**27), r_out=st.integers(10**3, 10**27), frac=st.floats(1e-9, 10.0))
def test_constant_product_equals_uniswap_v2_integer_get_amount_out(r_in: int, r_out: int, frac: float) -> None:
    amount = max(1, int(r_in * frac))
    exact = uniswap_v2_get_amount_out(amount, r_in, r_out)
    pool = ConstantProductPool(float(r_in), float(r_out), fee=0.003)
    out = pool.amount_out(float(amount))
    # The contract floors the exact rational result; the float formula is that result to ~1e-15.
    assert exact <= out * (1 + 1e-12) + 1e-9
    assert out < exact + 1 + 1e-12 * out


@settings(max_examples=200, deadline=None)
@given(r_in=st.integers(10**3, 10**27), r_out=st.integers(10**3, 10**27), frac=st.floats(1e-9, 0.99))
def test_constant_product_amount_in_equals_uniswap_v2_get_amount_in(r_in: int, r_out: int, frac: float) -> None:
    want = max(1, int(r_out * frac))
    if want >= r_out:
        return
    exact = uniswap_v2_get_amount_in(want, r_in, r_out)
    need = ConstantProductPool(float(r_in), float(r_out)).amount_in(float(want))
    assert need * (1 - 1e-12) <= exact <= need * (1 + 1e-12) + 1.0 + 1e-9


def test_uniswap_reference_by_hand() -> None:
    # 1 ETH into 100 ETH / 200,000 USDC: 997·200000/(100·1000 + 997) = 1974.31...
    assert uniswap_v2_get_amount_out(10**18, 100 * 10**18, 200_000 * 10**6) == 997 * 200_000 * 10**24 // (
        100 * 10**21 + 997 * 10**18
    )
    assert ConstantProductPool(100, 200_000).amount_out(1.0) == pytest.approx(1974.3160687, rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(depth=st.floats(1e3, 1e10), frac=st.floats(1e-6, 0.9), fee=st.floats(0, 0.01))
def test_kernel_constant_product_is_the_pool_formula(depth: float, frac: float, fee: float) -> None:
    pool = ConstantProductPool(depth, depth, fee=fee)
    a = frac * depth
    assert swap_cost(POOL_CONSTANT_PRODUCT, depth, fee, 0.0, -a) == pytest.approx(
        a - pool.amount_out(a), rel=1e-9, abs=1e-9 * a
    )
    assert swap_cost(POOL_CONSTANT_PRODUCT, depth, fee, 0.0, a) == pytest.approx(
        pool.amount_in(a) - a, rel=1e-9, abs=1e-9 * a
    )
    # a purchase never costs less than a sale of the same value
    assert swap_cost(POOL_CONSTANT_PRODUCT, depth, fee, 0.0, a) >= swap_cost(POOL_CONSTANT_PRODUCT, depth, fee, 0.0, -a)


def whitepaper_residual(x: np.ndarray, A: float, D: float) -> float:
    """Relative residual of A·nⁿ·Σx + D = A·D·nⁿ + D^(n+1)/(nⁿ·Πx)."""
    n = len(x)
    lhs = A * n**n * x.sum() + D
    rhs = A * D * n**n + D ** (n + 1) / (n**n * np.prod(x))
    return abs(lhs - rhs) / rhs


balances = st.lists(st.floats(1e3, 1e9), min_size=2, max_size=4).filter(lambda b: max(b) / min(b) < 50)


@settings(max_examples=200, deadline=None)
@given(x=balances, A=st.floats(1.0, 5000.0))
def test_stableswap_d_satisfies_the_whitepaper_invariant(x: list[float], A: float) -> None:
    bal = np.array(x)
    pool = StableSwapPool(bal, A=A)
    D = pool.invariant()
    assert whitepaper_residual(bal, A, D) <= 1e-12
    # An independent root finder on the same equation agrees.
    n = len(bal)

    def f(d: float) -> float:
        return A * n**n * bal.sum() + d - A * d * n**n - d ** (n + 1) / (n**n * np.prod(bal))

    ref = brentq(f, 1e-9 * bal.sum(), bal.sum() * (1 + 1e-6), xtol=1e-300, rtol=4 * np.finfo(float).eps)
    assert D == pytest.approx(ref, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(x=balances, A=st.floats(1.0, 5000.0), frac=st.floats(1e-6, 0.5), i=st.integers(0, 3), j=st.integers(0, 3))
def test_stableswap_get_y_conserves_the_invariant(x: list[float], A: float, frac: float, i: int, j: int) -> None:
    bal = np.array(x)
    i, j = i % len(bal), j % len(bal)
    if i == j:
        j = (i + 1) % len(bal)
    pool = StableSwapPool(bal, A=A, fee=0.0)
    D = pool.invariant()
    new = bal.copy()
    new[i] += frac * bal[i]
    new[j] = pool.get_y(j, new, D)
    assert 0 < new[j] < bal[j]
    assert whitepaper_residual(new, A, D) <= 1e-12
    assert pool.invariant(new) == pytest.approx(D, rel=1e-12)
    assert pool.amount_out(i, j, frac * bal[i]) == pytest.approx(bal[j] - new[j], rel=1e-12)


def test_stableswap_between_constant_sum_and_constant_product() -> None:
    depth, a = 1e7, 1e6
    cp = swap_cost(POOL_CONSTANT_PRODUCT, depth, 0.0, 0.0, -a)
    ss = [swap_cost(POOL_STABLESWAP, depth, 0.0, A, -a) for A in (0.01, 10.0, 1000.0)]
    assert ss[0] == pytest.approx(cp, rel=0.05)  # tiny A: nearly constant product
    assert ss[0] > ss[1] > ss[2] > 0
    assert ss[2] < 1e-4 * a  # large A: nearly constant sum
    # The kernel's two-coin pool equals the Python pool's exchange on balanced balances.
    pool = StableSwapPool([depth, depth], A=100.0, fee=0.0004)
    assert swap_cost(POOL_STABLESWAP, depth, 0.0004, 100.0, -a) == pytest.approx(
        a - pool.amount_out(0, 1, a), rel=1e-12
    )


def test_gas_follows_the_native_asset_price_and_hops() -> None:
    m = market()
    arrays = compile_costs(Gas(150_000, 30.0, "ETH", extra_units_per_hop=50_000, hops={"BTC": 3}), m)
    eth = m.prices[:, 0]
    np.testing.assert_allclose(arrays.fixed, 150_000 * 30e-9 * eth, rtol=1e-15)
    np.testing.assert_allclose(arrays.fixed_asset[:, 1], 2 * 50_000 * 30e-9 * eth, rtol=1e-15)
    assert not arrays.fixed_asset[:, [0, 2]].any()
    assert trade_cost(arrays, 1, 4, 1000.0) == pytest.approx((150_000 + 100_000) * 30e-9 * 3000.0, rel=1e-12)
    with pytest.raises(KeyError, match="native asset 'MATIC' is not among the prices"):
        compile_costs(Gas(150_000, 30.0, "MATIC"), m)
    with pytest.raises(ValueError, match="hops"):
        Gas(hops={"BTC": 0})


def test_gas_price_as_a_series_needs_every_date() -> None:
    m = market()
    series = pd.Series([10.0, 20.0], index=pd.to_datetime(["2024-01-01", "2024-01-03"]))
    arrays = compile_costs(Gas(100_000, series, "ETH"), m)
    np.testing.assert_allclose(arrays.fixed / (1e5 * 1e-9 * m.prices[:, 0]), [10, 10, 20, 20, 20])
    late = pd.Series([10.0], index=pd.to_datetime(["2024-01-02"]))
    with pytest.raises(ValueError, match="no value at 2024-01-01"):
        compile_costs(Gas(100_000, late, "ETH"), m)


def test_spread_pool_and_proportional_compose() -> None:
    m = market()
    model = (
        Proportional(10, per_asset={"BTC": 5})
        + Spread(4)
        + ConstantProductPool(depth={"ETH": 1e6, "BTC": 2e6}, fee=0.003, max_slippage=None)
    )
    arrays = compile_costs(model, m)
    np.testing.assert_allclose(arrays.prop, [12e-4, 7e-4, 12e-4])
    assert arrays.pool_kind.tolist() == [POOL_CONSTANT_PRODUCT, POOL_CONSTANT_PRODUCT, 0]
    np.testing.assert_allclose(arrays.pool_depth[:, 1], 2e6)
    # a sale of 10,000 of ETH: fees + exact pool output
    a = 1e4
    expected = 12e-4 * a + a - ConstantProductPool(1e6, 1e6, fee=0.003).amount_out(a)
    assert trade_cost(arrays, 0, 0, -a) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="already trades through another pool"):
        compile_costs(ConstantProductPool(depth=1e6) + StableSwapPool(depth=1e6, assets=["USDC"]), m)
    with pytest.raises(KeyError, match="unknown asset"):
        compile_costs(StableSwapPool(depth=1e6, assets=["DAI"]), m)
    with pytest.raises(ValueError, match="needs the pool depth"):
        compile_costs(ConstantProductPool(), m)


def test_large_swaps_are_sliced_continuously() -> None:
    m = market()
    arrays = compile_costs(ConstantProductPool(depth=1e6, fee=0.003, max_slippage=0.01) + Gas(150_000, 30.0, "ETH"), m)
    size = arrays.pool_slice[0] * 1e6
    assert ConstantProductPool(1e6, 1e6, fee=0.0).amount_in(size) / size - 1 == pytest.approx(0.01, rel=1e-9)
    gas = arrays.fixed[0]
    one = swap_cost(POOL_CONSTANT_PRODUCT, 1e6, 0.003, 0.0, size)
    assert trade_cost(arrays, 0, 0, 5 * size) == pytest.approx(5 * one + 5 * gas, rel=1e-12)
    for k in (1, 2, 7):  # no jump at a slice boundary
        below = trade_cost(arrays, 0, 0, k * size * (1 - 1e-12))
        above = trade_cost(arrays, 0, 0, k * size * (1 + 1e-12))
        assert above == pytest.approx(below, rel=1e-9)
    # bigger than the whole pool is still a finite (sliced) cost
    assert math.isfinite(trade_cost(arrays, 0, 0, 3e6))


def test_depth_follows_price_and_series_depth() -> None:
    m = market()
    arrays = compile_costs(ConstantProductPool(depth=1e6, assets=["ETH"], depth_follows_price=True), m)
    np.testing.assert_allclose(arrays.pool_depth[:, 0], 1e6 * m.prices[:, 0] / m.prices[0, 0])
    depth = pd.Series(np.arange(1, 6) * 1e6, index=m.index)
    arrays = compile_costs(ConstantProductPool(depth=depth, assets=["BTC"]), m)
    np.testing.assert_allclose(arrays.pool_depth[:, 1], depth.to_numpy())
    with pytest.raises(ValueError, match="must have one value per period"):
        compile_costs(ConstantProductPool(depth=np.ones(3), assets=["BTC"]), m)


def test_engine_pays_pool_and_gas_costs_self_financing(crypto: pd.DataFrame) -> None:
    costs = ConstantProductPool(depth=5e6) + Gas(150_000, 30.0, "ETH")
    r = ballast.backtest(
        crypto,
        target="BTC=0.4,ETH=0.3,USDT=0.3",
        rebalance="monthly",
        costs=costs,
        cash="USDT",
        capital=1e7,
        assets=["BTC", "ETH", "USDT"],
    )
    first = r.trades[r.trades.time == r.equity.index[0]]
    assert r.equity.iloc[0] + first.cost.sum() == pytest.approx(1e7, rel=1e-13)
    assert r.trades.cost.sum() == pytest.approx(r.metrics["total_costs"], rel=1e-12)
    np.testing.assert_allclose(r.weights.iloc[0].to_numpy(), [0.4, 0.3, 0.3], atol=1e-14)
    py = ballast.backtest(
        crypto,
        target="BTC=0.4,ETH=0.3,USDT=0.3",
        rebalance="monthly",
        costs=costs,
        cash="USDT",
        capital=1e7,
        assets=["BTC", "ETH", "USDT"],
        engine="python",
    )
    np.testing.assert_array_equal(r.equity.to_numpy(), py.equity.to_numpy())
