"""The engine's conventions on hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ballast
from ballast.errors import InputError


def two_assets() -> pd.DataFrame:
    idx = pd.date_range("2024-01-01", periods=4, freq="D")
    return pd.DataFrame({"A": [1.0, 2.0, 2.0, 1.0], "B": [1.0, 1.0, 1.0, 1.0]}, index=idx)


def test_daily_crp_by_hand() -> None:
    r = ballast.backtest(two_assets(), target="equal", rebalance="daily", capital=100.0)
    # day1: A doubles: 50*2 + 50 = 150; rebalanced; day3: A halves: 75*0.5 + 75 = 112.5
    assert r.equity.tolist() == pytest.approx([100.0, 150.0, 150.0, 112.5])
    assert r.metrics["final_wealth"] == pytest.approx(1.125)


def test_buy_and_hold_by_hand() -> None:
    r = ballast.backtest(two_assets(), target="equal", rebalance="never", capital=100.0)
    assert r.equity.tolist() == pytest.approx([100.0, 150.0, 150.0, 100.0])
    assert r.metrics["n_rebalances"] == 0


def test_exact_fee_solves_self_financing_equation() -> None:
    f = 0.001
    r = ballast.backtest(two_assets(), target="equal", rebalance="daily", fee_bps=10, capital=100.0)
    v0 = 100 / (1 + f)  # formation: V' = 100 - f·V'
    assert r.equity.iloc[0] == pytest.approx(v0, rel=1e-14)
    # day 1: x = (v0, v0/2·... ) solve V' = V − f Σ|V'/2 − x_i|
    xa, xb = v0 / 2 * 2, v0 / 2
    V = xa + xb
    vp = (V + f * (xa + xb)) / (1 + f)  # both legs: |V'/2 − xa| = xa − V'/2, |V'/2 − xb| = V'/2 − xb
    vp = V - f * ((xa - vp / 2) + (vp / 2 - xb))
    assert r.equity.iloc[1] == pytest.approx(vp, rel=1e-12)
    np.testing.assert_allclose(r.weights.iloc[1].to_numpy(), [0.5, 0.5], rtol=0, atol=1e-15)


def test_unknown_asset_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="unknown asset"):
        ballast.backtest(two_assets(), target="A=0.5,C=0.5")


def test_weights_must_sum_to_one() -> None:
    with pytest.raises(ValueError, match="sum to 1.1"):
        ballast.backtest(two_assets(), target="A=0.6,B=0.5")


def test_nan_price_names_asset_and_date() -> None:
    df = two_assets()
    df.iloc[2, 1] = np.nan
    with pytest.raises(InputError, match="'B' has no price at 2024-01-03"):
        ballast.backtest(df, target="equal")
    # Filled forward, the missing close is the previous one: buy and hold of 0.5e6 units of each
    # (no new month in four days) is worth 0.5e6·(A + B) at every close, B = 1, 1, 1 (filled), 3.
    df.iloc[3, 1] = 3.0
    r = ballast.backtest(df, target="equal", fill="forward")
    np.testing.assert_array_equal(r.equity.to_numpy(), [1.0e6, 1.5e6, 1.5e6, 2.0e6])
    assert r.metrics["final_wealth"] == 2.0


def test_unsorted_dates_rejected() -> None:
    df = two_assets().iloc[[0, 2, 1, 3]]
    with pytest.raises(InputError, match="not sorted"):
        ballast.backtest(df, target="equal")


def test_python_engine_matches_compiled(crypto: pd.DataFrame) -> None:
    for kw in (
        dict(band=0.05, plan="band-edge"),
        dict(rebalance="weekly", band=0.2, band_kind="relative"),
        dict(rebalance="monthly", convention="bt", min_trade=5000.0),
    ):
        a = ballast.backtest(crypto, target="BTC=0.5,ETH=0.3,USDT=0.2", fee_bps=10, **kw)
        b = ballast.backtest(crypto, target="BTC=0.5,ETH=0.3,USDT=0.2", fee_bps=10, engine="python", **kw)
        np.testing.assert_array_equal(a.equity.to_numpy(), b.equity.to_numpy())
        assert a.rebalances.reason.tolist() == b.rebalances.reason.tolist()
        pd.testing.assert_frame_equal(a.trades, b.trades)
