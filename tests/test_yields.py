"""Yields: closed forms for each source, Aave v3's curve against its own integer ray math, the
accrual step (compounding, payout, borrowing) and the errors bad input gets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ballast.errors import InputError
from ballast.market import Market
from ballast.strategy import parse_yields
from ballast.yields import ConstantAPY, RateSeries, UtilizationCurve, Yields, period_years
from ballast.yields.kernel import accrue


def daily_market(days: int, assets: tuple[str, ...] = ("ETH", "USDC"), start: str = "2020-01-01") -> Market:
    idx = pd.date_range(start, periods=days + 1, freq="D")
    rng = np.random.default_rng(1)
    prices = np.exp(np.cumsum(rng.normal(0, 0.02, (days + 1, len(assets))), axis=0))
    prices[:, -1] = 1.0
    return Market(prices, assets, idx)


def grow(market: Market, yields: Yields, units: np.ndarray, cash: str | None = "USDC") -> tuple[np.ndarray, np.ndarray]:
    arrays = yields.encode(market, cash)
    units = units.astype(float).copy()
    earned = np.zeros((1, market.n_assets))
    quote = market.asset_index(cash) if cash else -1
    for t in range(1, market.n_periods):
        accrue(units, market.prices, t, arrays, quote, earned, 0)
    return units, earned[0]


@pytest.mark.parametrize("apy", [0.05, 0.0312, -0.2, 1.5])
@pytest.mark.parametrize("days", [1, 365, 1000, 3653])
def test_constant_apy_compounds_to_closed_form(apy: float, days: int) -> None:
    m = daily_market(days)
    units, _ = grow(m, Yields({"ETH": ConstantAPY(apy)}), np.array([2.0, 0.0]))
    assert units[0] == pytest.approx(2.0 * (1 + apy) ** (days / 365), rel=1e-12)


def test_constant_apy_over_uneven_closes_uses_actual_time() -> None:
    idx = pd.DatetimeIndex(["2021-01-01", "2021-01-04", "2021-01-05", "2021-03-01", "2022-01-01"])
    m = Market(np.ones((5, 2)), ("A", "USDC"), idx)
    units, _ = grow(m, Yields({"A": 0.08}), np.array([1.0, 0.0]))
    assert units[0] == pytest.approx(1.08 ** (365 / 365), rel=1e-12)


def test_day_count_is_configurable() -> None:
    m = daily_market(360)
    units, _ = grow(m, Yields({"ETH": 0.05}, day_count=360), np.array([1.0, 0.0]))
    assert units[0] == pytest.approx(1.05, rel=1e-12)
    assert period_years(m, 360)[1] == pytest.approx(1 / 360)


def test_daily_linear_accrual_gives_daily_compounding() -> None:
    m = daily_market(365)
    rates = pd.Series(0.05, index=m.index)
    units, _ = grow(m, Yields({"ETH": RateSeries(rates)}), np.array([1.0, 0.0]))
    assert units[0] == pytest.approx((1 + 0.05 / 365) ** 365, rel=1e-12)


def test_rate_series_uses_the_rate_known_at_the_start_of_each_period() -> None:
    m = daily_market(3)
    rates = pd.Series([0.365, 0.0, 0.73, 99.0], index=m.index)
    g = Yields({"ETH": RateSeries(rates)}).encode(m, "USDC").growth[:, 0]
    np.testing.assert_allclose(g, [1.0, 1.001, 1.0, 1.002], rtol=1e-14)


def test_payout_reinvested_by_hand_equals_compounding() -> None:
    m = daily_market(500)
    comp, _ = grow(m, Yields({"ETH": ConstantAPY(0.04)}), np.array([3.0, 0.0]))
    payout = Yields({"ETH": ConstantAPY(0.04, mode="payout")}).encode(m, "USDC")
    units = np.array([3.0, 0.0])
    earned = np.zeros((1, 2))
    for t in range(1, m.n_periods):
        before = units[1]
        accrue(units, m.prices, t, payout, 1, earned, 0)
        coupon = (units[1] - before) * m.prices[t, 1]
        units[0] += coupon / m.prices[t, 0]  # buy back ETH with the coupon, at the close
        units[1] = before
    assert units[0] == pytest.approx(comp[0], rel=1e-12)
    assert earned[0, 0] > 0


def test_payout_pays_value_into_the_cash_asset_and_keeps_units() -> None:
    m = daily_market(30)
    units, earned = grow(m, Yields({"ETH": ConstantAPY(0.1, mode="payout")}), np.array([1.0, 0.0]))
    assert units[0] == 1.0
    years = period_years(m, 365)
    expected = sum(m.prices[t, 0] * (1.1 ** years[t] - 1) for t in range(1, m.n_periods))
    assert units[1] == pytest.approx(expected, rel=1e-12)
    assert earned[0] == pytest.approx(expected, rel=1e-12)


def test_negative_holding_pays_the_borrow_rate() -> None:
    m = daily_market(365)
    units, earned = grow(m, Yields({"USDC": ConstantAPY(0.03, borrow=0.08)}), np.array([1.0, -1000.0]))
    assert units[1] == pytest.approx(-1080.0, rel=1e-12)
    assert earned[1] == pytest.approx(-80.0, rel=1e-12)


# --- Aave v3 DefaultReserveInterestRateStrategy, transcribed in its own integer ray arithmetic ---
RAY = 10**27
HALF = RAY // 2


def ray_mul(a: int, b: int) -> int:
    return (a * b + HALF) // RAY


def ray_div(a: int, b: int) -> int:
    return (a * RAY + b // 2) // b


def aave_rates(u: int, base: int, s1: int, s2: int, opt: int, rf_bps: int) -> tuple[int, int]:
    """calculateInterestRates with variable debt only: (liquidity rate, variable borrow rate)."""
    borrow = base
    if u > opt:
        excess = ray_div(u - opt, RAY - opt)
        borrow += s1 + ray_mul(s2, excess)
    else:
        borrow += ray_div(ray_mul(s1, u), opt)
    liquidity = ray_mul(borrow, u) * (10_000 - rf_bps)  # percentMul, exact for these inputs
    return (liquidity + 5_000) // 10_000, borrow


@pytest.mark.parametrize("u", [0.0, 0.25, 0.9, 0.92, 0.95, 1.0])
def test_utilization_curve_matches_aave_v3_ray_math(u: float) -> None:
    base, s1, s2, opt, rf = 0.0, 0.027, 0.8, 0.92, 0.15
    curve = UtilizationCurve(base, s1, s2, opt, rf, utilization=pd.Series([u], index=pd.DatetimeIndex(["2020-01-01"])))
    to_ray = lambda x: int(round(x * 10**9)) * 10**18  # noqa: E731  (exact decimals)
    liq, bor = aave_rates(to_ray(u), to_ray(base), to_ray(s1), to_ray(s2), to_ray(opt), int(rf * 1e4))
    assert float(curve.borrow_rate(u)) == pytest.approx(bor / RAY, rel=1e-12, abs=1e-18)
    assert float(curve.supply_rate(u)) == pytest.approx(liq / RAY, rel=1e-12, abs=1e-18)


def test_utilization_curve_at_its_definition_points() -> None:
    c = UtilizationCurve(0.01, 0.04, 0.6, 0.8, 0.1, utilization=pd.Series([0.5], index=pd.DatetimeIndex(["2020"])))
    assert float(c.borrow_rate(0.0)) == 0.01 and float(c.supply_rate(0.0)) == 0.0
    assert float(c.borrow_rate(0.8)) == pytest.approx(0.05, rel=1e-15)
    assert float(c.supply_rate(0.8)) == pytest.approx(0.05 * 0.8 * 0.9, rel=1e-15)
    assert float(c.borrow_rate(1.0)) == pytest.approx(0.65, rel=1e-15)
    assert float(c.supply_rate(1.0)) == pytest.approx(0.65 * 0.9, rel=1e-15)


def test_own_deposit_lowers_utilization_and_the_rate_earned() -> None:
    m = daily_market(10)
    supplied = pd.Series(1000.0, index=m.index)
    borrowed = pd.Series(900.0, index=m.index)
    plain = UtilizationCurve(0, 0.04, 0.6, 0.8, 0.1, supplied=supplied, borrowed=borrowed)
    mine = UtilizationCurve(0, 0.04, 0.6, 0.8, 0.1, supplied=supplied, borrowed=borrowed, own_deposit=125.0)
    np.testing.assert_allclose(mine.utilization_at_closes(m), 0.8, rtol=1e-15)
    assert plain.utilization_at_closes(m)[0] == pytest.approx(0.9)
    g_plain = plain.growth(m, period_years(m, 365))[0]
    g_mine = mine.growth(m, period_years(m, 365))[0]
    assert g_mine[1] - 1 == pytest.approx(0.04 * 0.8 * 0.9 / 365, rel=1e-10)
    assert g_plain[1] > g_mine[1]


def test_curve_debt_compounds_per_second() -> None:
    m = daily_market(1)
    c = UtilizationCurve(0.02, 0.0, 0.0, 0.5, 0.0, utilization=pd.Series(0.3, index=m.index))
    debt = c.growth(m, period_years(m, 365))[1]
    assert debt[1] == pytest.approx((1 + 0.02 / 31_536_000) ** 86_400, rel=1e-14)


def test_apy_below_minus_100_percent_is_an_error_naming_the_field() -> None:
    with pytest.raises(InputError, match="apy must be a number above -1"):
        ConstantAPY(-1.2)
    with pytest.raises(InputError, match="yield of ETH: ConstantAPY: apy"):
        Yields({"ETH": -1.0})
    with pytest.raises(InputError, match="borrow"):
        ConstantAPY(0.0, borrow=float("nan"))


def test_rate_series_with_a_gap_is_an_error_naming_the_dates() -> None:
    m = daily_market(40)
    rates = pd.Series(0.05, index=m.index).drop(m.index[10:25])
    with pytest.raises(
        InputError,
        match=r"RateSeries 'sDAI' \(rates\): the rate series has a gap: no rate "
        r"between 2020-01-10 and 2020-01-18",
    ):
        Yields({"ETH": RateSeries(rates, name="sDAI")}).encode(m, "USDC")
    Yields({"ETH": RateSeries(rates, max_gap_days=20)}).encode(m, "USDC")  # accepted when allowed


def test_rate_series_must_cover_the_first_close_and_have_numbers() -> None:
    m = daily_market(20)
    late = pd.Series(0.05, index=m.index[3:])
    with pytest.raises(InputError, match="starts on 2020-01-04, after the first close 2020-01-01"):
        Yields({"ETH": RateSeries(late)}).encode(m, "USDC")
    holes = pd.Series(0.05, index=m.index)
    holes.iloc[5] = np.nan
    with pytest.raises(InputError, match="no rate .* on 2020-01-06"):
        Yields({"ETH": RateSeries(holes)}).encode(m, "USDC")


def test_yield_for_an_unknown_asset_and_payout_without_cash() -> None:
    m = daily_market(5)
    with pytest.raises(InputError, match="yield for 'SOL': the prices have no such asset"):
        Yields({"SOL": 0.05}).encode(m, "USDC")
    with pytest.raises(InputError, match="mode must be one of compounding, payout"):
        ConstantAPY(0.05, mode="coupon")


def test_utilization_outside_unit_interval_is_an_error() -> None:
    m = daily_market(5)
    c = UtilizationCurve(0, 0.04, 0.6, 0.8, utilization=pd.Series(1.2, index=m.index))
    with pytest.raises(InputError, match=r"utilization must be within \[0, 1\], got 1.2"):
        Yields({"ETH": c}).encode(m, "USDC")
    with pytest.raises(InputError, match="optimal"):
        UtilizationCurve(0, 0.04, 0.6, 1.0, utilization=pd.Series(0.5, index=m.index))


def test_parse_yields() -> None:
    y = parse_yields("USDC=0.05, ETH=0.03")
    assert {a: s.apy for a, s in y.sources.items()} == {"USDC": 0.05, "ETH": 0.03}  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="--yield 'USDC': expected NAME=APY"):
        parse_yields("USDC")
    with pytest.raises(InputError, match="APY of 'ETH' is not a number"):
        parse_yields("ETH=high")


def test_payout_without_a_cash_asset_is_returned_as_cash() -> None:
    m = daily_market(10)
    arrays = Yields({"ETH": ConstantAPY(0.1, mode="payout")}).encode(m, None)
    units = np.array([1.0, 0.0])
    earned = np.zeros((1, 2))
    cash = accrue(units, m.prices, 1, arrays, -1, earned, 0)
    assert units[0] == 1.0
    assert cash == earned[0, 0] == pytest.approx(m.prices[1, 0] * (1.1 ** (1 / 365) - 1), rel=1e-12)
