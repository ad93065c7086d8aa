"""Sweeps on a Dask distributed cluster: chunks of configurations per task, prices sent once.

The market and the job are scattered to every worker once (``broadcast=True``, so a worker that
dies does not take the only copy with it); each task is `run_chunk` on a range of grid rows, the
same function the local run uses, so results match it row for row. Tasks are pure functions of
their inputs: when a worker dies the scheduler simply runs its tasks again elsewhere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ballast.errors import InputError
from ballast.market import Market
from ballast.sweep.chunks import Job, run_chunk

RETRIES = 3


def _task(market: Market, job: Job, start: int, stop: int) -> np.ndarray:
    return run_chunk(market, job, start, stop)


class DaskExecutor:
    """Runs chunks as Dask tasks through ``client`` and yields them as they finish."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def slots(self) -> int:
        """Worker threads in the cluster (tasks that can run at once)."""
        workers = self.client.scheduler_info().get("workers", {})
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    def map(self, market: Market, job: Job, tasks: list[tuple[int, int]]) -> Iterator[tuple[int, np.ndarray]]:
        from distributed import as_completed

        m, j = self.client.scatter([market, job], broadcast=True, hash=False)
        run = uuid.uuid4().hex  # fresh keys: a reused key would hand back another run's result
        futures = [
            self.client.submit(_task, m, j, a, b, key=f"ballast-sweep-{run}-{k}", retries=RETRIES, pure=False)
            for k, (a, b) in enumerate(tasks)
        ]
        number = {f.key: k for k, f in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                yield number[fut.key], fut.result()
        finally:
            self.client.cancel(futures)


@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A client for ``scheduler`` (an existing cluster), or for a local cluster of ``workers``
    processes, one thread each; numba's threads are split between them."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("distributed sweeps need Dask: pip install 'ballast[distributed]'") from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = int(workers or 1)
    if n < 1:
        raise InputError(f"--workers must be >= 1, got {n}")
    threads = max(1, (os.cpu_count() or 1) // n)
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        env={"NUMBA_NUM_THREADS": str(threads)},
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
