"""A concentrated-liquidity position in the backtest: exposure in the weights, fees, resets, metrics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ballast
from ballast import Strategy
from ballast.costs import Proportional
from ballast.costs.pools import ConstantProductPool, Gas
from ballast.positions import uniswap_v3 as v3
from ballast.positions.provision import AprFees, LiquidityProvision, VolumeFees
from ballast.positions.ranges import CharmStyle, FixedWidth, QuantileRange, VolatilityScaled
from ballast.positions.resets import ResetRule
from ballast.targets import Fixed
from ballast.triggers import Band, Never

PAIR = ("ETH", "USDC")


def eth(prices: list[float] | np.ndarray) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(prices), freq="D")
    return pd.DataFrame({"ETH": np.asarray(prices, dtype=float)}, index=index)


def strategy(lp: LiquidityProvision, *, trigger: object = None, costs: object = None) -> Strategy:
    return Strategy(
        target=Fixed({"ETH": 0.5, "USDC": 0.5}),
        trigger=trigger or Never(),  # type: ignore[arg-type]
        costs=costs or Proportional(0),  # type: ignore[arg-type]
        cash="USDC",
        liquidity=lp,
    )


def gbm_path(seed: int, n: int = 300, sigma: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 2000.0 * np.exp(np.concatenate([[0.0], np.cumsum(rng.normal(-0.5 * sigma**2, sigma, n - 1))]))


def test_fees_on_a_hand_built_bar_series_follow_volume_fee_and_share() -> None:
    """volume × fee × L/(L_pool + L) on the bars whose close is inside the range, zero outside."""
    path = [2000.0, 2050.0, 2500.0, 2600.0, 1990.0, 1500.0, 2010.0]
    volume = np.array([0.0, 1e7, 2e7, 3e7, 4e7, 5e7, 6e7])
    tvl = 5e7
    lp = LiquidityProvision(
        PAIR,
        3000,
        share=0.5,
        policy=FixedWidth(pct=0.1),
        rule=ResetRule(out_of_range=False),
        fees=VolumeFees(volume, tvl),
    )
    r = ballast.backtest(eth(path), strategy(lp))
    book = r.liquidity
    lower, upper = book.lower.iloc[0], book.upper.iloc[0]
    assert lower <= 1800.0 and upper >= 2200.0 and lower > 1790.0 and upper < 2215.0  # ±10 %, snapped to 60 ticks
    L = v3.liquidity_for_value(0.5 * 1e6, 2000.0, lower, upper)  # no costs: half of the capital deposited
    p = np.asarray(path)
    pool = tvl / (2 * np.sqrt(p))
    inside = (p >= lower) & (p < upper)
    expected = np.where(inside, volume * 0.003 * L / (pool + L), 0.0)
    expected[0] = 0.0
    np.testing.assert_allclose(book.fees.to_numpy(), expected, rtol=1e-12)
    assert list(inside[1:]) == [True, False, False, True, False, True]
    assert r.metrics["lp_fees"] == pytest.approx(expected.sum(), rel=1e-12)
    assert r.metrics["lp_time_in_range"] == pytest.approx(3 / 6)
    assert r.metrics["lp_resets"] == 0


def test_the_positions_tokens_count_in_the_weights_and_the_band_sees_them() -> None:
    """Price up inside the range: the position sells ETH, so the ETH weight falls below holding's."""
    path = np.linspace(2000.0, 2180.0, 10)
    lp = LiquidityProvision(PAIR, 500, share=1.0, policy=FixedWidth(pct=0.1), rule=ResetRule(out_of_range=False))
    r = ballast.backtest(eth(path), strategy(lp))
    x, y = r.liquidity.token0.iloc[-1], r.liquidity.token1.iloc[-1]
    assert r.weights.ETH.iloc[-1] == pytest.approx(x * path[-1] / (x * path[-1] + y), rel=1e-12)
    assert r.weights.ETH.iloc[-1] < r.baseline.weights.ETH.iloc[-1] - 0.05
    # a band on ETH fires on the position's real exposure, though ETH rose
    banded = ballast.backtest(eth(path), strategy(lp, trigger=Band(0.05)))
    assert banded.metrics["n_rebalances"] >= 1
    assert "band: ETH" in banded.rebalances.reason.iloc[1]
    pre = banded.pre_trade_weights.ETH.iloc[int(np.searchsorted(r.market.index, banded.rebalances.time.iloc[1]))]
    assert pre < 0.45


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    pct=st.floats(0.02, 0.5),
    gas=st.floats(0.0, 500.0),
    fee=st.sampled_from([0.0005, 0.003, 0.01]),
    share=st.floats(0.1, 1.0),
)
def test_a_reset_conserves_value_up_to_the_costed_swap_and_gas(
    seed: int, pct: float, gas: float, fee: float, share: float
) -> None:
    """Every close: value = the previous holdings at today's prices − LVR + fees − swap cost − gas."""
    path = gbm_path(seed)
    lp = LiquidityProvision(
        PAIR,
        3000,
        share=share,
        policy=FixedWidth(pct=pct),
        fees=AprFees(0.2),
        reset_gas=gas,
        rule=ResetRule(min_tick_move=500),
    )
    costs = ConstantProductPool(depth=5e6, fee=fee) + Gas(units_per_swap=100_000, gas_price_gwei=20)
    r = ballast.backtest(eth(path), strategy(lp, costs=costs))
    book = r.liquidity
    units = r.raw.weights * r.raw.equity[:, None] / r.market.prices
    cash = r.raw.equity - (units * r.market.prices).sum(axis=1)
    carried = (units[:-1] * r.market.prices[1:]).sum(axis=1) + cash[:-1]
    expected = (
        carried
        - book.lvr.to_numpy()[1:]
        + book.fees.to_numpy()[1:]
        - book.swap_cost.to_numpy()[1:]
        - book.gas.to_numpy()[1:]
    )
    np.testing.assert_allclose(r.raw.equity[2:], expected[1:], rtol=1e-10)
    if share == 1.0 and r.metrics["lp_resets"] > 0:  # nothing free: every reset swaps
        assert (book.swap_cost[book.reset].iloc[1:] > 0).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), pct=st.floats(0.01, 0.9), share=st.floats(0.05, 1.0))
def test_impermanent_loss_is_never_negative_without_fees_and_resets(seed: int, pct: float, share: float) -> None:
    path = gbm_path(seed, sigma=0.08)
    lp = LiquidityProvision(PAIR, 500, share=share, policy=FixedWidth(pct=pct), rule=ResetRule(out_of_range=False))
    r = ballast.backtest(eth(path), strategy(lp))
    il = r.liquidity.impermanent_loss.to_numpy()
    assert (il >= -1e-9 * r.strategy.capital).all()
    assert r.metrics["lp_impermanent_loss"] == pytest.approx(il[-1], rel=1e-12, abs=1e-6)
    # Not compared with the baseline: buy-and-hold keeps the target mix from the first close, while
    # the position's deposit (second close) swaps to the range's token ratio, so either may end
    # ahead (seed 4719, pct 0.5, share 1: the position by 0.2 %). Holding the deposit is the bound.


def test_lvr_in_the_walk_matches_the_pure_function() -> None:
    path = gbm_path(7, n=200)
    lp = LiquidityProvision(PAIR, 3000, share=1.0, policy=FixedWidth(pct=0.3), rule=ResetRule(out_of_range=False))
    r = ballast.backtest(eth(path), strategy(lp))
    lower, upper = r.liquidity.lower.iloc[0], r.liquidity.upper.iloc[0]
    L = v3.liquidity_for_value(1e6, 2000.0, lower, upper)
    np.testing.assert_allclose(
        r.liquidity.lvr.to_numpy()[1:], v3.lvr_steps(L, path, lower, upper), rtol=1e-9, atol=1e-6
    )


@pytest.mark.parametrize(
    "policy",
    [
        FixedWidth(ticks=2000),
        VolatilityScaled(k=2.0, window=20, horizon=5),
        CharmStyle(1200, 600),
        QuantileRange(30, 5),
    ],
)
def test_every_policy_resets_when_out_of_range_and_stays_in_range_after(policy: object) -> None:
    path = gbm_path(3, n=250, sigma=0.06)
    lp = LiquidityProvision(PAIR, 3000, share=0.8, policy=policy, fees=AprFees(0.1), reset_gas=20.0)  # type: ignore[arg-type]
    r = ballast.backtest(eth(path), strategy(lp))
    book = r.liquidity
    assert r.metrics["lp_resets"] >= 2
    after = book[book.reset]
    assert ((after.lower <= path[book.reset.to_numpy()]) & (path[book.reset.to_numpy()] < after.upper)).all()
    assert r.metrics["lp_gas"] == pytest.approx(20.0 * book.reset.sum())
    if isinstance(policy, CharmStyle):
        assert r.metrics["lp_swap_costs"] == 0.0  # the surplus goes to the limit range, no swap


def test_guards_hold_resets_back() -> None:
    path = gbm_path(5, n=200, sigma=0.06)
    base = dict(pair=PAIR, fee_tier=3000, share=0.8, policy=FixedWidth(pct=0.05), fees=AprFees(0.1), reset_gas=50.0)
    free = ballast.backtest(eth(path), strategy(LiquidityProvision(**base)))  # type: ignore[arg-type]
    cooled = ballast.backtest(eth(path), strategy(LiquidityProvision(**base, rule=ResetRule(cooldown=10))))  # type: ignore[arg-type]
    gated = ballast.backtest(eth(path), strategy(LiquidityProvision(**base, rule=ResetRule(gas_max_days=0.001))))  # type: ignore[arg-type]
    assert cooled.metrics["lp_resets"] < free.metrics["lp_resets"]
    resets = np.flatnonzero(cooled.liquidity.reset.to_numpy())
    assert (np.diff(resets) >= 10).all()
    assert gated.metrics["lp_resets"] == 0  # 50 of gas is more than a thousandth of a day of fees (~9k a day)
    assert (gated.liquidity.reason_bits & 32).any()


def test_python_engine_gives_the_same_run() -> None:
    path = gbm_path(11, n=150)
    lp = LiquidityProvision(PAIR, 3000, share=0.7, policy=FixedWidth(pct=0.05), fees=AprFees(0.1), reset_gas=5.0)
    s = strategy(lp, trigger=Band(0.1), costs=ConstantProductPool(depth=1e7, fee=0.003))
    a = ballast.backtest(eth(path), s)
    b = ballast.backtest(eth(path), s, engine="python")
    np.testing.assert_array_equal(a.raw.equity, b.raw.equity)
    np.testing.assert_array_equal(a.raw.liquidity.closes, b.raw.liquidity.closes)


def test_a_plain_strategy_compiles_none_of_the_liquidity_step() -> None:
    from numba.core import types

    from ballast.engine.liquidity_kernel import _liquidity_close_typed
    from ballast.engine.walk import simulate

    ballast.backtest(eth(gbm_path(1, n=30)), Strategy(target=Fixed({"ETH": 0.5, "USDC": 0.5}), cash="USDC"))
    assert any(all(isinstance(a, types.Omitted) for a in sig[10:]) for sig in simulate.signatures)
    step = _liquidity_close_typed(
        *[types.float64] * 5, types.Omitted(None), types.Omitted(None), types.float64, types.int64
    )
    assert step(None, 1.5, None, 0, None, None, None, None, 3) == 3


def test_bad_input_names_the_field() -> None:
    from ballast.errors import InputError

    with pytest.raises(InputError, match="share must be a fraction"):
        LiquidityProvision(PAIR, share=1.5)
    with pytest.raises(InputError, match="fee_tier must be one of"):
        LiquidityProvision(PAIR, fee_tier=123)
    with pytest.raises(InputError, match="pair asset 'SOL' is not among the prices"):
        ballast.backtest(eth([1.0, 2.0]), strategy(LiquidityProvision(("SOL", "USDC"))))
    with pytest.raises(InputError, match="TWAP guard needs both"):
        ResetRule(twap_max_ticks=100)
    with pytest.raises(InputError, match="min_tick_move must be a whole number"):
        ResetRule(min_tick_move=-3)
    with pytest.raises(InputError, match="concentrated_lp: apr must be ≥ 0"):
        ballast.backtest(eth([1.0, 2.0]), strategy(LiquidityProvision(PAIR, fees=AprFees(-0.1))))
    with pytest.raises(InputError, match="volume must have one value per period"):
        ballast.backtest(eth([1.0, 2.0]), strategy(LiquidityProvision(PAIR, fees=VolumeFees(np.ones(3), 1e6))))
    assert math.isfinite(LiquidityProvision(PAIR).share)


def test_the_twap_guard_does_not_reset_into_a_one_close_spike() -> None:
    path = [2000.0] * 10 + [3000.0] + [2000.0] * 10
    base = dict(pair=PAIR, fee_tier=3000, share=0.8, policy=FixedWidth(pct=0.05), fees=AprFees(0.1))
    plain = ballast.backtest(eth(path), strategy(LiquidityProvision(**base)))  # type: ignore[arg-type]
    rule = ResetRule(twap_window=5, twap_max_ticks=100)
    guarded = ballast.backtest(eth(path), strategy(LiquidityProvision(**base, rule=rule)))  # type: ignore[arg-type]
    assert plain.liquidity.reset.iloc[10] and plain.metrics["lp_resets"] == 2  # up to the spike, and back
    assert guarded.metrics["lp_resets"] == 0
    assert guarded.liquidity.reason_bits.iloc[10] == 1 | 16  # out of range, held: spot far from TWAP


def test_a_sweep_of_a_strategy_with_a_position_equals_its_single_backtests() -> None:
    df = eth(gbm_path(21, n=150, sigma=0.04))
    lp = LiquidityProvision(PAIR, 3000, share=0.7, policy=FixedWidth(pct=0.1), fees=AprFees(0.1), reset_gas=10.0)
    table = ballast.sweep(df, target="ETH=0.5,USDC=0.5", cash="USDC", band=[0.05, 0.1], liquidity=lp)
    for band, wealth in zip(table["band"], table["final_wealth"], strict=True):
        single = ballast.backtest(df, target="ETH=0.5,USDC=0.5", cash="USDC", band=band, liquidity=lp)
        assert wealth == single.metrics["final_wealth"]
