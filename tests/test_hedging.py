"""The hedge's pure domain: Whalley–Wilmott bands, the perp leg, funding, the hedge ratio, and a
seeded Monte Carlo in which the WW band beats a fixed-interval hedge (docs/hedging.md)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ballast.errors import InputError
from ballast.hedging import (
    AbsoluteBand,
    DeltaHedge,
    FullRangeLP,
    Funding,
    Holdings,
    PerpPosition,
    RelativeBand,
    WhalleyWilmott,
    accrue_funding,
    funding_payment,
    rehedge_to_edge,
    rolling_hedge_ratio,
    ww_half_width,
)
from ballast.hedging.study import BandRule, IntervalRule, cost_at_error, frontier, gbm_paths, hedged_pnl, run
from ballast.market import Market


def daily_market(prices: np.ndarray, start: str = "2024-01-01") -> Market:
    idx = pd.date_range(start, periods=len(prices), freq="D")
    return Market.from_frame(pd.DataFrame({"ETH": prices, "USDT": 1.0}, index=idx))


# --- Whalley–Wilmott ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("c", "gamma", "s", "lam", "expected"),
    [
        # (3·0.001·0.02²·100 / (2·1))^(1/3) = (6e-5)^(1/3)
        (0.001, 0.02, 100.0, 1.0, 0.0391486764116886),
        # (3·0.0005·(−0.004)²·2000 / (2·0.01))^(1/3) = (2.4e-3)^(1/3)
        (0.0005, -0.004, 2000.0, 0.01, 0.1338865900164339),
        # (3·0.01·1·1 / (2·1.5))^(1/3) = 0.01^(1/3)
        (0.01, 1.0, 1.0, 1.5, 0.2154434690031884),
    ],
)
def test_ww_band_matches_its_formula(c: float, gamma: float, s: float, lam: float, expected: float) -> None:
    assert float(ww_half_width(c, gamma, s, lam)) == pytest.approx(expected, rel=1e-14)
    assert float(WhalleyWilmott(c, lam).half_width(gamma, s)) == pytest.approx(
        (3 * c * gamma**2 * s / (2 * lam)) ** (1 / 3)
    )


def test_ww_band_collapses_to_the_delta_without_cost() -> None:
    assert float(ww_half_width(0.0, -0.3, 1500.0, 0.5)) == 0.0
    delta = -12.5
    for hedge in (-20.0, -12.5, 3.0):  # any hedge is moved onto the delta itself
        assert rehedge_to_edge(hedge, delta, float(ww_half_width(0.0, -0.3, 1500.0, 0.5))) == delta


def test_ww_band_narrows_as_risk_aversion_grows() -> None:
    lams = np.logspace(-6, 6, 25)
    widths = np.array([float(ww_half_width(0.001, 0.05, 2000.0, lam)) for lam in lams])
    assert np.all(np.diff(widths) < 0)
    assert widths[-1] < 1e-3 * widths[0]  # ∝ λ^(−1/3): 12 decades of λ narrow it 10⁴-fold


def test_rehedge_only_to_the_band_edge() -> None:
    assert rehedge_to_edge(-8.0, -10.0, 1.0) == -9.0  # above the band: down to its upper edge
    assert rehedge_to_edge(-13.0, -10.0, 1.0) == -11.0  # below: up to the lower edge
    assert rehedge_to_edge(-10.5, -10.0, 1.0) == -10.5  # inside: untouched


# --- the perp leg ------------------------------------------------------------------------------


def test_constant_funding_accrues_exactly_and_follows_the_position() -> None:
    prices = np.array([100.0, 110.0, 90.0, 95.0, 120.0])
    m = daily_market(prices)
    rates = Funding(0.0001).per_period(m)  # per 8 h, on daily closes: three fundings a period
    np.testing.assert_allclose(rates, [0.0, 3e-4, 3e-4, 3e-4, 3e-4], rtol=1e-14)
    short = accrue_funding(-10.0, prices, rates)
    np.testing.assert_allclose(short.sum(), 10.0 * (110 + 90 + 95 + 120) * 3e-4, rtol=1e-14)  # shorts receive
    long = accrue_funding(10.0, prices, rates)
    np.testing.assert_allclose(long, -short)  # longs pay when the rate is positive
    negative = accrue_funding(-10.0, prices, Funding(-0.0001).per_period(m))
    assert np.all(negative[1:] < 0)  # a negative rate: shorts pay
    assert funding_payment(2.0, 50.0, 0.001) == -0.1


def test_funding_series_sums_the_rates_inside_each_period() -> None:
    m = daily_market(np.full(4, 100.0))
    times = pd.date_range("2024-01-01 08:00", periods=9, freq="8h")  # 8 h fundings from the first day
    series = pd.Series(np.arange(1, 10) * 1e-5, index=times)
    got = Funding(series=series).per_period(m)
    # (day 0, day 1]: 08:00, 16:00 and 00:00 of day 1 → rates 1, 2, 3; then 4, 5, 6; then 7, 8, 9
    np.testing.assert_allclose(got, [0.0, 6e-5, 15e-5, 24e-5], rtol=1e-12)


def test_perp_position_entry_pnl_and_liquidation() -> None:
    p = PerpPosition()
    p, realised = p.trade(-2.0, 100.0)
    p, realised2 = p.trade(-2.0, 110.0)
    assert (p.size, p.entry_price, realised, realised2) == (-4.0, 105.0, 0.0, 0.0)
    assert p.unrealised_pnl(100.0) == 20.0
    p2, realised = p.trade(1.0, 95.0)
    assert (p2.size, p2.entry_price, realised) == (-3.0, 105.0, 10.0)  # a short closed 1 unit 10 lower
    p3, realised = p2.trade(5.0, 100.0)
    assert (p3.size, p3.entry_price, realised) == (2.0, 100.0, 15.0)  # crossed zero: rest opened at 100
    short = PerpPosition(-1.0, 100.0, margin=20.0)
    liq = short.liquidation_price(0.05)
    assert liq == pytest.approx(120.0 / 1.05)
    assert not short.liquidatable(liq * (1 - 1e-9), 0.05)
    assert short.liquidatable(liq * (1 + 1e-9), 0.05)


def test_rolling_hedge_ratio_is_the_least_squares_slope() -> None:
    rng = np.random.default_rng(3)
    ri = rng.normal(0, 0.03, 200)
    re = 1.4 * ri + rng.normal(0, 0.01, 200)
    pi = 100 * np.cumprod(1 + np.r_[0.0, ri[1:]])
    pe = 50 * np.cumprod(1 + np.r_[0.0, re[1:]])
    beta = rolling_hedge_ratio(pe, pi, 30)
    assert np.isnan(beta[:30]).all()
    for t in (30, 77, 199):
        slope = np.polyfit(ri[t - 29 : t + 1], re[t - 29 : t + 1], 1)[0]
        assert beta[t] == pytest.approx(slope, rel=1e-10)


# --- bad input ---------------------------------------------------------------------------------


def test_bad_input_names_the_field() -> None:
    with pytest.raises(InputError, match="cost must be a number at least 0"):
        WhalleyWilmott(-0.001, 1.0)
    with pytest.raises(InputError, match="risk_aversion must be a number above 0"):
        WhalleyWilmott(0.001, 0.0)
    with pytest.raises(InputError, match="fraction"):
        RelativeBand(-0.1)
    with pytest.raises(InputError, match="value"):
        AbsoluteBand(float("nan"))
    with pytest.raises(InputError, match="maintenance 0.2 must be below the initial margin"):
        DeltaHedge(Holdings("ETH"), leverage=10, maintenance=0.2)
    with pytest.raises(InputError, match="combine"):
        DeltaHedge(Holdings("ETH"), combine="both")
    with pytest.raises(InputError, match="rate"):
        Funding(2.0)
    m = daily_market(np.full(5, 100.0))
    with pytest.raises(InputError, match="instrument 'SOL' has no prices"):
        DeltaHedge(Holdings("ETH"), instrument="SOL").encode(m, 1, np.array([True, True]))
    with pytest.raises(InputError, match="exposure 'ETH' is not held"):
        DeltaHedge(Holdings("ETH")).encode(m, 1, np.array([False, True]))
    with pytest.raises(InputError, match="cash asset"):
        DeltaHedge(Holdings("ETH")).encode(m, -1, np.array([True, True]))


# --- Monte Carlo on GBM ------------------------------------------------------------------------

LP = FullRangeLP.worth("ETH", 1e6, 2000.0)  # the short-gamma exposure hedging exists for
COST = 0.0005  # 5 bps a trade


def test_ww_band_beats_a_fixed_interval_hedge() -> None:
    """For every fixed interval, the WW frontier reaches the same hedge error at a lower cost
    (hourly steps over 30 days, σ = 80 %; the docs/hedging.md table)."""
    paths = gbm_paths(2000.0, 0.8, 1 / (365 * 24), 24 * 30, 1000, seed=7)
    rows = frontier(paths, LP, COST, np.logspace(-6, -1, 11), np.array([2, 3, 4, 6, 8, 12, 24, 48]))
    ww = [o for family, _, o in rows if family == "whalley-wilmott"]
    fixed = [o for family, _, o in rows if family == "fixed-interval"]
    for o in fixed:
        matched = cost_at_error(ww, o.error)
        assert matched < 0.9 * o.cost, (o, matched)


def test_zero_band_without_cost_hedges_perfectly_up_to_discreteness() -> None:
    """Re-hedged at every step for free, a full-range LP's hedged P&L is its loss-versus-
    rebalancing, σ²·V/8 per unit time (Milionis et al. 2022), up to a discreteness error that
    shrinks like √dt; nothing is paid."""
    residual = []
    sigma = 0.8
    for steps in (180, 720):  # 4-hourly and hourly over 30 days
        dt = 30 / 365 / steps
        paths = gbm_paths(2000.0, sigma, dt, steps, 2000, seed=11)
        pnl, paid, _ = hedged_pnl(paths, LP, BandRule(0.0, 1.0), 0.0)
        assert np.all(paid == 0.0)
        lvr = (sigma**2 / 8 * LP.value(paths[:, :-1]) * dt).sum(axis=1)
        residual.append(float(np.std(pnl + lvr)))
        unhedged = LP.value(paths[:, -1]) - LP.value(paths[:, 0])
        assert residual[-1] < 0.01 * float(np.std(unhedged))  # the hedge removed the price risk
    assert residual[1] / residual[0] == pytest.approx(0.5, rel=0.1)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), sigma=st.floats(0.3, 1.5))
def test_hedged_variance_falls_as_the_band_narrows(seed: int, sigma: float) -> None:
    paths = gbm_paths(2000.0, sigma, 1 / (365 * 24), 24 * 10, 300, seed=seed)
    errors = [run(paths, LP, BandRule(COST, lam), COST).error for lam in (1e-7, 1e-5, 1e-3, 1e-1)]
    assert all(b < a for a, b in zip(errors, errors[1:], strict=False)), errors
    fixed = [run(paths, LP, IntervalRule(k), COST).error for k in (48, 12, 3, 1)]
    assert all(b < a for a, b in zip(fixed, fixed[1:], strict=False)), fixed
    assert math.isfinite(errors[-1])
