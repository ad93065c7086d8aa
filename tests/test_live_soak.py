"""Soak: 10,000 replayed cycles through the live service with memory that stays flat."""
from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
from live_support import synthetic_prices, write_strategy

from ballast.live.service import RunSettings, open_service

CYCLES = 10_000


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc to read memory use")
def test_ten_thousand_cycles_with_stable_memory(fast_tmp: Path) -> None:  # noqa: F811
    prices = synthetic_prices(fast_tmp / "long.csv", n=CYCLES, seed=3, vol=0.02)
    path = write_strategy(fast_tmp, prices, trigger="band = 0.08", plan="band-edge", fee_bps=10, fixed=1)
    svc = open_service(str(path), RunSettings(db=str(fast_tmp / "soak.db"), speed="max"))
    svc.run(max_cycles=2_000)
    gc.collect()
    warm = rss_mb()
    samples = []
    for _ in range(4):
        svc.run(max_cycles=2_000)
        gc.collect()
        samples.append(rss_mb())
    c = svc.ledger.counts()
    assert c["cycles"] == CYCLES and c["decisions"] > 20 and c["open_alerts"] == 0
    assert c["orders"] == c["fills"]
    # 8,000 more cycles may add the price history (~0.2 MB) and allocator noise, not a leak
    growth = samples[-1] - warm
    assert growth < 25, f"RSS grew {growth:.1f} MB over 8,000 cycles: {warm:.1f} -> {samples}"
    assert samples[-1] - samples[1] < 12, samples
