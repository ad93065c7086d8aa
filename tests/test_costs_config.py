"""The TOML [costs] and [plan] keys of this issue, the CLI, and the cost study command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ballast.cli import app
from ballast.config import load_strategy_file
from ballast.costs import ConstantProductPool, Gas, Spread, StableSwapPool
from ballast.errors import InputError
from ballast.planning import CostAware

GOOD = """
name = "dao treasury"
[data]
prices = "crypto"
assets = ["BTC", "ETH", "USDT"]
end = "2019-01-01"
[target]
kind = "fixed"
weights = { BTC = 0.4, ETH = 0.3, USDT = 0.3 }
[trigger]
rebalance = "weekly"
band = 0.05
[plan]
kind = "cost-aware"
risk_aversion = 0.1
gate = true
[portfolio]
cash = "USDT"
capital = 5e6
[costs]
spread_bps = 4
[[costs.pools]]
kind = "constant-product"
depth = { BTC = 3e7, ETH = 2e7 }
fee = 0.003
[costs.gas]
units_per_swap = 150000
gas_price_gwei = 25
native_asset = "ETH"
hops = { BTC = 2 }
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_cost_aware_strategy_file(tmp_path: Path) -> None:
    cfg = load_strategy_file(write(tmp_path, GOOD))
    s = cfg.to_strategy()
    assert isinstance(s.planner, CostAware) and s.planner.risk_aversion == 0.1 and s.planner.cash == "USDT"
    assert s.planner.band is not None and s.planner.band.width == 0.05
    kinds = [type(m) for m in s.costs.models]
    assert kinds == [Spread, ConstantProductPool, Gas]
    assert s.costs.models[2].hops == {"BTC": 2}


def test_cost_aware_backtest_from_the_cli(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["backtest", str(write(tmp_path, GOOD)), "--json"])
    assert res.exit_code == 0, res.output
    assert '"plan": "cost-aware (risk aversion 0.1, absolute band 0.05)"' in res.output


@pytest.mark.parametrize(
    "patch, message",
    [
        (('kind = "cost-aware"', 'kind = "full"'), "plan: Value error, risk_aversion, gate only apply"),
        (
            ("risk_aversion = 0.1", "risk_aversion = -1"),
            "[plan] risk_aversion: Input should be greater than or equal to 0",
        ),
        (('kind = "constant-product"', 'kind = "balancer"'), "[costs] pools.kind"),
        (("depth = { BTC = 3e7, ETH = 2e7 }", "depth = 0"), "[costs] pools.depth"),
        (("gas_price_gwei = 25", "gas_price = 25"), "[costs] gas.gas_price"),
        (("fee = 0.003", "fee = 0.003\nA = 50"), "A only applies"),
    ],
)
def test_bad_cost_keys_are_named(tmp_path: Path, patch: tuple[str, str], message: str) -> None:
    with pytest.raises(InputError) as e:
        load_strategy_file(write(tmp_path, GOOD.replace(*patch)))
    assert message in str(e.value) and "s.toml" in str(e.value)


def test_stableswap_pool_from_toml(tmp_path: Path) -> None:
    text = GOOD.replace(
        'kind = "constant-product"\ndepth = { BTC = 3e7, ETH = 2e7 }\nfee = 0.003',
        'kind = "stableswap"\ndepth = 5e7\nA = 200\nassets = ["USDT"]',
    )
    s = load_strategy_file(write(tmp_path, text)).to_strategy()
    pool = s.costs.models[1]
    assert isinstance(pool, StableSwapPool) and pool.A == 200 and pool.assets == ["USDT"]


def test_unknown_gas_asset_is_a_clear_cli_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app, ["backtest", str(write(tmp_path, GOOD.replace('native_asset = "ETH"', 'native_asset = "MATIC"')))]
    )
    assert res.exit_code == 2
    assert "native asset 'MATIC' is not among the prices" in res.output
    assert "Traceback" not in res.output


def test_study_command_writes_table_and_charts(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["study", "costs", "--out", str(tmp_path), "--end", "2018-12-31"])
    assert res.exit_code == 0, res.output
    assert "cost study: winners" in res.output
    import pandas as pd

    df = pd.read_csv(tmp_path / "cost-study.csv")
    assert set(df.regime) == {"CEX 10 bps", "mainnet DEX", "L2 DEX"}
    assert set(df.capital) == {1e6, 1e8}
    assert df.rule.nunique() >= 8 and len(df) == 6 * df.rule.nunique()
    assert np.isfinite(df.select_dtypes("number").to_numpy()).all()
    # CEX costs are proportional: the same rule pays 100× on a 100× larger treasury (exactly for
    # the fixed rules; the cost-aware gate compares near-equal numbers, so a few decisions may flip)
    cex = df[df.regime == "CEX 10 bps"].pivot(index="rule", columns="capital", values="costs_paid")
    fixed_rules = ~cex.index.str.startswith("cost-aware")
    np.testing.assert_allclose(cex[1e8][fixed_rules] / cex[1e6][fixed_rules], 100.0, rtol=1e-9)
    np.testing.assert_allclose(cex[1e8][~fixed_rules] / cex[1e6][~fixed_rules], 100.0, rtol=1e-2)
    # pool impact makes the large treasury pay more per dollar on the DEX
    dex = df[df.regime == "mainnet DEX"].pivot(index="rule", columns="capital", values="costs_bps")
    assert (dex[1e8] > dex[1e6]).all()
    assert (tmp_path / "cost-study.html").exists() and "| regime |" in (tmp_path / "cost-study.md").read_text()


def test_risk_aversion_flag(tmp_path: Path) -> None:
    from ballast.cli import resolve_strategy

    s, _ = resolve_strategy(write(tmp_path, GOOD), {"risk_aversion": 0.7})
    assert isinstance(s.planner, CostAware) and s.planner.risk_aversion == 0.7 and s.planner.band is not None
    res = CliRunner().invoke(app, ["backtest", "--plan", "full", "--risk-aversion", "0.2"])
    assert res.exit_code == 2 and "risk_aversion only applies to plan 'cost-aware'" in res.output
    res = CliRunner().invoke(
        app,
        [
            "backtest",
            "--target",
            "BTC=0.5,USDT=0.5",
            "--cash",
            "USDT",
            "--band",
            "0.05",
            "--plan",
            "cost-aware",
            "--risk-aversion",
            "0.2",
            "--fee-bps",
            "10",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "cost-aware (risk aversion 0.2, absolute band 0.05)" in res.output


def test_example_dex_treasury_runs() -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "dex-treasury.toml"
    res = CliRunner().invoke(app, ["backtest", str(example), "--json"])
    assert res.exit_code == 0, res.output
    import json

    out = json.loads(res.stdout)
    assert out["total_costs"] > 0 and out["strategy"]["plan"].startswith("cost-aware")
