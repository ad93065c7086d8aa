"""Loans in the strategy file: [[loans]] and [trigger] health, errors naming the field, the example."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ballast.cli import app
from ballast.config import load_strategy_file
from ballast.errors import InputError
from ballast.positions import AaveV3, EulerV2, MakerStyle, MorphoBlue
from ballast.yields import RateSeries

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "leveraged-treasury.toml"
runner = CliRunner()
HEAD = """
[target]
kind = "fixed"
weights = { ETH = 0.9, USDT = 0.1 }
[portfolio]
cash = "USDT"
"""
LOAN = """
[[loans]]
collateral = ["ETH"]
debt = "USDT"
ltv = 0.8
liquidation_threshold = 0.83
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(HEAD + text)
    return p


def test_the_example_builds_a_loan_with_its_band() -> None:
    s = load_strategy_file(EXAMPLE).to_strategy()
    assert s.loans is not None and len(s.loans) == 1
    pos = s.loans.positions[0]
    assert pos.loan.collateral == ("ETH",) and pos.loan.debt == "USDC" and isinstance(pos.rule, AaveV3)
    assert (pos.band.repay_below, pos.band.repay_to, pos.band.boost_above, pos.band.boost_to) == (1.6, 1.8, 2.4, 2.0)
    assert pos.band.min_debt_change == 30_000 and pos.open_health == 2.0
    assert s.trigger.describe() == "never"  # with loans the calendar default is off: the band trades


@pytest.mark.parametrize(
    ("rule", "extra", "kind"),
    [
        ("euler-v2", "max_discount = 0.1", EulerV2),
        ("maker", "penalty = 0.13", MakerStyle),
        ("morpho-blue", "", MorphoBlue),
    ],
)
def test_rules_and_their_options(tmp_path: Path, rule: str, extra: str, kind: type) -> None:
    s = load_strategy_file(write(tmp_path, LOAN + f'rule = "{rule}"\n{extra}\n')).to_strategy()
    assert isinstance(s.loans.positions[0].rule, kind)


def test_a_borrow_rate_file(tmp_path: Path) -> None:
    dates = pd.date_range("2019-01-01", periods=40, freq="D")
    pd.DataFrame({"date": dates, "rate": 0.06}).to_csv(tmp_path / "aave.csv", index=False)
    s = load_strategy_file(write(tmp_path, LOAN + 'borrow_rate = { rates = "aave.csv" }\n')).to_strategy()
    assert isinstance(s.loans.positions[0].loan.rate, RateSeries)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            LOAN.replace("0.83", "0.8"),
            r"\[\[loans\]\] 1: loan: liquidation_threshold of ETH \(0.8\) must be above its ltv",
        ),
        (
            LOAN + "[trigger]\nhealth = { repay_below = 1.5, repay_to = 1.4 }\n",
            r"\[trigger\] health: .*repay_to \(1.4\)",
        ),
        (LOAN + 'rule = "aave-v3"\npenalty = 0.1\n', r'\[\[loans\]\] 1 .*penalty belongs to rule = "maker"'),
        (LOAN + 'rule = "compound"\n', r"\[\[loans\]\] 1 rule"),
        (LOAN + "ltv_max = 3\n", r"\[\[loans\]\] 1 ltv_max"),
        (LOAN + 'borrow_rate = "5%"\n', r"\[\[loans\]\] 1 borrow_rate"),
        (
            "[trigger]\nhealth = { repay_below = 1.5, repay_to = 1.7 }\n",
            r"\[trigger\] health: a health band needs a loan",
        ),
        (LOAN + "[trigger]\nhealth = { repay_below = 1.5 }\n", r"\[trigger\] health repay_to"),
        (LOAN + 'borrow_rate = { rates = "missing.csv" }\n', r"\[\[loans\]\] 1.borrow_rate: .*no such file"),
    ],
)
def test_bad_loans_name_file_section_and_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        load_strategy_file(write(tmp_path, text))
    assert str(err.value).startswith(str(tmp_path / "s.toml"))


def test_a_debt_asset_without_prices_is_one_error_line(tmp_path: Path) -> None:
    p = write(tmp_path, LOAN.replace('debt = "USDT"', 'debt = "DAI"'))
    out = runner.invoke(app, ["backtest", str(p)])
    assert out.exit_code == 2
    assert "DAI" in out.output and "Traceback" not in out.output


def test_backtest_of_the_example_shows_hf_repays_and_boosts() -> None:
    out = runner.invoke(app, ["backtest", str(EXAMPLE)], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    text = out.output
    assert "loan ETH/USDC: HF" in text and "repays" in text and "boosts" in text
    for name in ("n_liquidations", "n_repays", "n_boosts", "min_health_factor", "borrow_paid"):
        assert name in text
    js = runner.invoke(app, ["backtest", str(EXAMPLE), "--json"])
    metrics = json.loads(js.output)
    assert metrics["n_repays"] > 0 and metrics["n_boosts"] > 0
    assert 1.0 < metrics["min_health_factor"] < 1.6  # 2020-03-12 took it close to liquidation, at a close


def test_a_sweep_refuses_loans_rather_than_ignoring_them(tmp_path: Path) -> None:
    p = write(tmp_path, LOAN + "[sweep]\nfee_bps = [10, 30]\n")
    out = runner.invoke(app, ["sweep", str(p), "--out", str(tmp_path / "o.parquet")])
    assert out.exit_code == 2, out.output
    assert "ballast sweep does not run loans yet" in out.output and "Traceback" not in out.output
