"""The shortcuts taken for speed keep their contracts (see bench/RESULTS.md, "What was changed")."""
from __future__ import annotations

import numpy as np
import pandas as pd

import ballast
from ballast.data.loaders import load_prices
from ballast.market import Market
from ballast.triggers.calendar import calendar_mask
from conftest import gbm


def test_growing_trade_log_matches_python_engine() -> None:
    """Daily rebalancing of 30 assets: 30 trades a close, far beyond the kernel's first trade-log
    allocation, so it grows several times; every trade must still be the Python engine's."""
    prices = gbm(n_assets=30, n_periods=300, seed=3)
    kw = dict(target="equal", rebalance="daily", fee_bps=10)
    a = ballast.backtest(prices, **kw)
    b = ballast.backtest(prices, engine="python", **kw)
    assert len(a.trades) > 64 * 30 * 2
    np.testing.assert_array_equal(a.equity.to_numpy(), b.equity.to_numpy())
    pd.testing.assert_frame_equal(a.trades, b.trades)
    assert a.trades.groupby("time").size().eq(30).iloc[1:].all()


def test_loader_neither_aliases_nor_modifies_the_callers_frame() -> None:
    prices = gbm(n_assets=3, n_periods=20)
    before = prices.copy()
    out = load_prices(prices)
    pd.testing.assert_frame_equal(prices, before)
    assert not np.shares_memory(out.to_numpy(), prices.to_numpy())
    prices.iloc[0, 0] = 1e9  # the caller changing its frame later changes nothing already loaded
    assert out.iloc[0, 0] == before.iloc[0, 0]


def test_loader_fast_path_keeps_types_and_names() -> None:
    idx = pd.bdate_range("2024-01-01", periods=3)
    mixed = pd.DataFrame({"A": [1, 2, 3], "B": [1.5, 2.5, 3.5]}, index=idx)  # int and float columns
    out = load_prices(mixed)
    assert out.dtypes.tolist() == [np.float64, np.float64] and out.columns.tolist() == ["A", "B"]
    numbered = pd.DataFrame({1: [1.0, 2.0, 3.0], 2: [2.0, 3.0, 4.0]}, index=idx)
    assert load_prices(numbered).columns.tolist() == ["1", "2"]


def test_market_prices_are_writeable_contiguous_copies_of_read_only_input() -> None:
    """pandas hands out read-only views; numba would compile a separate read-only kernel."""
    view = np.ones((4, 2))
    view.flags.writeable = False
    m = Market(view, ("A", "B"), pd.RangeIndex(4))
    assert m.prices.flags.writeable and m.prices.flags.c_contiguous
    m2 = Market.from_frame(load_prices(gbm(n_assets=2, n_periods=10)))
    assert m2.prices.flags.writeable and m2.prices.flags.c_contiguous


def test_calendar_masks_mark_first_close_of_each_period() -> None:
    idx = pd.DatetimeIndex(["2023-12-28", "2023-12-29", "2024-01-02", "2024-01-31", "2024-02-01",
                            "2024-03-28", "2024-04-01", "2025-01-02"])
    assert calendar_mask(idx, "monthly").tolist() == [False, False, True, False, True, True, True, True]
    assert calendar_mask(idx, "quarterly").tolist() == [False, False, True, False, False, False, True, True]
    assert calendar_mask(idx, "yearly").tolist() == [False, False, True, False, False, False, False, True]
