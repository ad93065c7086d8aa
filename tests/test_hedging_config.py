"""The `[hedge]` section and `ballast backtest examples/hedged-treasury.toml`: errors name the
file and field; the example reports hedge error and cost against a fixed-interval hedge and no hedge."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ballast.cli import app
from ballast.config import load_strategy_file
from ballast.errors import InputError
from ballast.hedging import AbsoluteBand, Funding, RelativeBand

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hedged-treasury.toml"
runner = CliRunner()
HEAD = """
[data]
start = "2022-01-01"
end = "2022-06-30"
[target]
kind = "fixed"
weights = { ETH = 0.5, USD = 0.5 }
[portfolio]
cash = "USD"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(HEAD + text)
    return p


def test_the_example_builds_its_hedge() -> None:
    hedge = load_strategy_file(EXAMPLE).to_strategy().hedge
    assert hedge is not None
    assert hedge.exposure.asset == "ETH" and hedge.instrument_asset == "ETH"
    assert hedge.band == RelativeBand(0.1) and hedge.funding == Funding(0.0001)
    assert hedge.leverage == 2 and hedge.costs is not None and hedge.costs.describe() == "4 bps"


def test_backtest_reports_hedge_error_and_cost_against_fixed_and_unhedged() -> None:
    out = runner.invoke(app, ["backtest", str(EXAMPLE), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    table = summary["hedge_comparison"]
    band, fixed, unhedged = (table[k] for k in table)
    assert list(table)[1:] == ["fixed-interval hedge (weekly)", "unhedged"]
    assert band["hedge_error"] < 0.01 * unhedged["hedge_error"]
    # On 2021–2024 ETH the band reaches a lower error than the weekly hedge for less in fees.
    assert band["hedge_error"] < fixed["hedge_error"] and band["hedge_fees"] < fixed["hedge_fees"]
    assert band["hedge_funding"] < 0  # the short receives the positive funding
    assert summary["n_rehedges"] == band["n_rehedges"] > 0
    text = runner.invoke(app, ["backtest", str(EXAMPLE)])
    assert text.exit_code == 0 and "fixed-interval hedge" in text.output and "unhedged" in text.output


def test_funding_file_and_absolute_band(tmp_path: Path) -> None:
    times = pd.date_range("2021-12-31", "2022-07-01", freq="8h")
    pd.DataFrame({"date": times, "rate": 1e-4}).to_csv(tmp_path / "funding.csv", index=False)
    p = write(
        tmp_path, '[hedge]\nexposure = "ETH"\nband = 50000.0\nband_kind = "absolute"\nfunding_file = "funding.csv"\n'
    )
    s = load_strategy_file(p).to_strategy()
    assert s.hedge is not None and s.hedge.band == AbsoluteBand(50000.0) and s.hedge.funding.series is not None
    constant = write(tmp_path, '[hedge]\nexposure = "ETH"\nband = 50000.0\nband_kind = "absolute"\nfunding = 0.0001\n')
    a = runner.invoke(app, ["backtest", str(p), "--json"])
    b = runner.invoke(app, ["backtest", str(constant), "--json"])
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    fa, fb = json.loads(a.stdout)["hedge_funding"], json.loads(b.stdout)["hedge_funding"]
    assert fa == pytest.approx(fb, rel=1e-9)  # three 8 h rates a day = the constant rate's accrual


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("band = 0.1\n", "[hedge] exposure: Field required"),
        ('exposure = "ETH"\nband_kind = "wide"\n', "[hedge] band_kind"),
        ('exposure = "ETH"\nleverage = -2.0\n', "[hedge] leverage"),
        ('exposure = "ETH"\nband = 5.0\n', "relative bands are fractions"),
        ('exposure = "ETH"\nfunding = 0.0001\nfunding_file = "f.csv"\n', "not both"),
        ('exposure = "ETH"\nfunding_file = "missing.csv"\n', "[hedge] funding_file: no such file"),
        ('exposure = "ETH"\nleverage = 50.0\nmaintenance = 0.05\n', "[hedge] maintenance 0.05 must be below"),
        ('exposure = "ETH"\nfee_bps = "5"\n', "[hedge] fee_bps"),
    ],
)
def test_bad_hedge_fields_name_file_and_field(tmp_path: Path, body: str, message: str) -> None:
    p = write(tmp_path, "[hedge]\n" + body)
    with pytest.raises(InputError) as err:
        load_strategy_file(p)
    assert str(p) in str(err.value) and message in str(err.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('exposure = "BTC"\n', "hedge: exposure 'BTC' is not held"),
        ('exposure = "ETH"\ninstrument = "NOPE"\n', "'NOPE'"),
    ],
)
def test_bad_hedges_are_one_error_line(tmp_path: Path, body: str, message: str) -> None:
    p = write(tmp_path, "[hedge]\n" + body)
    out = runner.invoke(app, ["backtest", str(p)])
    assert out.exit_code == 2 and message in out.output and "Traceback" not in out.output


def test_hedge_error_is_zero_risk_for_a_full_same_asset_hedge(tmp_path: Path) -> None:
    p = write(
        tmp_path, '[hedge]\nexposure = "ETH"\nband = 0.0\nband_kind = "absolute"\n[trigger]\nrebalance = "never"\n'
    )
    out = runner.invoke(app, ["backtest", str(p), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["hedge_error"] < 1e-20
    assert np.isfinite(json.loads(out.stdout)["final_wealth"])


def test_frontier_over_band_widths_writes_csv_and_figure(tmp_path: Path) -> None:
    p = write(tmp_path, '[hedge]\nexposure = "ETH"\nband = 0.1\n[trigger]\nband = 0.05\n[costs]\nfee_bps = 10\n')
    out = runner.invoke(
        app,
        ["hedge", "frontier", str(p), "--out", str(tmp_path / "hf"), "--widths", "0.02,0.1,0.4", "--intervals", "1,7"],
    )
    assert out.exit_code == 0, out.output
    frame = pd.read_csv(tmp_path / "hf" / "hedge-frontier.csv")
    assert list(frame["family"]) == ["band"] * 3 + ["fixed-interval"] * 2 + ["unhedged"]
    band = frame[frame["family"] == "band"]
    assert np.all(np.diff(band["hedge_error"]) > 0)  # wider bands leave more risk...
    assert np.all(np.diff(band["trading_cost"]) < 0)  # ...for less trading
    assert frame["hedge_error"].iloc[-1] > 5 * band["hedge_error"].max()  # unhedged
    # Each row is a single backtest: the 0.1 band's row is the file's own hedge.
    single = json.loads(runner.invoke(app, ["backtest", str(p), "--json"]).stdout)
    assert band["hedge_error"].iloc[1] == pytest.approx(single["hedge_error"], rel=1e-12)
    assert "plotly" in (tmp_path / "hf" / "hedge-frontier.html").read_text()
    bad = runner.invoke(app, ["hedge", "frontier", str(p), "--widths", "0.1,x"])
    assert bad.exit_code == 2 and "--widths" in bad.output


def test_report_and_csv_show_the_hedge(tmp_path: Path) -> None:
    p = write(tmp_path, '[hedge]\nexposure = "ETH"\nband = 0.1\nfunding = 0.0001\n[trigger]\nband = 0.05\n')
    out = runner.invoke(app, ["backtest", str(p), "--out", str(tmp_path / "csv"), "--report", str(tmp_path / "r.html")])
    assert out.exit_code == 0, out.output
    hedge = pd.read_csv(tmp_path / "csv" / "hedge.csv", index_col=0)
    assert {"delta", "size", "target", "half_width", "funding", "reason"} <= set(hedge.columns)
    assert hedge["reason"].iloc[0] == "open the hedge"
    page = (tmp_path / "r.html").read_text()
    assert "Hedge and its band" in page and "Hedge costs" in page
