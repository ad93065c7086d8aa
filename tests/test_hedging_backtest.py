"""Delta hedges in backtests: the perp's PnL, funding and costs in the portfolio's value, the
re-hedge reasons, liquidation, and agreement between the compiled and the Python engine."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ballast.engine.backtest import backtest
from ballast.engine.hedge_compare import compare_hedges
from ballast.enums import HC_FEES, HC_FUNDING, HC_LIQUIDATION, HC_PNL, HC_SIZE
from ballast.errors import InputError
from ballast.hedging import AbsoluteBand, DeltaHedge, Funding, Holdings, RelativeBand
from ballast.strategy import build_strategy
from ballast.triggers import Calendar


@pytest.fixture(scope="module")
def prices(crypto: pd.DataFrame) -> pd.DataFrame:
    # The cash is USD at exactly 1 (USDT's own price moves by basis points).
    return crypto[["BTC", "ETH"]].loc["2021-01-01":"2022-12-31"]


def hedged(hedge: DeltaHedge | None, **keywords: object) -> object:
    base: dict[str, object] = dict(target="ETH=0.5,USD=0.5", cash="USD", rebalance="never", fee_bps=10)
    return build_strategy(**{**base, **keywords}, hedge=hedge)


def test_zero_band_zero_cost_hedges_the_spot_exactly(prices: pd.DataFrame) -> None:
    r = backtest(prices, hedged(DeltaHedge(Holdings("ETH"), band=AbsoluteBand(0.0)), fee_bps=0))
    eq = r.raw.equity
    assert np.max(np.abs(eq / eq[0] - 1.0)) < 1e-12  # ETH went 730 → 4,800 → 1,200: nothing moved
    assert r.metrics["hedge_error"] < 1e-24
    unhedged = backtest(prices, hedged(None, fee_bps=0))
    assert unhedged.raw.equity.max() / unhedged.raw.equity[0] > 2


def test_hedge_pnl_funding_and_fees_reach_the_portfolio_value(prices: pd.DataFrame) -> None:
    """Same spot holdings hedged and unhedged: the values differ by exactly the perp's PnL minus
    its funding, fees and liquidation penalties."""
    hedge = DeltaHedge(Holdings("ETH"), band=RelativeBand(0.05), funding=Funding(0.0001), leverage=3)
    r = backtest(prices, hedged(hedge))
    u = backtest(prices, hedged(None))
    rows = r.raw.hedge.rows
    perp = np.cumsum(rows[:, HC_PNL] - rows[:, HC_FUNDING] - rows[:, HC_FEES] - rows[:, HC_LIQUIDATION])
    np.testing.assert_allclose(r.raw.equity - u.raw.equity, perp, rtol=0, atol=1e-6 * u.raw.equity[0])
    # Constant funding, exactly: 3 fundings a day on the size held into each close at its mark.
    p = prices["ETH"].to_numpy()
    expected = rows[:-1, HC_SIZE] * p[1:] * 3e-4  # paid = size · mark · rate: negative for a short
    np.testing.assert_allclose(rows[1:, HC_FUNDING], expected, rtol=1e-12)
    assert r.metrics["hedge_funding"] < 0 and r.metrics["hedge_fees"] > 0
    assert r.metrics["hedge_cost"] == pytest.approx(
        r.metrics["hedge_fees"]
        + r.metrics["hedge_slippage"]
        + r.metrics["hedge_funding"]
        + r.metrics["hedge_liquidation"]
    )


def test_band_rehedges_stop_at_the_edge_and_say_why(prices: pd.DataFrame) -> None:
    hedge = DeltaHedge(Holdings("ETH"), band=RelativeBand(0.05))
    r = backtest(prices, hedged(hedge, band=0.05, rebalance=None))
    h = r.hedge
    moved = h[h["reason"] == "band"]
    assert len(moved) > 5
    edge = moved["target"] + np.sign(moved["size"] - moved["target"]) * moved["half_width"]
    np.testing.assert_allclose(moved["size"], edge, rtol=1e-12)
    assert h["reason"].iloc[0] == "open the hedge"
    assert r.metrics["n_rehedges"] == len(moved)
    held = h["size"].to_numpy()
    assert np.all(np.abs(held - h["target"]) <= h["half_width"] * (1 + 1e-9))  # inside after every close


def test_calendar_hedges_fully_and_combines(prices: pd.DataFrame) -> None:
    weekly = DeltaHedge(Holdings("ETH"), band=RelativeBand(0.5), every=Calendar("weekly"))
    r = backtest(prices, hedged(weekly, band=0.05, rebalance=None))
    cal = r.hedge[r.hedge["reason"].str.contains("calendar")]
    assert len(cal) > 50
    np.testing.assert_allclose(cal["size"], cal["target"], rtol=1e-12)
    both = replace(weekly, band=RelativeBand(0.02), combine="all")
    r2 = backtest(prices, hedged(both, band=0.05, rebalance=None))
    reasons = set(r2.hedge["reason"]) - {"", "open the hedge"}
    assert reasons == {"band and calendar"}
    assert r2.metrics["n_rehedges"] < len(cal)


def test_liquidation_closes_the_perp_and_it_reopens(prices: pd.DataFrame) -> None:
    hedge = DeltaHedge(
        Holdings("ETH"), band=RelativeBand(1.0), leverage=10, maintenance=0.05, liquidation_fee=0.01, margin_topup=0.0
    )
    r = backtest(prices, hedged(hedge))
    assert r.metrics["n_liquidations"] >= 1
    liquidated = r.hedge[r.hedge["reason"].str.contains("liquidated")]
    assert (liquidated["liquidation"] >= 0).all() and (liquidated["liquidation"] > 0).any()  # 0: margin gone
    assert (liquidated["size"] < 0).all()  # reopened at the same close
    # A treasury with cash to spare: the margin restored from it never runs out; the same hedge
    # left isolated is liquidated as ETH more than doubles.
    calm = replace(hedge, leverage=2, maintenance=0.005)
    topped = backtest(prices, hedged(replace(calm, margin_topup=0.5), target="ETH=0.1,USD=0.9"))
    assert topped.metrics["n_liquidations"] == 0
    isolated = backtest(prices, hedged(calm, target="ETH=0.1,USD=0.9"))
    assert isolated.metrics["n_liquidations"] >= 1


def test_fraction_zero_changes_nothing(prices: pd.DataFrame) -> None:
    r = backtest(prices, hedged(DeltaHedge(Holdings("ETH"), fraction=0.0), band=0.05, rebalance=None))
    u = backtest(prices, hedged(None, band=0.05, rebalance=None))
    assert np.array_equal(r.raw.equity, u.raw.equity)
    assert r.metrics["n_rehedges"] == 0 and r.metrics["hedge_cost"] == 0


def test_cross_asset_hedge_with_a_rolling_ratio(prices: pd.DataFrame) -> None:
    hedge = DeltaHedge(Holdings("ETH"), instrument="BTC", band=RelativeBand(0.1), ratio_window=30)
    r = backtest(prices, hedged(hedge, fee_bps=5))
    h = r.hedge
    assert (h["size"].iloc[:30] == 0).all()  # no ratio before the window fills
    assert (h["size"].iloc[31:] < 0).all()
    table = compare_hedges(r)
    assert table.loc["hedge_error"].iloc[0] < 0.5 * table.loc["hedge_error", "unhedged"]


def test_compiled_and_python_engines_agree(prices: pd.DataFrame) -> None:
    hedge = DeltaHedge(Holdings("ETH"), band=RelativeBand(0.05), every=Calendar("monthly"), funding=Funding(5e-5))
    s = hedged(hedge, band=0.05, rebalance=None, plan="band-edge")
    a = backtest(prices, s, engine="numba")
    b = backtest(prices, s, engine="python")
    np.testing.assert_allclose(a.raw.equity, b.raw.equity, rtol=1e-12)
    np.testing.assert_allclose(a.raw.hedge.rows, b.raw.hedge.rows, rtol=1e-12, atol=1e-9)


def test_comparison_against_unhedged_and_fixed_interval(prices: pd.DataFrame) -> None:
    r = backtest(prices, hedged(DeltaHedge(Holdings("ETH"), band=RelativeBand(0.1)), band=0.05, rebalance=None))
    table = compare_hedges(r)
    assert list(table.columns)[1:] == ["fixed-interval hedge (weekly)", "unhedged"]
    assert table.loc["hedge_error", "unhedged"] > 10 * table.loc["hedge_error"].iloc[0]
    assert table.loc["n_rehedges", "unhedged"] == 0


def test_a_hedge_of_an_asset_not_held_is_refused(prices: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="exposure 'BTC' is not held"):
        backtest(prices, hedged(DeltaHedge(Holdings("BTC"))))
    with pytest.raises(InputError, match="unknown asset.*'SOL'"):  # the loader names it first
        backtest(prices, hedged(DeltaHedge(Holdings("ETH"), instrument="SOL")))


def test_a_sweep_of_a_hedged_strategy_runs_the_hedge(prices: pd.DataFrame) -> None:
    """The pooled sweep kernel has no hedge: hedged configurations run as single backtests."""
    import ballast

    hedge = DeltaHedge(Holdings("ETH"), band=RelativeBand(0.1))
    keywords = dict(target="ETH=0.5,USD=0.5", cash="USD", fee_bps=10, hedge=hedge)
    table = ballast.sweep(prices, band=[0.02, 0.1], **keywords)
    for band, wealth in zip(table["band"], table["final_wealth"], strict=True):
        single = backtest(prices, build_strategy(band=band, **keywords))
        assert wealth == single.metrics["final_wealth"]
    unhedged = ballast.sweep(prices, band=[0.02], target="ETH=0.5,USD=0.5", cash="USD", fee_bps=10)
    assert unhedged["volatility"].iloc[0] > 5 * table["volatility"].iloc[0]
