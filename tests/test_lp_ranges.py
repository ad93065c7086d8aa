"""Range policies and reset rules on hand-made inputs (pure Python, no backtest)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ballast.positions import resets
from ballast.positions import uniswap_v3 as v3
from ballast.positions.ranges import CharmStyle, FixedWidth, QuantileRange, VolatilityScaled
from ballast.positions.resets import ResetRule, decide, reason_text, twap_log_prices

TICK = v3.LOG_TICK_BASE
PRICES = 2000.0 * np.exp(np.cumsum(np.random.default_rng(4).normal(0, 0.04, 120)))


def test_fixed_width_in_pct_and_ticks() -> None:
    down, up = FixedWidth(pct=0.1).widths(PRICES)
    assert PRICES[5] * math.exp(-down[5]) == pytest.approx(0.9 * PRICES[5]) and math.exp(up[5]) == pytest.approx(1.1)
    lo, hi = FixedWidth(ticks=600).bounds(PRICES)
    assert hi / lo == pytest.approx(1.0001**1200)


def test_volatility_scaled_is_k_sigma_root_h_of_the_trailing_window() -> None:
    policy = VolatilityScaled(k=1.5, window=20, horizon=9, min_pct=0.001)
    down, up = policy.widths(PRICES)
    t = 80
    r = np.diff(np.log(PRICES[t - 20 : t + 1]))
    assert up[t] == down[t] == pytest.approx(1.5 * r.std(ddof=1) * 3.0, rel=1e-12)
    assert down[0] == pytest.approx(math.log1p(0.001))  # no history yet: the floor
    # no look-ahead: the widths at t do not change when later prices do
    changed = PRICES.copy()
    changed[t + 1 :] *= 3.0
    assert policy.widths(changed)[0][t] == down[t]


def test_quantile_range_uses_quantiles_of_h_period_returns() -> None:
    policy = QuantileRange(window=30, horizon=5, lower_q=0.1, upper_q=0.9, min_pct=1e-6)
    down, up = policy.widths(PRICES)
    t = 100
    r = np.log(PRICES[t - 29 : t + 1] / PRICES[t - 34 : t - 4])
    assert down[t] == pytest.approx(-np.quantile(r, 0.1)) and up[t] == pytest.approx(np.quantile(r, 0.9))


def test_charm_base_width_and_limit() -> None:
    policy = CharmStyle(base_ticks=3600, limit=1200)
    down, up = policy.widths(PRICES)
    assert down[0] == up[0] == pytest.approx(3600 * TICK) and policy.limit_ticks == 1200


def test_reset_triggers_and_guards() -> None:
    lo, hi = math.log(1800.0), math.log(2200.0)
    inside, outside = math.log(2000.0), math.log(2300.0)
    rule = ResetRule().encode()
    assert decide(rule, inside, lo, hi, 5, inside, 0.0, 1.0, TICK) == 0
    assert decide(rule, outside, lo, hi, 5, outside, 0.0, 1.0, TICK) == resets.FIRED_OUT_OF_RANGE
    assert decide(rule, hi, lo, hi, 5, hi, 0.0, 1.0, TICK) == resets.FIRED_OUT_OF_RANGE  # upper tick is outside
    moved = ResetRule(out_of_range=False, min_tick_move=500).encode()
    centre = 0.5 * (lo + hi)
    assert decide(moved, centre + 499 * TICK, lo, hi, 5, 0.0, 0.0, 1.0, TICK) == 0
    assert decide(moved, centre + 500.5 * TICK, lo, hi, 5, centre, 0.0, 1.0, TICK) == resets.FIRED_TICK_MOVE
    timed = ResetRule(out_of_range=False, every=7).encode()
    assert decide(timed, inside, lo, hi, 6, inside, 0.0, 1.0, TICK) == 0
    assert decide(timed, inside, lo, hi, 7, inside, 0.0, 1.0, TICK) == resets.FIRED_ELAPSED
    guarded = ResetRule(cooldown=3, twap_window=5, twap_max_ticks=100, gas_max_days=2.0).encode()
    bits = decide(guarded, outside, lo, hi, 2, outside - 150 * TICK, 10.0, 4.0, TICK)
    assert bits == resets.FIRED_OUT_OF_RANGE | resets.VETO_COOLDOWN | resets.VETO_TWAP | resets.VETO_GAS
    assert not resets.resets(bits)
    assert reason_text(bits) == "out of range, held: cooldown, held: spot far from TWAP, held: gas above the fee gate"
    ok = decide(guarded, outside, lo, hi, 3, outside - 99 * TICK, 8.0, 4.0, TICK)
    assert ok == resets.FIRED_OUT_OF_RANGE and resets.resets(ok)


def test_twap_is_the_mean_log_price_of_the_window() -> None:
    tw = twap_log_prices(PRICES, 4)
    assert tw[10] == pytest.approx(np.log(PRICES[7:11]).mean())
    assert tw[1] == pytest.approx(np.log(PRICES[:2]).mean())  # a short history: what exists
