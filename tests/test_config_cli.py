"""The strategy file and the command line: flags override the file; mistakes give clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ballast.cli import app
from ballast.config import load_strategy_file
from ballast.errors import InputError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
runner = CliRunner()


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


def test_examples_load() -> None:
    for path in sorted(EXAMPLES.glob("*.toml")):
        load_strategy_file(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[target\nkind='equal'", "not valid TOML"),
        ("[trigger]\nband = 'wide'", "[trigger] band: Input should be a valid number"),
        ("[trigger]\nbnad = 0.1", "[trigger] bnad: Extra inputs are not permitted"),
        ("[target]\nkind = 'fixed'\nweights = { BTC = 0.7, ETH = 0.4 }", "[target] Fixed: weights sum to 1.1"),
        ("[target]\nkind = 'magic'", "[target] unknown kind 'magic'"),
        ("[target]\nkind = 'fixed'", "[target] kind 'fixed' needs weights"),
        ("[trigger]\nband = -0.1", "[trigger] band: Input should be greater than or equal to 0"),
        ("[trigger]\nrebalance = 'fortnightly'", "unknown frequency 'fortnightly'"),
        ("[plan]\nkind = 'band-edge'", "needs a band"),
    ],
)
def test_file_errors_name_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        load_strategy_file(path)
    assert str(path) in str(exc.value)
    assert expected in str(exc.value)


def test_cli_json_and_flags_override_file(tmp_path: Path) -> None:
    res = runner.invoke(app, ["backtest", str(EXAMPLES / "monthly_equal.toml"), "--json"])
    assert res.exit_code == 0, res.output
    base = json.loads(res.stdout)
    assert base["n_rebalances"] > 0 and base["final_wealth"] > 0
    res = runner.invoke(app, ["backtest", str(EXAMPLES / "monthly_equal.toml"), "--json", "--rebalance", "never"])
    assert json.loads(res.stdout)["n_rebalances"] == 0
    res = runner.invoke(app, ["backtest", str(EXAMPLES / "monthly_equal.toml"), "--json", "--fee-bps", "50"])
    assert json.loads(res.stdout)["total_costs"] > base["total_costs"]
    out = tmp_path / "out"
    res = runner.invoke(app, ["backtest", "--target", "BTC=0.5,ETH=0.5", "--band", "0.1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} >= {"equity.csv", "weights.csv", "trades.csv", "rebalances.csv"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--target", "BTC=0.5,NOPE=0.5"], "unknown asset(s) 'NOPE'"),
        (["--prices", "missing.csv"], "no such file"),
        (["--target", "BTC=0.5,ETH"], "expected 'equal' or NAME=WEIGHT"),
        (["--band-kind", "sideways", "--band", "0.1"], "kind must be one of"),
        (["--plan", "magic"], "plan must be one of"),
    ],
)
def test_cli_errors_are_one_clean_line(args: list[str], expected: str) -> None:
    res = runner.invoke(app, ["backtest", *args])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert expected in " ".join(res.output.split())


def test_cli_bad_price_file(tmp_path: Path) -> None:
    f = tmp_path / "p.csv"
    f.write_text("date,A,B\n2024-01-01,1,2\n2024-01-02,1,-2\n2024-01-03,1,2\n")
    res = runner.invoke(app, ["backtest", "--prices", str(f)])
    assert res.exit_code == 2
    assert "asset 'B' at 2024-01-02" in " ".join(res.output.split())
    f.write_text("date,A,B\n2024-01-01,1,2\n2024-01-02,1,\n2024-01-03,1,2\n")
    res = runner.invoke(app, ["backtest", "--prices", str(f)])
    assert "--fill forward" in " ".join(res.output.split())
    res = runner.invoke(app, ["backtest", "--prices", str(f), "--fill", "forward", "--json"])
    assert res.exit_code == 0, res.output


def test_datasets_lists_bundled() -> None:
    res = runner.invoke(app, ["datasets"])
    assert res.exit_code == 0 and "crypto" in res.output


def test_parquet_and_relatives_inputs(tmp_path: Path) -> None:
    import pandas as pd

    from ballast.data.loaders import load_prices

    prices = load_prices("crypto", assets=["BTC", "ETH"]).iloc[:200]
    pq = tmp_path / "p.parquet"
    prices.rename_axis("date").reset_index().to_parquet(pq)
    a = runner.invoke(app, ["backtest", "--prices", str(pq), "--target", "equal", "--json"])
    assert a.exit_code == 0, a.output
    rel = (prices / prices.shift(1)).iloc[1:]
    rf = tmp_path / "rel.csv"
    rel.rename_axis("date").to_csv(rf)
    b = runner.invoke(app, ["backtest", "--prices", str(rf), "--relatives", "--target", "equal", "--json"])
    assert b.exit_code == 0, b.output
    # Relatives rebuild the same path from the second row on, formed one row earlier at price 1:
    # same final wealth as the prices themselves.
    assert json.loads(b.stdout)["final_wealth"] == pytest.approx(json.loads(a.stdout)["final_wealth"], rel=1e-9)
    assert isinstance(pd.read_parquet(pq), pd.DataFrame)
