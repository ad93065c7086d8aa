"""The treasury's faces: TOML sections (errors name file and field), CLI flags, the Python API and
sweep axes over rates and spend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import ballast
from ballast.cli import app
from ballast.config import load_strategy_file
from ballast.errors import InputError
from ballast.flows import Dated, Recurring, SpendingRule
from ballast.yields import ConstantAPY, RateSeries, UtilizationCurve

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dao-treasury.toml"
runner = CliRunner()
HEAD = """
[target]
kind = "fixed"
weights = { BTC = 0.5, USDT = 0.5 }
[portfolio]
cash = "USDT"
"""


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(HEAD + text)
    return p


def test_the_example_builds_yields_flows_and_routing() -> None:
    s = load_strategy_file(EXAMPLE).to_strategy()
    assert s.yields is not None and s.flows is not None
    assert s.yields.sources["ETH"].apy == 0.035 and s.yields.sources["USDC"].apy == 0.04
    kinds = [type(f) for f in s.flows.flows]
    assert kinds == [Recurring, Recurring] and s.flows.routing == "rebalance" and s.flows.runway_floor == 24
    assert s.flows.monthly_spend() == pytest.approx(150_000 - 200_000 / 3)


def test_rate_files_curves_tables_and_nav_rules(tmp_path: Path) -> None:
    dates = pd.date_range("2020-01-01", periods=30, freq="D")
    pd.DataFrame({"date": dates, "rate": 0.05, "borrow": 0.07}).to_csv(tmp_path / "dsr.csv", index=False)
    pd.DataFrame({"date": dates, "utilization": 0.8}).to_csv(tmp_path / "util.csv", index=False)
    pd.DataFrame({"date": ["2020-01-10"], "asset": ["USDT"], "amount": [-5]}).to_csv(tmp_path / "f.csv", index=False)
    p = write(
        tmp_path,
        """
[yield]
day_count = 360
USDT = { rates = "dsr.csv", borrow_column = "borrow", mode = "payout" }
BTC = { curve = { base = 0, slope1 = 0.04, slope2 = 0.6, optimal = 0.9 }, utilization = "util.csv" }
[[flows]]
file = "f.csv"
[[flows]]
nav_rate = 0.04
every = "quarterly"
""",
    )
    s = load_strategy_file(p).to_strategy()
    assert s.yields.day_count == 360
    assert isinstance(s.yields.sources["USDT"], RateSeries) and s.yields.sources["USDT"].mode == "payout"
    assert isinstance(s.yields.sources["BTC"], UtilizationCurve)
    assert [type(f) for f in s.flows.flows] == [Dated, SpendingRule]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[yield]\nUSDT = -1.5", "[yield] USDT apy: Input should be greater than -1"),
        (
            "[yield]\nUSDT = { apy = 0.05, rates = 'x.csv' }",
            "[yield] USDT (table): Value error, give exactly one of apy",
        ),
        (
            "[yield]\nUSDT = { apy = 0.05, mode = 'coupon' }",
            "[yield] USDT mode: Input should be 'compounding' or 'payout'",
        ),
        ("[yield]\nUSDT = 'high'", "[yield] USDT: expected an APY or a table"),
        ("[yield]\nUSDT = { rates = 'missing.csv' }", "[yield] USDT.rates: no such file"),
        ("[[flows]]\namount = -5\nevery = 'fortnightly'", "[[flows]] 1 every: Input should be 'daily'"),
        (
            "[[flows]]\nevery = 'monthly'",
            "[[flows]] 1 (table): Value error, give exactly one of amount, spend, file, nav_rate",
        ),
        ("[[flows]]\nspend = 'lots'", "[[flows]] 1.spend: spend 'lots': expected AMOUNT/PERIOD"),
        ("[[flows]]\namount = -5\n[treasury]\nrouting = 'fifo'", "[treasury] routing: Input should be 'cash'"),
    ],
)
def test_treasury_errors_name_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_strategy_file(p)
    assert str(err.value).startswith(f"{p}: ") and expected in str(err.value)


def test_errors_at_run_time_name_the_field(tmp_path: Path) -> None:
    pd.DataFrame({"date": ["2030-01-01"], "amount": [-5]}).to_csv(tmp_path / "late.csv", index=False)
    p = write(tmp_path, "[[flows]]\nfile = 'late.csv'\n[data]\nprices = 'crypto'\n")
    out = runner.invoke(app, ["backtest", str(p)])
    assert out.exit_code == 2 and "late.csv: row 1, field date: 2030-01-01 is outside the prices" in out.output
    p = write(tmp_path, "[[flows]]\namount = -5\nasset = 'SOL'\n")
    out = runner.invoke(app, ["backtest", str(p)])
    assert out.exit_code == 2 and "asset 'SOL' is not one the strategy holds" in out.output
    assert "Traceback" not in out.output


def test_cli_yield_and_spend_flags() -> None:
    out = runner.invoke(
        app,
        [
            "backtest",
            "--target",
            "BTC=0.5,USDT=0.5",
            "--cash",
            "USDT",
            "--yield",
            "USDT=0.05",
            "--spend",
            "20000/month",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["paid_out"] > 0 and data["yield_earned"] > 0 and "irr" in data["baseline"]
    assert data["strategy"]["yields"] == {"USDT": "5.0000% APY (compounding)"}
    bad = runner.invoke(app, ["backtest", "--yield", "USDT", "--cash", "USDT"])
    assert bad.exit_code == 2 and "--yield 'USDT': expected NAME=APY" in bad.output
    bad = runner.invoke(app, ["backtest", "--spend", "50k", "--cash", "USDT"])
    assert bad.exit_code == 2 and "expected AMOUNT/PERIOD" in bad.output


def test_cli_prints_treasury_rows_next_to_buy_and_hold() -> None:
    out = runner.invoke(app, ["backtest", str(EXAMPLE)])
    assert out.exit_code == 0, out.output
    for row in ("twr", "irr", "yield_earned", "runway_months", "runs out: never"):
        assert row in out.output
    line = next(ln for ln in out.output.splitlines() if "days_below_floor" in ln)
    cells = [c.strip() for c in line.replace("│", "|").split("|") if c.strip()][1:]  # not "210.000"
    assert len(cells) == 2 and all(c.replace(",", "").isdigit() for c in cells), line


@pytest.mark.parametrize(
    ("treasury", "pooled"),
    [
        ({"yields": "USDT=0.05,ETH=0.03", "spend": 20_000.0}, True),  # compounding: a scaled walk
        ({"spend": 20_000.0, "routing": "rebalance"}, True),  # flows alone
        ({"yields": {"ETH": ConstantAPY(0.04, mode="payout")}, "spend": 20_000.0}, False),  # a payout: one by one
    ],
)
def test_a_band_sweep_with_shared_yields_and_flows_equals_single_backtests(
    treasury: dict[str, object], pooled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Configurations that share their yields and flows run in the pooled sweep kernel (each
    with its own treasury book); every row and equity path equals its single backtest, bit for bit."""
    import ballast.sweep.batch as batch

    calls: list[int] = []
    one_by_one = batch.treasury_configs
    monkeypatch.setattr(batch, "treasury_configs", lambda *a, **k: calls.append(1) or one_by_one(*a, **k))
    kw = dict(target="BTC=0.4,ETH=0.3,USDT=0.3", cash="USDT", start="2019-01-01", end="2020-12-31", fee_bps=20)
    bands = [0.02, 0.05, 0.1]
    table, paths = ballast.sweep("crypto", band=bands, paths=True, **kw, **treasury)
    assert bool(calls) is not pooled
    for k, band in enumerate(bands):
        single = ballast.backtest("crypto", band=band, **kw, **treasury)
        row = table.iloc[k]
        for name in table.columns[2:]:  # every metric column, after config and band
            assert row[name] == single.metrics[name] or (np.isnan(row[name]) and np.isnan(single.metrics[name])), (
                name,
                band,
            )
        np.testing.assert_array_equal(paths.iloc[:, k].to_numpy(), single.raw.equity)
    assert table["final_wealth"].nunique() == 3


def test_python_api_and_sweep_axes_equal_single_backtests() -> None:
    kw = dict(target="BTC=0.5,USDT=0.5", cash="USDT", start="2019-01-01", end="2020-12-31", band=0.1)
    table = ballast.sweep("crypto", yields=["USDT=0.02", "USDT=0.08"], spend=[10_000.0, 40_000.0], **kw)
    assert len(table) == 4
    for _, row in table.iterrows():
        single = ballast.backtest("crypto", yields=row["yields"], spend=row["spend"], **kw)
        assert row["final_wealth"] == single.metrics["final_wealth"]
        assert row["total_costs"] == single.metrics["total_costs"]
    assert table["final_wealth"].nunique() == 4
    r = ballast.backtest(
        "crypto", yields={"USDT": ConstantAPY(0.05)}, flows=[SpendingRule(0.04)], routing="pro-rata", **kw
    )
    assert r.metrics["paid_out"] > 0 and np.isfinite(r.metrics["irr"])
