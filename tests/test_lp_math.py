"""Concentrated liquidity: the whitepaper's closed forms, ticks, full range = constant product, LVR, fees."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ballast.costs.pools import ConstantProductPool
from ballast.errors import InputError
from ballast.positions import uniswap_v3 as v3
from ballast.positions.lp import ConcentratedLP, LPPosition

PAIR = ("ETH", "USDC")


def test_published_examples_of_liquidity_math() -> None:
    """Elsts, "Liquidity Math in Uniswap v3" (2021), examples 1-3 (printed to two decimals)."""
    # 1: 2 ETH at P = 2000 on [1500, 2500] need 5076.10 USDC.
    lx = 2.0 / v3.amounts(1.0, 2000.0, 1500.0, 2500.0)[0]
    assert v3.amounts(lx, 2000.0, 1500.0, 2500.0)[1] == pytest.approx(5076.10, abs=0.005)
    # 2: 2 ETH and 4000 USDC at P = 2000 with the top at 3000: the bottom is 1333.33.
    sp, sb = math.sqrt(2000.0), math.sqrt(3000.0)
    lx = 2.0 * sp * sb / (sb - sp)
    pa = (sp - 4000.0 / lx) ** 2
    assert pa == pytest.approx(1333.33, abs=0.005)
    assert v3.liquidity_for_amounts(2.0, 4000.0, 2000.0, pa, 3000.0) == pytest.approx(lx, rel=1e-12)
    # 3: that position (the paper carries the bottom as 1333.33) at P = 2500: 0.85 ETH and 6572.89 USDC.
    L = v3.liquidity_for_amounts(2.0, 4000.0, 2000.0, 1333.33, 3000.0)
    x, y = v3.amounts(L, 2500.0, 1333.33, 3000.0)
    assert x == pytest.approx(0.85, abs=0.005)
    assert y == pytest.approx(6572.89, abs=0.005)


@pytest.mark.parametrize("price", [900.0, 1000.0, 1000.0 * (1 + 1e-12), 1500.0, 2000.0 * (1 - 1e-12), 2000.0, 3000.0])
def test_closed_forms_at_and_across_the_edges(price: float) -> None:
    L, pa, pb = 1234.5, 1000.0, 2000.0
    x, y = v3.amounts(L, price, pa, pb)
    v = v3.value(L, price, pa, pb)
    if price <= pa:  # all token0: x = L(1/√pa − 1/√pb), value P·x
        assert x == pytest.approx(L * (1 / math.sqrt(pa) - 1 / math.sqrt(pb)), rel=1e-14)
        assert y == 0.0
        assert v == pytest.approx(price * x, rel=1e-14)
    elif price >= pb:  # all token1: y = L(√pb − √pa)
        assert x == 0.0
        assert y == pytest.approx(L * (math.sqrt(pb) - math.sqrt(pa)), rel=1e-14)
        assert v == y
    else:  # whitepaper 6.29/6.30 and V = L(2√P − √pa − P/√pb)
        assert x == pytest.approx(L * (1 / math.sqrt(price) - 1 / math.sqrt(pb)), rel=1e-12, abs=1e-9)
        assert y == pytest.approx(L * (math.sqrt(price) - math.sqrt(pa)), rel=1e-12, abs=1e-9)
        assert v == pytest.approx(L * (2 * math.sqrt(price) - math.sqrt(pa) - price / math.sqrt(pb)), rel=1e-13)
    # continuous across each edge
    for edge in (pa, pb):
        lo, hi = v3.value(L, edge * (1 - 1e-12), pa, pb), v3.value(L, edge * (1 + 1e-12), pa, pb)
        assert hi == pytest.approx(lo, rel=1e-10)


def test_liquidity_from_a_deposit_round_trips_and_delta_is_the_token0_held() -> None:
    lp = ConcentratedLP(PAIR, 1500.0, 2500.0, 3000)
    pos = lp.deposit(1_000_000.0, 2000.0)
    assert pos.value(2000.0) == pytest.approx(1_000_000.0, rel=1e-14)
    prices = np.array([1000.0, 1499.0, 1800.0, 2000.0, 2400.0, 3000.0])
    d = pos.delta(prices)
    h = 1e-4
    numeric = (pos.value(prices * (1 + h)) - pos.value(prices * (1 - h))) / (2 * h * prices)
    np.testing.assert_allclose(d.token0, numeric, rtol=1e-6)
    assert d.token0[-1] == 0.0 and d.gamma[0] == 0.0 and d.gamma[-1] == 0.0
    inside = prices[2:4]
    numeric_gamma = (pos.delta(inside * (1 + h)).token0 - pos.delta(inside * (1 - h)).token0) / (2 * h * inside)
    np.testing.assert_allclose(pos.delta(inside).gamma, numeric_gamma, rtol=1e-6)
    assert np.all(pos.delta(inside).gamma < 0)  # a short-gamma position


def test_ticks_snap_outward_to_the_fee_tiers_spacing() -> None:
    assert {k: v3.tick_spacing(k) for k in (100, 500, 3000, 10000)} == {100: 1, 500: 10, 3000: 60, 10000: 200}
    assert v3.tick_at_price(1.0) == 0
    assert v3.tick_at_price(1.0001**7) == 7
    assert v3.tick_at_price(1.0001**7 * (1 - 1e-12)) == 6
    assert v3.tick_at_price(1.0001**-7) == -7
    lp = ConcentratedLP(PAIR, 1500.0, 2500.0, 3000)
    assert lp.tick_lower % 60 == 0 and lp.tick_upper % 60 == 0
    assert lp.lower <= 1500.0 < lp.lower * 1.0001**60
    assert lp.upper >= 2500.0 > lp.upper / 1.0001**60
    assert v3.usable_ticks(60) == (-887220, 887220)
    assert v3.usable_ticks(200) == (-887200, 887200)
    assert ConcentratedLP.around(PAIR, 2000.0, ticks=600, fee_tier=500).tick_upper - ConcentratedLP.around(
        PAIR, 2000.0, ticks=600, fee_tier=500
    ).tick_lower in (1200, 1210, 1220)


def test_full_range_is_a_constant_product_pool() -> None:
    x0, y0 = 1_000.0, 2_000_000.0  # ETH, USDC: P = 2000, k = 2e9
    k, p0 = x0 * y0, y0 / x0
    full = ConcentratedLP.full_range(PAIR, 3000)
    L = math.sqrt(k)
    assert full.value(p0, L) == pytest.approx(2 * math.sqrt(k * p0), rel=1e-12)
    x, y = full.amounts(p0, L)
    assert (x, y) == (pytest.approx(x0, rel=1e-12), pytest.approx(y0, rel=1e-12))
    pool = ConstantProductPool(reserve_in=x0, reserve_out=y0, fee=0.0)  # a trader sells ETH into the pool
    for dx in (1.0, 37.5, 400.0):
        dy = pool.amount_out(dx)
        p1 = (y0 - dy) / (x0 + dx)
        x1, y1 = full.amounts(p1, L)
        assert x1 == pytest.approx(x0 + dx, rel=1e-12)
        assert y1 == pytest.approx(y0 - dy, rel=1e-12)
        assert full.value(p1, L) == pytest.approx(2 * math.sqrt(k * p1), rel=1e-12)


def test_lvr_of_a_full_range_position_converges_to_sigma_squared_v_over_8() -> None:
    """Milionis et al. (2022): LVR per unit time = σ²·V/8 for a constant-product LP, within MC error."""
    rng = np.random.default_rng(20221)
    sigma, years, steps, paths = 0.8, 0.25, 20_000, 40
    dt = years / steps
    r = rng.normal(-0.5 * sigma**2 * dt, sigma * math.sqrt(dt), size=(paths, steps))
    prices = 2000.0 * np.exp(np.concatenate([np.zeros((paths, 1)), np.cumsum(r, axis=1)], axis=1))
    full = ConcentratedLP.full_range(PAIR, 3000)
    L = full.liquidity(1_000_000.0, 2000.0)
    ratios = []
    for path in prices:
        measured = v3.lvr_steps(L, path, full.lower, full.upper).sum()
        predicted = (sigma**2 / 8.0 * full.value(path[:-1], L) * dt).sum()
        ratios.append(measured / predicted)
    ratios_arr = np.array(ratios)
    se = ratios_arr.std(ddof=1) / math.sqrt(paths)
    assert abs(ratios_arr.mean() - 1.0) < 4 * se
    assert se < 0.01  # the check can tell a factor 2 (σ²V/4) apart, many times over


def test_fees_on_a_hand_built_bar_series() -> None:
    volume = np.array([1e6, 2e6, 3e6, 4e6])
    active = np.array([True, False, True, True])
    pool = np.array([9e4, 9e4, 19e4, 4e4])
    fees = v3.volume_fees(volume, 0.003, 1e4, pool, active)
    # volume × fee × L/(L_pool + L): 1e6·0.003·0.1, 0, 3e6·0.003·0.05, 4e6·0.003·0.2
    np.testing.assert_allclose(fees, [300.0, 0.0, 450.0, 2400.0], rtol=1e-14)
    # fee APR: a full-range position of value V earns apr·V (TVL = 2L√P), a narrower one more
    full = ConcentratedLP.full_range(PAIR, 3000)
    L = full.liquidity(1e6, 2500.0)
    assert float(v3.apr_fees(0.2, 1.0, L, 2500.0, True)) == pytest.approx(0.2e6, rel=1e-12)
    narrow = ConcentratedLP.around(PAIR, 2500.0, pct=0.1)
    earned = float(v3.apr_fees(0.2, 1.0, narrow.liquidity(1e6, 2500.0), 2500.0, True))
    assert earned > 5 * 0.2e6
    assert float(v3.apr_fees(0.2, 1.0, L, 2500.0, False)) == 0.0


@settings(max_examples=200, deadline=None)
@given(
    lower=st.floats(10.0, 5_000.0),
    width=st.floats(1.001, 50.0),
    entry=st.floats(1.0, 100_000.0),
    exit_=st.floats(1.0, 100_000.0),
)
def test_impermanent_loss_is_never_negative(lower: float, width: float, entry: float, exit_: float) -> None:
    lp = ConcentratedLP(PAIR, lower, lower * width, 500)
    pos = LPPosition(lp, lp.liquidity(1e6, entry))
    assert pos.impermanent_loss(entry, exit_) >= -1e-9 * 1e6 * max(1.0, exit_ / entry)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lower": 2000.0, "upper": 1500.0}, "lower (2000) must be below upper (1500)"),
        ({"lower": 1500.0, "upper": 1500.0}, "lower (1500) must be below upper"),
        ({"lower": 1e-45, "upper": 1.0}, "lower 1e-45 is outside the valid ticks"),
        ({"lower": 1.0, "upper": 1e40}, "upper 1e+40 is outside the valid ticks"),
        ({"lower": -1.0, "upper": 1.0}, "lower must be a positive price"),
        ({"fee_tier": 2500}, "fee_tier must be one of 100, 500, 3000, 10000"),
        ({"fee_tier": 0.3}, "fee_tier must be one of"),
        ({"pair": ("ETH", "ETH")}, "pair must name two different assets"),
        ({"pair": "ETH/USDC"}, "pair must be two assets"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"pair": PAIR, "lower": 1500.0, "upper": 2500.0, "fee_tier": 3000} | kwargs
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        ConcentratedLP(**args)  # type: ignore[arg-type]
