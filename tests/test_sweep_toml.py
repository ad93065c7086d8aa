"""The [sweep] section: ranges, lists, modes, and errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import ballast
from ballast.cli import app
from ballast.config.sweep import load_sweep
from ballast.errors import InputError
from market_support import gbm

BASE = """
name = "grid"
[data]
prices = "prices.csv"
[target]
kind = "equal"
[costs]
fee_bps = 10
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    gbm(4, 300, seed=4).rename_axis("date").to_csv(tmp_path / "prices.csv")
    return tmp_path


def write(folder: Path, sweep: str) -> Path:
    path = folder / "s.toml"
    path.write_text(BASE + sweep, encoding="utf-8")
    return path


def test_ranges_lists_and_modes(folder: Path) -> None:
    spec = load_sweep(
        write(
            folder,
            """
[sweep]
band = { start = 0.01, stop = 0.05, num = 5 }
cooldown = { start = 0, stop = 10, step = 5 }
rebalance = ["never", "monthly", 21]
""",
        )
    )
    assert spec.axes["band"] == pytest.approx([0.01, 0.02, 0.03, 0.04, 0.05])
    assert spec.axes["cooldown"] == [0.0, 5.0, 10.0]
    assert spec.axes["rebalance"] == ["never", "monthly", 21]
    spec = load_sweep(
        write(
            folder,
            """
[sweep]
mode = "zip"
band = { start = 0.01, stop = 0.1, num = 3, log = true }
fee_bps = [1, 5, 10]
""",
        )
    )
    assert spec.axes["band"] == pytest.approx(list(np.geomspace(0.01, 0.1, 3)))
    assert spec.keywords()["fee_bps"] == [1, 5, 10] and "costs" not in spec.keywords()
    spec = load_sweep(write(folder, "[sweep]\nvol_thresholds = [[0.2, 0.4], [0.3]]\n"))
    assert spec.axes["vol_thresholds"] == [[0.2, 0.4], [0.3]]


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ("", "no [sweep] section"),
        ('[sweep]\nmode = "zip"\n', "has no parameter to vary"),
        ("[sweep]\nbandd = [0.1]\n", "[sweep] bandd: not a sweepable parameter"),
        ("[sweep]\nband = 0.1\n", "[sweep] band: expected a non-empty list"),
        ("[sweep]\nband = []\n", "[sweep] band: the list of values is empty"),
        ("[sweep]\nband = { start = 0.1, stop = 0.2 }\n", "[sweep] band: expected"),
        ("[sweep]\nband = { start = 0.1, stop = 0.2, num = 3, step = 0.1 }\n", "exactly one of num or step"),
        ('[sweep]\nband = [0.1]\nmode = "grid"\n', "[sweep] mode"),
        ('[sweep]\nband = [0.1]\nmetric = "alpha"\n', "[sweep] metric"),
        ('[sweep]\nband = [0.1, 0.2]\nfee_bps = [1]\nmode = "zip"\n', "needs axes of equal length"),
        ("[sweep]\nband = [0.1]\n[sweep.bootstrap]\nn = 0\n", "[sweep] bootstrap.n"),
        ("[sweep]\nband = [0.1]\n[sweep.walk_forward]\ntrain = 10\n", "[sweep] walk_forward.test"),
        ("[sweep]\nvol_thresholds = [0.2, 0.4]\n", "[sweep] vol_thresholds: each value is itself a list"),
        ("[sweep]\nband = [[0.1, 0.2]]\n", "[sweep] band: values must be single values"),
    ],
)
def test_errors_name_file_and_field(folder: Path, sweep: str, message: str) -> None:
    path = write(folder, sweep)
    with pytest.raises(InputError) as info:
        load_sweep(path)
    assert str(path) in str(info.value) and message in str(info.value), str(info.value)


def test_bad_axis_value_is_named(folder: Path) -> None:
    path = write(folder, '[sweep]\nband = [0.05]\nband_kind = ["absolute", "sideways"]\n')
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(folder / "r.parquet")])
    assert result.exit_code == 2
    assert "band_kind[1] = 'sideways'" in result.output and "Traceback" not in result.output


def test_cli_sweep_equals_python_sweep(folder: Path) -> None:
    path = write(
        folder,
        """
[sweep]
band = { start = 0.01, stop = 0.2, num = 12 }
plan = ["full", "band-edge"]
""",
    )
    out = folder / "r.parquet"
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(out), "--chunk-size", "5"])
    assert result.exit_code == 0, result.output
    assert "best by sharpe" in result.output
    got = pd.read_parquet(out)
    want = ballast.sweep(
        folder / "prices.csv",
        target="equal",
        fee_bps=10.0,
        band=list(np.linspace(0.01, 0.2, 12)),
        plan=["full", "band-edge"],
    )
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_cli_walk_forward_and_bootstrap(folder: Path) -> None:
    path = write(
        folder,
        """
[sweep]
band = [0.02, 0.05, 0.1]
[sweep.walk_forward]
train = 120
test = 60
""",
    )
    out = folder / "wf.parquet"
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(out), "--walk-forward"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(out)) == 3
    out = folder / "bs.parquet"
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(out), "--bootstrap", "5", "--seed", "3"])
    assert result.exit_code == 0, result.output
    a = pd.read_parquet(out)
    assert {"sharpe_p5", "sharpe_median", "sharpe_p95"} <= set(a.columns)
    CliRunner().invoke(
        app, ["sweep", str(path), "--out", str(folder / "bs2.parquet"), "--bootstrap", "5", "--seed", "3"]
    )
    pd.testing.assert_frame_equal(a, pd.read_parquet(folder / "bs2.parquet"))
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(out), "--walk-forward", "--bootstrap", "3"])
    assert result.exit_code == 2 and "cannot be combined" in result.output


def test_ctrl_c_keeps_finished_rows(tmp_path: Path) -> None:
    """A real SIGINT to `ballast sweep`: exit code 130, the finished rows are in the file."""
    import os
    import signal
    import subprocess
    import sys
    import time

    gbm(10, 1000, seed=4).rename_axis("date").to_csv(tmp_path / "prices.csv")
    (tmp_path / "s.toml").write_text(
        BASE.replace('"prices.csv"', f'"{tmp_path / "prices.csv"}"')
        + """
[sweep]
band = { start = 0.01, stop = 0.2, num = 400 }
chunk_size = 4
[sweep.bootstrap]
n = 30
""",
        encoding="utf-8",
    )
    out = tmp_path / "r.parquet"
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ballast.cli", "sweep", str(tmp_path / "s.toml"), "--out", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 90
    while (not out.exists() or out.stat().st_size == 0) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, output
    assert "interrupted" in output and "Traceback" not in output
    kept = pd.read_parquet(out)
    assert 0 < len(kept) < 400
    # Finished chunks, in grid order; chunks finish out of order on two workers, so the config
    # column may skip the ones that were still running.
    configs = kept["config"].tolist()
    assert configs == sorted(set(configs)) and configs[0] == 0
    bands = np.linspace(0.01, 0.2, 400)
    want = ballast.sweep(tmp_path / "prices.csv", target="equal", fee_bps=10.0, band=list(bands[configs]), bootstrap=30)
    want["config"] = configs
    pd.testing.assert_frame_equal(kept, want, check_dtype=False)


def test_cli_errors_keep_brackets_and_name_the_field(folder: Path) -> None:
    path = write(folder, "[sweep]\nbandd = [0.1]\n")
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(folder / "r.parquet")])
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "[sweep] bandd: not a sweepable parameter" in text, text
    path = write(folder, "[sweep]\nband = [0.1]\n")
    result = CliRunner().invoke(app, ["sweep", str(path), "--out", str(folder / "r.parquet"), "--seed", "3"])
    assert result.exit_code == 2 and "give --bootstrap N" in " ".join(result.output.split())


def test_example_file_is_valid() -> None:
    spec = load_sweep(Path(__file__).resolve().parents[1] / "examples" / "sweep_bands.toml")
    kw = spec.keywords()
    assert len(kw["band"]) == 40 and kw["fixed_cost"] == 5 and kw["fee_bps"] == [10, 30]
    assert spec.walk_forward().train == 730
