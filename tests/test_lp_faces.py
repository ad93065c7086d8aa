"""The liquidity position's faces: [[positions]] in TOML (errors name the field), the example,
`ballast backtest` and `lp-sweep` output, the report panels."""

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
from ballast.positions.provision import AprFees, VolumeFees
from ballast.positions.ranges import CharmStyle, VolatilityScaled

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "protocol-owned-liquidity.toml"
runner = CliRunner()
HEAD = """
[data]
prices = "crypto"
assets = ["ETH"]
start = "2023-01-01"
end = "2023-06-30"
[target]
kind = "fixed"
weights = { ETH = 0.5, USDC = 0.5 }
[portfolio]
cash = "USDC"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(HEAD + text)
    return p


def test_the_example_builds_its_position() -> None:
    s = load_strategy_file(EXAMPLE).to_strategy()
    lp = s.liquidity
    assert lp is not None and lp.pair == ("ETH", "USDC") and lp.fee_tier == 3000 and lp.share == 0.6
    assert isinstance(lp.policy, VolatilityScaled) and lp.policy.k == 2.0 and lp.policy.horizon == 14
    assert lp.rule.cooldown == 3 and lp.rule.twap_max_ticks == 1500 and lp.rule.gas_max_days == 2
    assert isinstance(lp.fees, AprFees) and lp.fees.apr == 0.06


def test_backtest_of_the_example_shows_fees_il_lvr_and_resets_against_holding() -> None:
    out = runner.invoke(app, ["backtest", str(EXAMPLE), "--json"])
    assert out.exit_code == 0, out.output
    m = json.loads(out.output)
    assert m["lp_fees"] > 0 and m["lp_lvr"] > 0 and m["lp_impermanent_loss"] > 0 and m["lp_resets"] >= 1
    assert 0.5 < m["lp_time_in_range"] <= 1.0
    assert "lp_fees" not in m["baseline"]  # buy & hold holds no position
    assert "liquidity" in m["strategy"]
    table = runner.invoke(app, ["backtest", str(EXAMPLE)])
    assert table.exit_code == 0
    assert "lp_impermanent_loss" in table.output and "liquidity" in table.output


def test_toml_errors_name_the_field(tmp_path: Path) -> None:
    lp = 'kind = "concentrated_lp"\npair = ["ETH", "USDC"]\n'
    cases = {
        lp + "fee_tier = 2500": "fee_tier must be one of",
        lp + "share = 1.5": "[[positions]] 1 share",
        lp + 'range = { policy = "charm", pct = 0.1 }': "pct do not apply to policy 'charm'",
        lp + 'range = { policy = "fixed", pct = 1.5 }': "pct must be a fraction",
        lp + 'fees = { volume = "v.csv" }': "volume needs tvl",
        lp + "reset = { cooldwn = 3 }": "[[positions]] 1 reset.cooldwn: not a reset key",
        lp + "reset = { cooldown = -3 }": "[[positions]] 1 reset: reset rule: cooldown must be a whole number ≥ 0",
        'kind = "range_order"\npair = ["ETH", "USDC"]': "[[positions]] 1 kind",
    }
    for body, message in cases.items():
        with pytest.raises(InputError, match=None) as info:
            load_strategy_file(write(tmp_path, "[[positions]]\n" + body))
        assert message in str(info.value), (body, str(info.value))
        assert str(tmp_path / "s.toml") in str(info.value) or "[[positions]]" in str(info.value)


def test_volume_fees_from_a_file_and_a_charm_range(tmp_path: Path) -> None:
    dates = pd.date_range("2023-01-01", "2023-06-30", freq="D")
    pd.DataFrame({"date": dates, "volume": np.full(len(dates), 2e8)}).to_csv(tmp_path / "v.csv", index=False)
    p = write(
        tmp_path,
        '[[positions]]\nkind = "concentrated_lp"\npair = ["ETH", "USDC"]\nshare = 0.8\n'
        'range = { policy = "charm", base_ticks = 1200, limit = 600 }\n'
        'fees = { volume = "v.csv", tvl = 3e8 }\n',
    )
    s = load_strategy_file(p).to_strategy()
    assert isinstance(s.liquidity.policy, CharmStyle)  # type: ignore[union-attr]
    assert isinstance(s.liquidity.fees, VolumeFees)  # type: ignore[union-attr]
    out = runner.invoke(app, ["backtest", str(p), "--json"])
    assert out.exit_code == 0, out.output
    m = json.loads(out.output)
    assert m["lp_fees"] > 0 and m["lp_swap_costs"] == 0.0


def test_lp_sweep_writes_the_frontier(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        '[[positions]]\nkind = "concentrated_lp"\npair = ["ETH", "USDC"]\nreset_gas = 20\n'
        "range = { pct = 0.1 }\nfees = { apr = 0.1 }\nsweep = { pct = [0.02, 0.05, 0.2, 0.5] }\n",
    )
    csv, html = tmp_path / "f.csv", tmp_path / "f.html"
    out = runner.invoke(app, ["lp-sweep", str(p), "--out", str(csv), "--plot", str(html)])
    assert out.exit_code == 0, out.output
    table = pd.read_csv(csv)
    assert list(table["pct"]) == [0.02, 0.05, 0.2, 0.5]
    assert (np.diff(table["mean_width"]) > 0).all()
    assert (np.diff(table["lp_resets"]) <= 0).all()  # wider ranges reset less often
    np.testing.assert_allclose(
        table["fees_minus_lvr_gas"], table["lp_fees"] - table["lp_lvr"] - table["lp_gas"] - table["lp_swap_costs"]
    )
    assert "Range width frontier" in html.read_text()
    bad = runner.invoke(
        app,
        [
            "lp-sweep",
            str(
                write(
                    tmp_path,
                    '[[positions]]\nkind = "concentrated_lp"\npair = ["ETH", "USDC"]\nsweep = { widht = [1] }\n',
                )
            ),
        ],
    )
    assert bad.exit_code == 2 and "sweep.widht: not a key of range or reset" in bad.output


def test_the_report_draws_the_range_and_the_position(tmp_path: Path) -> None:
    from ballast.config import load_strategy_file as load
    from ballast.engine.backtest import backtest
    from ballast.report.figures import all_figures

    cfg = load(EXAMPLE)
    s = cfg.to_strategy()
    r = backtest(cfg.prices_path(), s, assets=cfg.data.assets, start="2023-01-01")
    keys = [f.key for f in all_figures([r])]
    assert "lp-range" in keys and "lp-value" in keys
    fig = next(f for f in all_figures([r]) if f.key == "lp-range")
    lower = np.asarray(fig.figure.data[1].y, dtype=float)
    assert np.nanmin(lower) > 0 and "In range" in fig.caption


def test_the_live_service_refuses_a_position_it_cannot_hold(tmp_path: Path) -> None:
    """Live, a position sits in the paper pool or is proposed, never at an exchange (tests/test_live_lp*.py)."""
    from ballast.live.service import RunSettings, open_service

    p = write(tmp_path, '[[positions]]\nkind = "concentrated_lp"\npair = ["ETH", "USDC"]\n')
    with pytest.raises(InputError, match=r'\[\[positions\]\] concentrated_lp: \[live\] executor = "ccxt" cannot hold'):
        open_service(str(p), RunSettings(db=str(tmp_path / "l.db"), speed="max", executor="ccxt"))
    assert not (tmp_path / "l.db").exists()
