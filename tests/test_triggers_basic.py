"""Calendar, band and combinator triggers: when they fire and the reason they record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ballast
from ballast import Band, Calendar, Cooldown, Fixed, Never, Strategy
from ballast.triggers.calendar import calendar_mask


def test_calendar_masks_match_pandas_period_starts() -> None:
    idx = pd.date_range("2020-01-01", "2022-12-31", freq="D")
    idx = idx[idx.day_of_week < 5]  # exchange-like days, so periods start on varied dates
    for freq, code in (("monthly", "M"), ("quarterly", "Q"), ("yearly", "Y"), ("weekly", "W-SUN")):
        mask = calendar_mask(idx, freq)
        periods = idx.to_period(code)
        expected = np.r_[False, periods[1:] != periods[:-1]]
        np.testing.assert_array_equal(mask, expected, err_msg=freq)


def test_every_n_periods_and_daily() -> None:
    idx = pd.RangeIndex(10)
    np.testing.assert_array_equal(np.flatnonzero(calendar_mask(idx, 3)), [3, 6, 9])
    assert calendar_mask(idx, "daily").sum() == 9
    with pytest.raises(ValueError, match="needs dated prices"):
        calendar_mask(idx, "monthly")


def test_monthly_rebalance_dates(crypto: pd.DataFrame) -> None:
    r = ballast.backtest(crypto, target="equal", rebalance="monthly")
    times = r.rebalances.time.iloc[1:]
    assert (times.dt.day == 1).all()  # crypto trades every day: first close of a month is the 1st
    assert len(times) == len(pd.period_range(crypto.index[0], crypto.index[-1], freq="M")) - 1


@pytest.mark.parametrize("kind", ["absolute", "relative", "hybrid"])
def test_band_fires_strictly_beyond_half_width(crypto: pd.DataFrame, kind: str) -> None:
    target = {"BTC": 0.5, "ETH": 0.3, "USDT": 0.2}
    r = ballast.backtest(crypto, target=target, band=0.1, band_kind=kind)
    band = Band(0.1, kind=kind)
    pre = r.pre_trade_weights.to_numpy()
    tw = r.target_weights.to_numpy()
    fired = set(r.rebalances.time.iloc[1:])
    for t in range(1, len(pre)):
        out = bool(np.any(np.abs(pre[t] - tw[t]) > band.half_widths(r.market.assets, tw[t])))
        assert out == (r.market.index[t] in fired), t


def test_per_asset_band_widths(crypto: pd.DataFrame) -> None:
    target = Fixed({"BTC": 0.5, "ETH": 0.5})
    tight = ballast.backtest(crypto, Strategy(target, Band(0.2, per_asset={"ETH": 0.02})))
    loose = ballast.backtest(crypto, Strategy(target, Band(0.2)))
    assert tight.metrics["n_rebalances"] > loose.metrics["n_rebalances"]
    with pytest.raises(KeyError, match="unknown asset"):
        ballast.backtest(crypto, Strategy(target, Band(0.2, per_asset={"DOGE": 0.1})))


def test_any_of_records_every_reason_and_all_of_needs_both(crypto: pd.DataFrame) -> None:
    target = Fixed({"BTC": 0.5, "ETH": 0.5})
    both = ballast.backtest(crypto, Strategy(target, Calendar("monthly") | Band(0.05)))
    reasons = both.rebalances.reason.tolist()
    assert any(r.startswith("calendar: monthly; band: ") for r in reasons)
    assert any(r.startswith("band: ") for r in reasons)
    only = ballast.backtest(crypto, Strategy(target, Calendar("monthly") & Band(0.05)))
    assert all(r.startswith("calendar: monthly and band: ") for r in only.rebalances.reason.iloc[1:])
    cal = ballast.backtest(crypto, Strategy(target, Calendar("monthly")))
    band = ballast.backtest(crypto, Strategy(target, Band(0.05)))
    assert only.metrics["n_rebalances"] <= min(cal.metrics["n_rebalances"], band.metrics["n_rebalances"])


def test_cooldown_spaces_rebalances(crypto: pd.DataFrame) -> None:
    target = Fixed({"BTC": 0.5, "ETH": 0.5})
    r = ballast.backtest(crypto, Strategy(target, Cooldown(Band(0.01), 30)))
    t = r.raw.rebalances.t
    assert (np.diff(t) >= 30).all()
    py = ballast.backtest(crypto, Strategy(target, Cooldown(Band(0.01), 30)), engine="python")
    np.testing.assert_array_equal(r.raw.rebalances.t, py.raw.rebalances.t)


def test_never_has_only_the_formation(crypto: pd.DataFrame) -> None:
    r = ballast.backtest(crypto, Strategy(Fixed("equal"), Never()))
    assert len(r.rebalances) == 1 and r.rebalances.reason.iloc[0].startswith("initial")
    assert r.metrics["n_trades"] == 0 and len(r.trades) == crypto.shape[1]


def test_user_defined_trigger_runs_on_python_engine(crypto: pd.DataFrame) -> None:
    class Drawdown(ballast.triggers.Leaf):
        """Rebalance after BTC falls 20 % from its running peak."""

        def check(self, state: ballast.triggers.TriggerState) -> bool:
            btc = state.market.prices[: state.t + 1, state.market.asset_index("BTC")]
            return bool(btc[-1] < 0.8 * btc.max())

        def reason(self, state: ballast.triggers.TriggerState) -> str:
            return "BTC drawdown > 20 %"

    s = Strategy(Fixed({"BTC": 0.5, "USDT": 0.5}), Drawdown() | Calendar("yearly"))
    r = ballast.backtest(crypto, s)
    assert "BTC drawdown > 20 %" in set(r.rebalances.reason)
    with pytest.raises(ValueError, match="only the Python engine"):
        ballast.backtest(crypto, s, engine="numba")
