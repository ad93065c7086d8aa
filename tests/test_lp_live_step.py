"""The live position's step (live/liquidity.py) replays the backtest: on the same price path,
close by close from a state kept as JSON (as a ledger keeps it), the same range, tokens, fees,
resets, swap costs, gas and wallet units as `ballast.backtest`'s liquidity book."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ballast
from ballast import Strategy
from ballast.costs import Proportional
from ballast.errors import InputError
from ballast.live.liquidity import LPState, advance, check_live
from ballast.market import Market
from ballast.positions.provision import AprFees, LiquidityProvision, VolumeFees
from ballast.positions.ranges import CharmStyle, FixedWidth, VolatilityScaled
from ballast.positions.resets import ResetRule, reason_text
from ballast.targets import Fixed
from ballast.triggers import Never

PAIR = ("ETH", "USDC")
# inside, up through the upper edge (reset), down through the new lower edge (reset), back
PATH = [2000.0, 2050.0, 2150.0, 2300.0, 2250.0, 1900.0, 1800.0, 2000.0, 2010.0, 1990.0]


def replay(lp: LiquidityProvision, costs: Proportional, path: list[float] = PATH, min_resets: int = 2) -> None:
    frame = pd.DataFrame({"ETH": path}, index=pd.date_range("2024-01-01", periods=len(path), freq="D"))
    strategy = Strategy(
        target=Fixed({"ETH": 0.5, "USDC": 0.5}), trigger=Never(), costs=costs, cash="USDC", liquidity=lp
    )
    r = ballast.backtest(frame, strategy)
    book = r.liquidity
    market = r.market
    assert book.reset.iloc[1:].sum() >= min_resets  # PATH crosses the range both ways
    units = r.weights.iloc[0].to_numpy() * r.equity.iloc[0] / market.prices[0]  # the formation's wallet
    stored = json.dumps(LPState().as_dict())
    swaps = [0]
    for t in range(1, len(path)):
        seen = market.head(t)
        close = advance(lp, LPState.from_dict(json.loads(stored)), seen, costs, units, 0.0)
        stored = json.dumps(close.state.as_dict())
        units = units + np.array([close.units0, close.units1])
        row = book.iloc[t]
        assert close.deposited == (t == 1)
        assert close.reset == bool(row.reset), t
        assert close.in_range == bool(row.in_range), t
        assert close.fees == pytest.approx(row.fees, rel=1e-9, abs=1e-9)
        assert (close.state.lower, close.state.upper) == pytest.approx((row.lower, row.upper), rel=1e-12)
        assert (close.state.token0, close.state.token1) == pytest.approx((row.token0, row.token1), rel=1e-9)
        assert close.value == pytest.approx(row.value, rel=1e-9)
        assert close.gas == pytest.approx(row.gas + (book.gas.iloc[0] if t == 1 else 0.0))
        assert close.swap_cost == pytest.approx(row.swap_cost + (book.swap_cost.iloc[0] if t == 1 else 0.0), abs=1e-9)
        assert tuple(units) == pytest.approx((row.units0, row.units1), rel=1e-9)
        if close.reset:
            assert "out of range" in close.reason
        assert (close.pending is not None) == (close.reset and lp.policy.limit_ticks == 0)
        if close.pending is not None:  # a reset split off: held close + gas + the swap's paper fill = the step
            r, o = close.pending, close.pending.order
            p0 = seen.prices[-1, 0]
            sign, q, fill1 = 0.0, 0.0, 0.0
            if o is not None:
                sign, q = (1.0 if o.side == "buy" else -1.0), o.quantity
                fill1 = -(sign * q * o.ref_price + o.expected_cost) / o.quote_price  # executors.PaperExecutor
                assert (o.asset, o.quote_asset, o.notional) == (*PAIR, pytest.approx(q * o.ref_price))
                assert o.ref_price == p0 and o.expected_cost == r.cost
                swaps[0] += 1
            want = (close.units0, close.units1)
            assert (r.units0 - r.gas0 + sign * q, r.units1 - r.gas1 + fill1) == pytest.approx(want, rel=1e-12)
            assert r.cost == pytest.approx(row.swap_cost, abs=1e-9) and r.gas == pytest.approx(row.gas)
            assert r.gas0 * p0 + r.gas1 == pytest.approx(r.gas)
            held = close.held()
            assert not held.reset and held.state == r.held and r.state == close.state
            assert held.state.resets == close.state.resets - 1 and held.state.fees == close.state.fees
        assert close.reason == reason_text(int(row.reason_bits))
    assert swaps[0] >= (1 if min_resets else 0)  # resets that swap become orders
    final = LPState.from_dict(json.loads(stored))
    assert final.fees == pytest.approx(book.fees.sum(), rel=1e-9)
    assert final.resets == int(book.reset.iloc[1:].sum())  # the first deposit is no reset


def test_a_replay_across_the_range_matches_the_backtest_close_by_close() -> None:
    lp = LiquidityProvision(
        PAIR, 3000, share=0.5, policy=FixedWidth(pct=0.05), rule=ResetRule(), fees=AprFees(0.2), reset_gas=25.0
    )
    replay(lp, Proportional(0.001))


def test_a_volatility_scaled_range_and_volume_fees_replay_too() -> None:
    """The policy looks back on the closes seen so far, as the backtest's does at that close."""
    lp = LiquidityProvision(
        PAIR,
        500,
        share=0.8,
        policy=VolatilityScaled(k=2.0, horizon=3, window=3),
        rule=ResetRule(cooldown=1),
        fees=VolumeFees(2e7, 5e7),
        reset_gas=10.0,
    )
    replay(lp, Proportional(0.003))


def test_the_live_position_refuses_what_it_cannot_run() -> None:
    lp = LiquidityProvision(PAIR, 3000, fees=AprFees(0.1))
    check_live(lp, "paper", PAIR)
    check_live(lp, "propose", PAIR)
    with pytest.raises(InputError, match='executor = "ccxt" cannot hold a Uniswap range.*"paper".*"propose"'):
        check_live(lp, "ccxt", PAIR)
    charm = LiquidityProvision(PAIR, 3000, policy=CharmStyle(base_ticks=1200, limit=600), fees=AprFees(0.1))
    check_live(charm, "paper", PAIR)
    with pytest.raises(InputError, match='policy = "charm".*not proposed'):
        check_live(charm, "propose", PAIR)
    series = LiquidityProvision(PAIR, 3000, fees=AprFees(np.full(5, 0.1)))
    with pytest.raises(InputError, match="fees must be a number"):
        check_live(series, "paper", PAIR)
    with pytest.raises(InputError, match="pair asset 'USDC' has no price"):
        check_live(lp, "paper", ("ETH", "USDT"))
    with pytest.raises(ValueError, match="second close"):
        m = Market(np.array([[2000.0, 1.0]]), PAIR, pd.date_range("2024-01-01", periods=1), 365.0)
        advance(lp, LPState(), m, None, np.zeros(2), 0.0)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    pct=st.floats(0.01, 0.2),
    charm=st.booleans(),
    gas=st.floats(0.0, 200.0),
    fee=st.floats(0.0, 0.01),
)
def test_any_path_replays_the_backtest(seed: int, pct: float, charm: bool, gas: float, fee: float) -> None:
    rng = np.random.default_rng(seed)
    path = 2000.0 * np.exp(np.concatenate([[0.0], np.cumsum(rng.normal(0.0, 0.04, 24))]))
    policy = CharmStyle(base_ticks=int(pct * 10_000), limit=600) if charm else FixedWidth(pct=pct)
    lp = LiquidityProvision(PAIR, 3000, share=0.6, policy=policy, rule=ResetRule(), fees=AprFees(0.3), reset_gas=gas)
    replay(lp, Proportional(fee), list(path), min_resets=0)
