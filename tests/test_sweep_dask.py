"""Sweeps on a Dask LocalCluster (2 worker processes) equal the local sweep, even when a worker dies."""
from __future__ import annotations

import os
import signal
import time

import numpy as np
import pandas as pd
import pytest
from conftest import gbm

import ballast

distributed = pytest.importorskip("distributed") if not os.environ.get("CI") else __import__("distributed")

pytestmark = pytest.mark.timeout(120)

GRID = dict(target="equal", band=np.linspace(0.005, 0.2, 120), band_kind=["absolute", "relative"],
            fee_bps=10)


@pytest.fixture(scope="module")
def client():  # noqa: ANN201
    from ballast.sweep.distributed import dask_client

    # Compile (or load) the kernel here first, so workers find it in numba's on-disk cache.
    ballast.sweep(gbm(3, 50), band=[0.1, 0.2])
    with dask_client(workers=2) as c:
        yield c


def test_local_cluster_equals_local_sweep(client) -> None:  # noqa: ANN001
    df = gbm(8, 600, seed=21)
    local = ballast.sweep(df, **GRID)
    remote = ballast.sweep(df, client=client, chunk_size=25, **GRID)
    pd.testing.assert_frame_equal(local, remote)
    assert len(client.scheduler_info()["workers"]) == 2


def test_bootstrap_on_cluster_equals_local(client) -> None:  # noqa: ANN001
    df = gbm(4, 300, seed=2)
    kw = dict(band=[0.02, 0.05, 0.1], rebalance=["never", "monthly"], bootstrap=8, seed=5, block=15)
    pd.testing.assert_frame_equal(ballast.sweep(df, **kw), ballast.sweep(df, client=client, chunk_size=1, **kw))


def test_killing_a_worker_mid_sweep_still_gives_identical_rows(client, tmp_path) -> None:  # noqa: ANN001
    from ballast.sweep.runner import ParquetSink, execute, prepare_sweep
    from ballast.sweep.distributed import DaskExecutor

    df = gbm(10, 1500, seed=8)
    grid = dict(GRID, band=np.linspace(0.005, 0.2, 200))
    local = ballast.sweep(df, **grid)
    market, job = prepare_sweep(df, grid, False, {})
    pids = client.run(os.getpid)  # worker address → pid
    killed: list[int] = []

    def progress(done: int, total: int) -> None:
        if done and not killed:
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    t0 = time.monotonic()
    out = execute(market, job, ParquetSink(tmp_path / "r.parquet"), DaskExecutor(client), chunk_size=10,
                  progress=progress)
    assert killed, "the sweep finished before a worker could be killed"
    pd.testing.assert_frame_equal(pd.read_parquet(out), local, check_dtype=False)
    assert time.monotonic() - t0 < 90
    # The nanny restarted the killed worker: the cluster is whole again.
    deadline = time.monotonic() + 30
    while len(client.scheduler_info()["workers"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert killed[0] not in client.run(os.getpid).values()
