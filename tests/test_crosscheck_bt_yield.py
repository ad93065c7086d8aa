"""Payout-mode yield against bt's `CouponPayingSecurity` paying the same coupons, on real prices.

Each coin pays its APY as a coupon into the portfolio's cash (ballast without a cash asset: the
coupons land in the portfolio's cash, as bt's do); monthly rebalancing with a fee reinvests them.
bt gets the very coupons ballast pays: per unit held at close t, pₜ·(gₜ − 1), on the same dates.
"""

from __future__ import annotations

import bt
import numpy as np
import pandas as pd
import pytest

import ballast
from ballast.market import Market
from ballast.yields import ConstantAPY, Yields
from test_crosscheck_bt import CAPITAL, FEE_BPS, RTOL, bt_equity, crypto_prices

APY = {"BTC": 0.02, "ETH": 0.045, "LTC": 0.0, "XRP": 0.12, "DOGE": 0.3}


def coupons(prices: pd.DataFrame, yields: Yields) -> pd.DataFrame:
    growth = yields.encode(Market.from_frame(prices), None).growth
    return pd.DataFrame(prices.to_numpy() * (growth - 1.0), index=prices.index, columns=prices.columns)


def run_bt_coupons(prices: pd.DataFrame, paid: pd.DataFrame, when: bt.Algo) -> bt.Backtest:
    """bt credits at date k the coupon of the data row before it (its virtual first day shifts the
    row index), so the row of date k − 1 carries the coupon paid at date k."""
    f = FEE_BPS / 1e4
    paid = paid.shift(-1).fillna(0.0)
    children = [bt.CouponPayingSecurity(name, fixed_income=False) for name in prices.columns]
    strategy = bt.Strategy(
        "bt", [when, bt.algos.SelectAll(), bt.algos.WeighEqually(), bt.algos.Rebalance()], children=children
    )
    test = bt.Backtest(
        strategy,
        prices,
        initial_capital=CAPITAL,
        integer_positions=False,
        commissions=lambda q, p: abs(q) * p * f,
        progress_bar=False,
        additional_data={"coupons": paid},
    )
    bt.run(test)
    return test


@pytest.mark.parametrize("freq,algo", [("monthly", bt.algos.RunMonthly), ("never", bt.algos.RunOnce)])
def test_payout_yield_equals_bt_coupon_paying_security(freq: str, algo: type) -> None:
    prices = crypto_prices()
    yields = Yields({k: ConstantAPY(v, mode="payout") for k, v in APY.items()})
    test = run_bt_coupons(prices, coupons(prices, yields), algo())
    r = ballast.backtest(prices, target="equal", rebalance=freq, fee_bps=FEE_BPS, convention="bt", yields=yields)
    eq = bt_equity(test)
    assert list(eq.index) == list(r.equity.index)
    np.testing.assert_allclose(r.equity.to_numpy(), eq.to_numpy(), rtol=RTOL, atol=0)
    # The coupons mattered: without them the path differs by far more than the tolerance.
    plain = ballast.backtest(prices, target="equal", rebalance=freq, fee_bps=FEE_BPS, convention="bt")
    assert r.raw.equity[-1] / plain.raw.equity[-1] - 1 > 0.05
    paid_by_bt = sum(float(test.strategy[name].coupons.sum()) for name in prices.columns)
    assert r.metrics["yield_earned"] == pytest.approx(paid_by_bt, rel=RTOL)
