"""vectorbt's batched run of the W1 band sweep (run with a Python that has vectorbt).

One column group per band width (20 assets each, shared cash), a pre-segment callback that checks
the absolute band and, when it fires, orders every asset back to equal weight (TargetPercent,
sells first), 10 bps fees. Prints one JSON line: seconds, peak RSS, final wealth per band.
Usage: python bench/vbt_sweep.py PRICES.npy N_BANDS
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import numpy as np
import vectorbt as vbt
from numba import njit
from vectorbt.portfolio import nb
from vectorbt.portfolio.enums import Direction, SizeType


@njit
def pre_segment(c, bands, n):
    for col in range(c.from_col, c.to_col):
        c.last_val_price[col] = c.close[c.i, col]
    value = c.last_cash[c.group]
    for col in range(c.from_col, c.to_col):
        value += c.last_position[col] * c.last_val_price[col]
    fire = c.i == 0
    if not fire:
        for col in range(c.from_col, c.to_col):
            w = c.last_position[col] * c.last_val_price[col] / value
            if abs(w - 1.0 / n) > bands[c.group]:
                fire = True
                break
    size = np.full(c.group_len, np.nan)
    if fire:
        size[:] = 1.0 / n
        size_type = np.full(c.group_len, SizeType.TargetPercent)
        direction = np.full(c.group_len, Direction.LongOnly)
        order_value_out = np.empty(c.group_len)
        nb.sort_call_seq_nb(c, size, size_type, direction, order_value_out)
    return (size,)


@njit
def order_func(c, size):
    col_i = c.call_seq_now[c.call_idx]
    return nb.order_nb(
        size[col_i], c.close[c.i, c.col], size_type=SizeType.TargetPercent, direction=Direction.LongOnly, fees=0.001
    )


def run(prices: np.ndarray, bands: np.ndarray) -> np.ndarray:
    n = prices.shape[1]
    close = np.tile(prices, (1, len(bands)))
    groups = np.repeat(np.arange(len(bands)), n)
    pf = vbt.Portfolio.from_order_func(
        close,
        order_func,
        pre_segment_func_nb=pre_segment,
        pre_segment_args=(bands, n),
        cash_sharing=True,
        group_by=groups,
        init_cash=1_000_000.0,
        use_numba=True,
    )
    return np.asarray(pf.final_value()) / 1_000_000.0


def main() -> None:
    prices = np.load(sys.argv[1])
    n_bands = int(sys.argv[2])
    bands = np.linspace(0.005, 0.2, n_bands)
    run(prices[:50], bands[:2])  # compile
    t0, c0 = time.perf_counter(), time.process_time()
    fw = run(prices, bands)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if os.path.exists("/proc/self/status"):  # own peak: ru_maxrss survives exec (the parent's would count)
        with open("/proc/self/status") as fh:
            peak = next(int(x.split()[1]) / 1024 for x in fh if x.startswith("VmHWM:"))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "peak_rss_mb": peak,
                "final_wealth": fw.tolist(),
                "vectorbt": vbt.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
