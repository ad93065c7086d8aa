"""Running a sweep's chunks in this process: one worker thread per core."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait

import numpy as np

from ballast.market import Market
from ballast.sweep.batch import Preparer, use_serial_kernel
from ballast.sweep.chunks import Job, prepare_chunk

SWITCH_INTERVAL = 0.0002  # seconds: how soon a local sweep's worker gets the GIL (see LocalExecutor)


class LocalExecutor:
    """In this process: one worker thread per core (numba's thread count), each running whole
    chunks in the compiled kernel, which releases the GIL, while this thread builds the next
    chunks and stores finished ones (the Python half is a quarter of a sweep's work). ``checks``
    (deferred by `prepare_sweep`) run once every worker has a chunk and one more is queued,
    before any row is returned.
    Chunks are returned as they finish; at most one more than there are workers is held."""

    def __init__(self, checks: Sequence[Callable[[Preparer], None]] = (), threads: int | None = None) -> None:
        from numba import get_num_threads

        self.checks = list(checks)
        self.threads = max(1, threads or get_num_threads())

    def slots(self) -> int:
        return self.threads

    def map(self, market: Market, job: Job, tasks: list[tuple[int, int]]) -> Iterator[tuple[int, np.ndarray]]:
        # A worker needs the GIL to start and to finish a kernel call; while this thread builds
        # chunks it would get it only every switch interval (5 ms by default, half a chunk).
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
        try:
            yield from self._map(market, job, tasks)
        finally:
            sys.setswitchinterval(interval)

    def _map(self, market: Market, job: Job, tasks: list[tuple[int, int]]) -> Iterator[tuple[int, np.ndarray]]:
        preparer = Preparer(market)

        def check() -> None:
            while self.checks:
                self.checks.pop(0)(preparer)

        with ThreadPoolExecutor(
            self.threads, thread_name_prefix="ballast-sweep", initializer=use_serial_kernel
        ) as pool:
            running: dict[Future[np.ndarray], int] = {}
            try:
                for k, (a, b) in enumerate(tasks):
                    try:
                        call = prepare_chunk(market, job, a, b, preparer)
                    except ValueError:
                        check()  # a bad axis value: report it by axis, as an upfront check would
                        raise
                    running[pool.submit(call)] = k
                    if len(running) > self.threads or k == len(tasks) - 1:
                        check()  # once every worker has a chunk and the next is queued; before any row
                    if len(running) > self.threads:
                        finished, _ = wait(running, return_when=FIRST_COMPLETED)
                        for fut in finished:
                            yield running.pop(fut), fut.result()
                for fut in as_completed(list(running)):
                    yield running.pop(fut), fut.result()
            finally:  # on Ctrl-C or an error: drop what has not started; running chunks finish
                for fut in running:
                    fut.cancel()
