"""[pegs], [reserve] and [trigger] depeg in a strategy file: what they build, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ballast.cli import app
from ballast.config import load_strategy_file
from ballast.errors import InputError
from ballast.planning.pegged import Freeze
from ballast.stable_reserve import without_reaction
from ballast.targets.pegged import Exit, StableBasket
from ballast.triggers.depeg import Depeg

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stable-reserve.toml"


def write(tmp_path: Path, text: str) -> Path:
    base = EXAMPLE.read_text(encoding="utf-8")
    path = tmp_path / "s.toml"
    path.write_text(base + text, encoding="utf-8")
    return path


def edited(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "s.toml"
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_the_example_builds_caps_exit_and_the_depeg_leaf() -> None:
    s = load_strategy_file(EXAMPLE).to_strategy()
    assert isinstance(s.target, StableBasket) and isinstance(s.target.inner, Exit)
    assert any(isinstance(leaf, Depeg) for leaf in s.trigger.leaves())
    assert s.pegs is not None and s.pegs.ideal == ("USDC", "DAI")
    plain = without_reaction(s)
    assert isinstance(plain.target, StableBasket) and not isinstance(plain.target.inner, Exit)
    assert not any(isinstance(leaf, Depeg) for leaf in plain.trigger.leaves())


def test_freeze_reaction(tmp_path: Path) -> None:
    path = edited(tmp_path, 'react = "exit", loss_budget = 0.15', 'react = "freeze"')
    s = load_strategy_file(path).to_strategy()
    assert isinstance(s.planner, Freeze) and not isinstance(s.target.inner, Exit)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("act = 0.02, warn = 0.01", "act = 0.01, warn = 0.02", r"depeg.act \(0.01\) is below depeg.warn \(0.02\)"),
        ('react = "exit"', 'react = "panic"', "depeg.react: expected one of exit, freeze, hold, none"),
        ("loss_budget = 0.15", "loss_budget = 0.15, floor = 0.9", 'depeg.floor only applies to react = "hold"'),
        ("DAI = 1.0\n", "DAI = -1\n", "pegs.DAI: a peg must be a positive number"),
        ("min_issuers = 2", "min_issuers = 2\ncap = 3", "reserve: unexpected key"),
    ],
)
def test_bad_input_names_the_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_strategy_file(edited(tmp_path, old, new))


def test_a_peg_on_an_unknown_asset_is_a_clear_error(tmp_path: Path) -> None:
    path = edited(tmp_path, "DAI = 1.0\n", "DAI = 1.0\nFRAX = 1.0\n")
    res = CliRunner().invoke(app, ["backtest", str(path)])
    assert res.exit_code == 2
    assert "pegs.FRAX: unknown asset 'FRAX'" in " ".join(res.output.split())


def test_sweep_rows_equal_single_backtests_with_exit_and_caps() -> None:
    import ballast

    cfg = load_strategy_file(EXAMPLE)
    kw = cfg.keywords()
    data = {"assets": cfg.data.assets, "start": cfg.data.start}
    rows = ballast.sweep(cfg.prices_path(), **data, **{**kw, "band": [0.03, 0.05]})
    for band, row in zip([0.03, 0.05], rows.itertuples(), strict=True):
        single = ballast.backtest(cfg.prices_path(), **data, **{**kw, "band": band})
        assert row.final_wealth == single.metrics["final_wealth"]
    assert ballast.stress.__module__ == "ballast.report.stress"
