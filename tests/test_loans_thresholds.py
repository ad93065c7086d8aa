"""Choosing a health band: the sweep against single backtests, the closed form, the command."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ballast.cli import app
from ballast.config import load_strategy_file
from ballast.engine.backtest import backtest, strategy_market
from ballast.errors import InputError
from ballast.leverage import band_grid, gbm_liquidation_probability, thresholds
from ballast.positions import HealthBand

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "leveraged-treasury.toml"
runner = CliRunner()


@pytest.fixture(scope="module")
def setup():
    s = load_strategy_file(EXAMPLE).to_strategy()
    m = strategy_market("crypto", s, start="2019-06-01", end="2021-06-01")
    return s, m


def test_the_default_grid_is_1000_valid_bands() -> None:
    grid = band_grid()
    assert grid.shape == (1000, 4)
    assert (grid[:, 0] > 1).all() and (grid[:, 1] > grid[:, 0]).all()
    assert (grid[:, 3] >= grid[:, 1]).all() and (grid[:, 2] > grid[:, 3]).all()


def test_the_sweep_equals_single_backtests_and_the_closed_form(setup) -> None:
    s, m = setup
    bands = np.array([[1.15, 1.25, 1.6, 1.4], [1.8, 2.0, 2.6, 2.2]])
    out = thresholds(s, m, bands, n_paths=0)
    plain = backtest(_frame(m), replace(s, loans=None))
    years = (m.n_periods - 1) / m.periods_per_year
    mean_value = plain.raw.equity.mean()
    for b, row in enumerate(bands):
        pos = s.loans.positions[0]
        band = HealthBand(*row, min_debt_change=pos.band.min_debt_change)
        single = backtest(_frame(m), replace(s, loans=type(s.loans)(replace(pos, band=band))))
        expected = (single.raw.equity[-1] - plain.raw.equity[-1]) / (mean_value * years)
        got = out.table.iloc[b]
        assert got["score"] == pytest.approx(expected, rel=1e-12)
        assert got["history_liquidations"] == single.metrics["n_liquidations"]
        assert got["n_repays"] == single.metrics["n_repays"] and got["n_boosts"] == single.metrics["n_boosts"]
        costs = single.metrics["loan_costs"] / (mean_value * years)
        assert got["costs"] == pytest.approx(costs, rel=1e-12)
        assert got["carry"] - got["penalty"] - got["costs"] == pytest.approx(got["score"], rel=1e-9, abs=1e-15)
        one = gbm_liquidation_probability(row[0], out.sigma, 1 / m.periods_per_year, 0.0, 0.05)
        # the rate is the realised average of the debt growth: 5 % up to the calendar's day count
        assert got["p_gbm"] == pytest.approx(1 - (1 - one) ** m.periods_per_year, rel=1e-5)
    # a thin margin is liquidated on 2020-03-12 (in the window); a wide one is not
    assert out.table.iloc[0]["history_liquidations"] > 0 and out.table.iloc[1]["history_liquidations"] == 0
    assert out.table.iloc[0]["p_gbm"] > out.table.iloc[1]["p_gbm"]


def _frame(m) -> pd.DataFrame:
    return pd.DataFrame(m.prices, index=m.index, columns=list(m.assets))


def test_the_recommended_band_respects_the_probability_cap(setup) -> None:
    s, m = setup
    grid = band_grid(repay_below=(1.15, 1.5, 2.0), repay_gap=(0.2,), boost_gap=(0.1,), boost_width=(0.3,))
    out = thresholds(s, m, grid, n_paths=3, block=10, seed=1, max_probability=0.2)
    t = out.table
    assert len(t) == 3 and out.n_paths == 3
    allowed = t[t.p_liquidation <= 0.2]
    if len(allowed):
        assert out.recommended["score"] == allowed["score"].max()
    else:
        assert out.recommended["p_liquidation"] == t["p_liquidation"].min()
    assert ((t.p_liquidation >= 0) & (t.p_liquidation <= 1)).all()
    # the same seed gives the same numbers
    again = thresholds(s, m, grid, n_paths=3, block=10, seed=1, max_probability=0.2)
    pd.testing.assert_frame_equal(t, again.table)


def test_bad_input(setup) -> None:
    s, m = setup
    with pytest.raises(InputError, match="exactly one loan"):
        thresholds(replace(s, loans=None), m)
    with pytest.raises(InputError, match="bands must be rows of repay_below"):
        thresholds(s, m, np.ones((3, 3)))
    with pytest.raises(InputError, match=r"repay_to \(1.2\) must be above repay_below \(1.3\)"):
        thresholds(s, m, np.array([[1.3, 1.2, 2.0, 1.8]]))


def test_the_command_prints_the_recommended_band_and_writes_the_frontier(tmp_path: Path) -> None:
    out = tmp_path / "frontier.html"
    res = runner.invoke(
        app,
        ["leverage", "thresholds", str(EXAMPLE), "--paths", "1", "--out", str(out), "--csv", str(tmp_path / "b.csv")],
    )
    assert res.exit_code == 0, res.output
    assert "recommended band" in res.output and "repay below" in res.output
    assert "liquidation probability a year" in res.output and "carry − penalty − costs" in res.output
    html = out.read_text()
    assert "plotly" in html and "liquidation probability vs annual cost" in html
    assert len(pd.read_csv(tmp_path / "b.csv")) == 1000
    js = runner.invoke(app, ["leverage", "thresholds", str(EXAMPLE), "--paths", "0", "--json", "--out", str(out)])
    best = json.loads(js.output)
    assert best["repay_below"] < best["repay_to"] and math.isfinite(best["score"])


def test_the_command_without_a_loan_is_one_error_line(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text('[target]\nkind = "fixed"\nweights = { ETH = 1.0 }\n')
    res = runner.invoke(app, ["leverage", "thresholds", str(p), "--out", str(tmp_path / "f.html")])
    assert res.exit_code == 2
    assert "exactly one loan" in res.output and "Traceback" not in res.output
