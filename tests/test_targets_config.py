"""Risk targets, constraints and risk triggers from strategy TOML files, and on the command line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ballast.cli import app
from ballast.config import load_strategy_file
from ballast.errors import InputError
from ballast.targets.constraints import Bounds, Reserve, Runway, TurnoverLimit
from ballast.targets.risk import InverseVol, MinVariance, RiskParity, VolTarget
from ballast.triggers import TrackingError, VolatilityRegime

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NEW = ["inverse_vol", "risk_parity", "min_variance", "vol_target", "treasury_runway", "vol_regime", "tracking_error"]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_examples_build_the_objects_they_name() -> None:
    s = {n: load_strategy_file(EXAMPLES / f"{n}.toml").to_strategy() for n in NEW}
    assert isinstance(s["inverse_vol"].target, InverseVol)
    assert isinstance(s["risk_parity"].target, Bounds) and isinstance(s["risk_parity"].target.inner, RiskParity)
    mv = s["min_variance"].target
    assert isinstance(mv, MinVariance) and mv.bounds == (0.05, 0.35) and mv.shrinkage == "constant_correlation"
    vt = s["vol_target"].target
    assert isinstance(vt, VolTarget) and isinstance(vt.inner, RiskParity) and vt.reserve == "USDT"
    tr = s["treasury_runway"].target
    assert isinstance(tr, TurnoverLimit) and isinstance(tr.inner, Runway) and tr.inner.floor == 2_700_000
    assert isinstance(s["vol_regime"].trigger.inner.leaves()[0], VolatilityRegime)
    assert isinstance(s["tracking_error"].trigger, TrackingError)


@pytest.mark.parametrize("name", NEW)
def test_cli_runs_each_example_and_shows_the_target(name: str) -> None:
    res = CliRunner().invoke(app, ["backtest", str(EXAMPLES / f"{name}.toml")], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    kind = load_strategy_file(EXAMPLES / f"{name}.toml").target.kind
    assert re.search(rf"target +{kind}[(:]", res.output)
    if name == "risk_parity":
        assert "lookback=90" in res.output and "shrinkage=ledoit_wolf" in res.output and "max_weight=0.4" in res.output


def test_min_reserve_and_per_asset_bounds(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
[data]
assets = ["BTC", "ETH", "USDT"]
[target]
kind = "inverse_vol"
lookback = 30
assets = ["BTC", "ETH"]
max_weight = { BTC = 0.5 }
min_reserve = { asset = "USDT", min_weight = 0.2 }
""",
    )
    t = load_strategy_file(p).to_strategy().target
    assert isinstance(t, Reserve) and t.min_weight == 0.2 and isinstance(t.inner, Bounds)
    assert t.assets() == ("BTC", "ETH", "USDT")


@pytest.mark.parametrize(
    "body, message",
    [
        ('kind = "risk_parity"\nlookbak = 60', r"\[target\] unexpected key\(s\) lookbak for kind 'risk_parity'"),
        ('kind = "risk_parity"\nlookback = "60"', r"\[target\] lookback must be an integer, got '60'"),
        ('kind = "risk_parity"\nlookback = 1', r"\[target\] RiskParity: lookback must be an integer number of periods"),
        ('kind = "risk_parity"\nshrinkage = "oas"', r"shrinkage must be 'ledoit_wolf', 'constant_correlation' or none"),
        ('kind = "inverse_vol"\nestimator = "garch"', r"estimator must be one of rolling, ewma, got 'garch'"),
        ('kind = "min_variance"\nbounds = [0.5]', r"MinVariance: bounds must be a pair \(min, max\)"),
        ('kind = "vol_target"\nlookback = 60', r"kind 'vol_target' needs target_vol"),
        ('kind = "vol_target"\ntarget_vol = 0.2\ninner = { kind = "magic" }', r"inner: unknown kind 'magic'"),
        (
            'kind = "vol_target"\ntarget_vol = 0.2\ninner = { kind = "risk_parity", lookback = 0 }',
            r"inner: RiskParity: lookback",
        ),
        ('kind = "risk_parity"\nweights = { BTC = 1.0 }', r"weights belongs to kind 'fixed', not 'risk_parity'"),
        (
            'kind = "equal"\nrunway = { asset = "USDT", monthly_spend = 1000 }',
            r"runway needs asset, monthly_spend and months",
        ),
        ('kind = "equal"\nmin_reserve = { asset = "USDT" }', r"min_reserve needs asset and min_weight"),
        ('kind = "equal"\nmax_turnover = 2', r"max_turnover must be a number > 0 and <= 1"),
        ('kind = "equal"\nmax_weight = "lots"', r"max_weight must be a number or a table, got 'lots'"),
    ],
)
def test_target_errors_name_the_field(tmp_path: Path, body: str, message: str) -> None:
    p = write(tmp_path, f"[target]\n{body}\n")
    with pytest.raises(InputError, match=message):
        load_strategy_file(p)


@pytest.mark.parametrize(
    "body, message",
    [
        ("vol_change = -0.2", r"\[trigger\] vol_change: Input should be greater than 0"),
        ("tracking_error = 0", r"\[trigger\] tracking_error: Input should be greater than 0"),
        ("vol_thresholds = [0.9, 0.3]", r"thresholds must be increasing"),
        ("te_lookback = 1", r"\[trigger\] te_lookback: Input should be greater than or equal to 2"),
    ],
)
def test_trigger_errors_name_the_field(tmp_path: Path, body: str, message: str) -> None:
    p = write(tmp_path, f"[trigger]\n{body}\n")
    with pytest.raises(InputError, match=message):
        load_strategy_file(p)


def test_cli_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        '[data]\nassets = ["BTC", "ETH"]\n[target]\nkind = "risk_parity"\nlookback = 30\n[portfolio]\ncash = "CASH"\n',
    )
    res = CliRunner().invoke(app, ["backtest", str(p)], env={"COLUMNS": "200"})
    assert res.exit_code == 2
    assert "'CASH' has zero volatility over the 30 returns ending" in res.output
    assert "Traceback" not in res.output
