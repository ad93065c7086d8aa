"""`ballast report a.toml b.toml`: one page comparing the files; report mistakes name file and key."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ballast.cli import app
from market_support import gbm

STRATEGY = """
name = "{name}"
[data]
prices = "prices.csv"
[target]
kind = "fixed"
weights = {{ A0 = 0.6, A1 = 0.4 }}
[trigger]
{trigger}
[costs]
fee_bps = 10
{report}
"""


def write(tmp_path: Path, name: str, trigger: str, report: str = "") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(STRATEGY.format(name=name, trigger=trigger, report=report), encoding="utf-8")
    return path


def test_report_compares_several_files(tmp_path):
    gbm(n_assets=2, n_periods=300, seed=5).to_csv(tmp_path / "prices.csv")
    a = write(tmp_path, "bands", "band = 0.05", '[report]\ntitle = "Two rules"\nvol_window = 15')
    b = write(tmp_path, "quarterly", 'rebalance = "quarterly"')
    out = tmp_path / "cmp.html"
    res = CliRunner().invoke(app, ["report", str(a), str(b), "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert "<title>Two rules · ballast report</title>" in text
    assert "last 15 period returns" in text
    assert 'id="fig-drift-2"' in text and "quarterly" in text
    assert str(out.resolve()) in res.output.replace("\n", "")


def test_bad_report_section_names_file_and_key(tmp_path):
    gbm(n_assets=2, n_periods=50, seed=5).to_csv(tmp_path / "prices.csv")
    a = write(tmp_path, "bad", "band = 0.05", "[report]\nvol_window = 1\ncolour = 'red'")
    res = CliRunner().invoke(app, ["report", str(a), "--out", str(tmp_path / "x.html")])
    assert res.exit_code == 2
    output = "".join(res.output.split())  # rich wraps long lines anywhere, even inside a path
    assert f"{a}:[report]vol_window" in output
    assert "[report]colour" in output
    assert "Traceback" not in res.output
    assert not (tmp_path / "x.html").exists()


def test_backtest_writes_report_and_pngs(tmp_path):
    from browser_support import require_chromium

    require_chromium()
    gbm(n_assets=2, n_periods=120, seed=2).to_csv(tmp_path / "prices.csv")
    res = CliRunner().invoke(
        app,
        [
            "backtest",
            "--prices",
            str(tmp_path / "prices.csv"),
            "--band",
            "0.05",
            "--report",
            str(tmp_path / "r.html"),
            "--png",
            str(tmp_path / "png"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r.html").stat().st_size > 3_000_000
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [
        "costs.png",
        "drawdowns.png",
        "drift.png",
        "equity.png",
        "volatility.png",
        "weights.png",
    ]


def test_png_without_kaleido_says_what_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "kaleido", None)  # import kaleido now raises ImportError
    gbm(n_assets=2, n_periods=60, seed=2).to_csv(tmp_path / "prices.csv")
    res = CliRunner().invoke(
        app, ["backtest", "--prices", str(tmp_path / "prices.csv"), "--png", str(tmp_path / "png")]
    )
    assert res.exit_code == 2
    assert "pip install 'ballast[png]'" in " ".join(res.output.split())
