"""Sweeps on a Dask LocalCluster (2 worker processes) equal the local sweep, even when a worker dies."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pandas as pd
import pytest

import ballast
from market_support import gbm

distributed = pytest.importorskip("distributed") if not os.environ.get("CI") else __import__("distributed")

pytestmark = pytest.mark.timeout(120)

GRID = dict(target="equal", band=np.linspace(0.005, 0.2, 120), band_kind=["absolute", "relative"], fee_bps=10)


@pytest.fixture(scope="module")
def client():
    from ballast.sweep.distributed import dask_client

    # Compile (or load) the kernel here first, so workers find it in numba's on-disk cache.
    ballast.sweep(gbm(3, 50), band=[0.1, 0.2])
    with dask_client(workers=2) as c:
        yield c


def test_local_cluster_equals_local_sweep(client) -> None:
    df = gbm(8, 600, seed=21)
    local = ballast.sweep(df, **GRID)
    remote = ballast.sweep(df, client=client, chunk_size=25, **GRID)
    pd.testing.assert_frame_equal(local, remote)
    assert len(client.scheduler_info()["workers"]) == 2


def test_bootstrap_on_cluster_equals_local(client) -> None:
    df = gbm(4, 300, seed=2)
    kw = dict(band=[0.02, 0.05, 0.1], rebalance=["never", "monthly"], bootstrap=8, seed=5, block=15)
    pd.testing.assert_frame_equal(ballast.sweep(df, **kw), ballast.sweep(df, client=client, chunk_size=1, **kw))


def test_killing_a_worker_mid_sweep_still_gives_identical_rows(client, tmp_path) -> None:
    from ballast.sweep.distributed import DaskExecutor
    from ballast.sweep.runner import ParquetSink, execute, prepare_sweep

    df = gbm(10, 1500, seed=8)
    grid = dict(GRID, band=np.linspace(0.005, 0.2, 200))  # 400 configurations, 80 tasks
    local = ballast.sweep(df, **grid)
    market, job = prepare_sweep(df, grid, False, {})
    pids = client.run(os.getpid)  # worker address → pid
    killed: list[int] = []
    done_at_kill: list[int] = []

    def progress(done: int, total: int) -> None:
        if done and not killed:
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            done_at_kill.append(done)

    t0 = time.monotonic()
    out = execute(
        market, job, ParquetSink(tmp_path / "r.parquet"), DaskExecutor(client), chunk_size=5, progress=progress
    )
    assert killed and done_at_kill[0] <= 200, "the sweep was mostly done before a worker could be killed"
    pd.testing.assert_frame_equal(pd.read_parquet(out), local, check_dtype=False)
    assert time.monotonic() - t0 < 90
    # The nanny restarted the killed worker: the cluster is whole again.
    deadline = time.monotonic() + 30
    while len(client.scheduler_info()["workers"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert killed[0] not in client.run(os.getpid).values()


def test_cli_scheduler_option_uses_an_existing_cluster(client, tmp_path) -> None:
    from typer.testing import CliRunner

    from ballast.cli import app

    gbm(4, 300, seed=4).rename_axis("date").to_csv(tmp_path / "prices.csv")
    (tmp_path / "s.toml").write_text(
        '[data]\nprices = "prices.csv"\n[costs]\nfee_bps = 10\n'
        "[sweep]\nband = { start = 0.01, stop = 0.2, num = 30 }\n"
        'plan = ["full", "band-edge"]\n',
        encoding="utf-8",
    )
    out = tmp_path / "r.parquet"
    result = CliRunner().invoke(
        app, ["sweep", str(tmp_path / "s.toml"), "--out", str(out), "--scheduler", client.scheduler.address]
    )
    assert result.exit_code == 0, result.output
    assert "Dask: 2 workers" in result.output
    local = ballast.sweep(
        tmp_path / "prices.csv", fee_bps=10.0, band=list(np.linspace(0.01, 0.2, 30)), plan=["full", "band-edge"]
    )
    pd.testing.assert_frame_equal(pd.read_parquet(out), local, check_dtype=False)
    bad = CliRunner().invoke(
        app,
        [
            "sweep",
            str(tmp_path / "s.toml"),
            "--out",
            str(out),
            "--workers",
            "2",
            "--scheduler",
            client.scheduler.address,
        ],
    )
    assert bad.exit_code == 2 and "not both" in bad.output


def test_walk_forward_on_cluster_equals_local(client) -> None:
    df = gbm(4, 600, seed=13)
    kw = dict(train=200, test=100, band=np.linspace(0.01, 0.2, 12), plan=["full", "band-edge"], fee_bps=10)
    pd.testing.assert_frame_equal(ballast.walk_forward(df, **kw), ballast.walk_forward(df, client=client, **kw))
