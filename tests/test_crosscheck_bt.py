"""ballast (``convention="bt"``) against the bt library on the same real prices.

bt is run with the settings that match ballast's conventions (docs/crosscheck-bt.md lists each
one and why): fractional positions, a proportional fee ``|q|·p·f`` per trade, and the portfolio
formed at the first close. Final wealth, the whole equity path and the rebalance dates must agree.
"""

from __future__ import annotations

import bt
import numpy as np
import pandas as pd
import pytest

import ballast
from market_support import shared_file

CAPITAL = 1_000_000.0
FEE_BPS = 10.0
RTOL = 1e-9


def crypto_prices() -> pd.DataFrame:
    """Five coins, daily, ending 2024-02-28 (not a month's first day: see test_last_date_*)."""
    df = pd.read_csv(shared_file("crypto_finol/crypto_daily_close_usd.csv"), index_col=0, parse_dates=True)
    return df.loc[:"2024-02-28", ["BTC", "ETH", "LTC", "XRP", "DOGE"]]


def stock_prices() -> pd.DataFrame:
    """Ten S&P 500 stocks on the exchange calendar (gaps at weekends and holidays), 2010–2022."""
    df = pd.read_csv(shared_file("skfolio/sp500_20stocks_daily_prices.csv"), index_col=0, parse_dates=True)
    return df.loc["2010-01-01":, ["AAPL", "BAC", "CVX", "GE", "JNJ", "KO", "MSFT", "PFE", "UNH", "XOM"]]


DATASETS = {"crypto": crypto_prices, "stocks": stock_prices}


def run_bt(
    prices: pd.DataFrame,
    when: bt.Algo | None = None,
    band: float | None = None,
    fee_bps: float = FEE_BPS,
    weights: dict[str, float] | None = None,
) -> bt.Backtest:
    """bt's own strategy (equal weights unless ``weights``), run when ``when`` says or when the
    weights leave ``band`` (both given: either). RunIfOutOfBounds reads the target weights, so it
    sits after the weighing algo."""
    f = fee_bps / 1e4
    weigh = bt.algos.WeighSpecified(**weights) if weights else bt.algos.WeighEqually()
    if band is None:
        algos = [*([when] if when else []), bt.algos.SelectAll(), weigh, bt.algos.Rebalance()]
    else:
        check: bt.Algo = bt.algos.RunIfOutOfBounds(band)
        if when is not None:
            check = bt.algos.Or([when, check])
        algos = [bt.algos.SelectAll(), weigh, check, bt.algos.Rebalance()]
    test = bt.Backtest(
        bt.Strategy("bt", algos),
        prices,
        initial_capital=CAPITAL,
        integer_positions=False,
        commissions=lambda q, p: abs(q) * p * f,
        progress_bar=False,
    )
    bt.run(test)
    return test


def bt_equity(test: bt.Backtest) -> pd.Series:
    """bt's portfolio value at each real close (its first row is a virtual day before the data)."""
    return test.strategy.values.iloc[1:]


def bt_rebalance_dates(test: bt.Backtest) -> list[pd.Timestamp]:
    positions = test.strategy.positions
    changed = positions.diff().fillna(positions).ne(0.0).any(axis=1)
    return list(positions.index[changed])


def executed_dates(r: ballast.Result) -> list[pd.Timestamp]:
    reb = r.rebalances
    return list(reb.time[reb.executed])


def assert_same(r: ballast.Result, test: bt.Backtest) -> None:
    eq = bt_equity(test)
    assert list(eq.index) == list(r.equity.index)
    wealth_bt = eq.iloc[-1] / CAPITAL
    assert r.metrics["final_wealth"] == pytest.approx(wealth_bt, rel=RTOL, abs=0)
    np.testing.assert_allclose(r.equity.to_numpy(), eq.to_numpy(), rtol=RTOL, atol=0)
    assert executed_dates(r) == bt_rebalance_dates(test)


CALENDARS = {
    "weekly": bt.algos.RunWeekly,
    "monthly": bt.algos.RunMonthly,
    "quarterly": bt.algos.RunQuarterly,
    "yearly": bt.algos.RunYearly,
}


@pytest.mark.parametrize("data", sorted(DATASETS))
def test_monthly_equal_weight_with_fee(data: str) -> None:
    prices = DATASETS[data]()
    test = run_bt(prices, bt.algos.RunMonthly())
    r = ballast.backtest(prices, target="equal", rebalance="monthly", fee_bps=FEE_BPS, convention="bt")
    assert_same(r, test)
    assert r.metrics["n_rebalances"] > 50  # the check exercised many fee-paying rebalances
    assert r.metrics["total_costs"] > 0


@pytest.mark.parametrize("freq", ["weekly", "quarterly", "yearly"])
def test_other_calendars(freq: str) -> None:
    prices = crypto_prices()
    test = run_bt(prices, CALENDARS[freq]())
    r = ballast.backtest(prices, target="equal", rebalance=freq, fee_bps=FEE_BPS, convention="bt")
    assert_same(r, test)


def test_every_n_periods() -> None:
    """bt's RunEveryNPeriods(n) (first call = first close) is ballast's Calendar(n)."""
    prices = stock_prices()
    test = run_bt(prices, bt.algos.RunEveryNPeriods(21))
    r = ballast.backtest(prices, target="equal", rebalance=21, fee_bps=FEE_BPS, convention="bt")
    assert_same(r, test)


@pytest.mark.parametrize("data,width", [("crypto", 0.25), ("crypto", 0.1), ("stocks", 0.1)])
def test_relative_band(data: str, width: float) -> None:
    """bt's RunIfOutOfBounds(w) after the weights are set: |w − t|/t > w, checked every close."""
    prices = DATASETS[data]()
    test = run_bt(prices, band=width)
    r = ballast.backtest(prices, target="equal", band=width, band_kind="relative", fee_bps=FEE_BPS, convention="bt")
    assert_same(r, test)
    assert r.metrics["n_rebalances"] > 5


def test_monthly_or_relative_band_to_unequal_weights() -> None:
    """bt's Or([RunMonthly, RunIfOutOfBounds]) with WeighSpecified is ballast's any_of(calendar, band)."""
    prices = crypto_prices()
    weights = {"BTC": 0.4, "ETH": 0.3, "LTC": 0.15, "XRP": 0.1, "DOGE": 0.05}
    test = run_bt(prices, bt.algos.RunMonthly(), band=0.3, weights=weights)
    r = ballast.backtest(
        prices, target=weights, rebalance="monthly", band=0.3, band_kind="relative", fee_bps=FEE_BPS, convention="bt"
    )
    assert_same(r, test)
    reasons = set(r.rebalances.reason)
    assert any("band" in x for x in reasons) and any("monthly" in x for x in reasons)


@pytest.mark.parametrize("data", sorted(DATASETS))
def test_buy_and_hold(data: str) -> None:
    prices = DATASETS[data]()
    test = run_bt(prices, bt.algos.RunOnce())
    r = ballast.backtest(prices, target="equal", rebalance="never", fee_bps=FEE_BPS, convention="bt")
    assert_same(r, test)
    assert executed_dates(r) == [prices.index[0]]
    # the strategy's own baseline is the same buy and hold
    assert r.baseline is not None
    assert r.baseline.metrics["final_wealth"] == pytest.approx(r.metrics["final_wealth"], rel=1e-14)


def test_last_date_calendar_difference() -> None:
    """bt's RunPeriod never fires on the last date; ballast's calendar does.

    The crypto data ends on 2024-03-01, a month's first close: ballast rebalances there, bt does
    not. Everything before agrees, and bt's last value is ballast's value before that last trade.
    """
    df = pd.read_csv(shared_file("crypto_finol/crypto_daily_close_usd.csv"), index_col=0, parse_dates=True)
    prices = df.loc[:, ["BTC", "ETH", "LTC", "XRP", "DOGE"]]
    assert prices.index[-1] == pd.Timestamp("2024-03-01")
    test = run_bt(prices, bt.algos.RunMonthly())
    r = ballast.backtest(prices, target="equal", rebalance="monthly", fee_bps=FEE_BPS, convention="bt")
    eq = bt_equity(test)
    np.testing.assert_allclose(r.equity.to_numpy()[:-1], eq.to_numpy()[:-1], rtol=RTOL, atol=0)
    assert executed_dates(r) == [*bt_rebalance_dates(test), prices.index[-1]]
    last = r.rebalances.iloc[-1]
    assert last.time == prices.index[-1] and last.cost > 0
    assert r.equity.iloc[-1] + last.cost == pytest.approx(eq.iloc[-1], rel=RTOL, abs=0)


def test_without_fee_exact_and_bt_conventions_coincide() -> None:
    """With no costs both accountings are the same frictionless rebalance, and both match bt."""
    prices = crypto_prices()
    test = run_bt(prices, bt.algos.RunMonthly(), fee_bps=0.0)
    for convention in ("exact", "bt"):
        r = ballast.backtest(prices, target="equal", rebalance="monthly", convention=convention)
        assert_same(r, test)


def test_exact_and_bt_differ_by_the_documented_amount() -> None:
    """One rebalance by hand: the two accountings differ by bt's per-leg fee grossing-up.

    Day 0: form 50/50 (both: V0 = C/(1+f)). Day 1: A doubles, so x = (V0, V0/2), V = 1.5·V0.
    bt: each leg moves a = ±V0/4 of cash; the sale of A sells a/(1−f) and the purchase of B buys
    a/(1+f), so costs are f·(V0/4)·(1/(1−f) + 1/(1+f)) = (f·V0/2)/(1−f²) and the weights end off
    target. exact: V′ = V − f·Σ|V′/2 − xᵢ| = V − f·V0/2 (the V′ terms cancel), weights 50/50.
    """
    f = 0.01
    prices = pd.DataFrame(
        {"A": [1.0, 2.0, 2.0], "B": [1.0, 1.0, 1.0]}, index=pd.date_range("2024-01-30", periods=3, freq="D")
    )
    test = run_bt(prices, bt.algos.RunDaily(), fee_bps=f * 1e4)
    v0 = CAPITAL / (1 + f)
    bt_v1 = 1.5 * v0 - (f * v0 / 2) / (1 - f * f)
    exact_v1 = 1.5 * v0 - f * v0 / 2
    r_bt = ballast.backtest(
        prices, target="equal", rebalance="daily", fee_bps=f * 1e4, capital=CAPITAL, convention="bt"
    )
    r_ex = ballast.backtest(prices, target="equal", rebalance="daily", fee_bps=f * 1e4, capital=CAPITAL)
    eq = bt_equity(test)
    assert eq.iloc[0] == pytest.approx(v0, rel=1e-14) and r_ex.equity.iloc[0] == pytest.approx(v0, rel=1e-14)
    assert eq.iloc[1] == pytest.approx(bt_v1, rel=1e-12)
    assert r_bt.equity.iloc[1] == pytest.approx(bt_v1, rel=1e-12)
    assert r_ex.equity.iloc[1] == pytest.approx(exact_v1, rel=1e-12)
    assert bt_v1 < exact_v1
    # bt's day-1 weights: A keeps V0 − (V0/4)/(1−f), B gets V0/2 + (V0/4)/(1+f)
    wa = (v0 - v0 / 4 / (1 - f)) / bt_v1
    bt_w = test.security_weights.iloc[2]
    assert bt_w["A"] == pytest.approx(wa, rel=1e-12)
    assert r_bt.weights.iloc[1]["A"] == pytest.approx(wa, rel=1e-12)
    assert r_ex.weights.iloc[1]["A"] == pytest.approx(0.5, abs=1e-15)


def test_daily_rebalance_trades_match_bt_one_by_one() -> None:
    """Every close rebalanced (thousands of trades, far past the kernel's initial trade-log room):
    each trade's date, asset and quantity is bt's."""
    prices = crypto_prices().iloc[:700]
    test = run_bt(prices, bt.algos.RunEveryNPeriods(1))  # RunDaily would skip the last close
    r = ballast.backtest(prices, target="equal", rebalance=1, fee_bps=FEE_BPS, convention="bt")
    assert_same(r, test)
    ours = r.trades.set_index(["time", "asset"]).quantity.sort_index()
    theirs = test.strategy.get_transactions().quantity
    theirs.index = theirs.index.set_names(["time", "asset"])
    theirs = theirs.sort_index()
    assert len(ours) == len(theirs) > 64 * prices.shape[1]
    assert list(ours.index) == list(theirs.index)
    # bt stops its per-trade root search within 1e-8 currency units (docs/crosscheck-bt.md, item 5),
    # so tiny trades agree in value to that, not relatively
    price = prices.stack().reindex(ours.index).to_numpy()
    assert np.isfinite(price).all()
    np.testing.assert_allclose(ours.to_numpy() * price, theirs.to_numpy() * price, rtol=1e-9, atol=1e-7)
