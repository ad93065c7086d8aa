"""ballast vs bt vs vectorbt vs a hand-written numba loop, in one process (issue 2's benchmark).

Workloads: synthetic GBM daily prices (seed 42, 60 % annual vol), W1 = 20 assets × 2,520 steps,
W2 = 100 × 2,520. Cases: (a) monthly to equal weights, 10 bps fee; (b) form on day 0, then check
every close and fully rebalance when any |w − target| > 0.05 (absolute), 10 bps fee.

Timed (medians, after compilation): ballast end to end (DataFrame in → Result with metrics),
ballast's kernel alone (`run_compiled` on a prepared strategy), the hand loop (bench/handloop.py),
vectorbt (simulation + final value) and bt (Backtest + run). Also: `import ballast` on top of
numpy+pandas, peak memory of a W2 backtest, and the CLI on the bundled dataset, warm and cold.

vectorbt (Commons Clause) and bt are reference points for this script only, never ballast
dependencies. Run: ``make bench`` or ``python bench/run.py`` in an environment with
bench/requirements.txt installed (see bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

FEE = 0.001
BAND = 0.05
CAPITAL = 1_000_000.0
SEED = 42
WORKLOADS = {"W1": 20, "W2": 100}
STEPS = 2520
CASES = {"a": "monthly, 10 bps", "b": "band |w−t|>0.05, 10 bps"}


def gbm(n_assets: int, n_steps: int = STEPS, vol: float = 0.6, seed: int = SEED) -> pd.DataFrame:
    """Daily GBM closes on business days (drift 5 %/yr), starting at 100."""
    from ballast.data.synthetic import gbm_prices

    return gbm_prices(n_assets, n_steps, vol, seed, width=3)


def month_starts(index: pd.DatetimeIndex) -> np.ndarray:
    """True at the first close of each month (and at t = 0, the formation)."""
    m = index.year * 12 + index.month
    return np.r_[True, m[1:] != m[:-1]]


def timings(fn: Callable[[], object], reps: int, warm: int = 1) -> list[float]:
    """Wall seconds of ``reps`` calls after ``warm`` untimed ones."""
    for _ in range(warm):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def timeit(fn: Callable[[], object], reps: int, warm: int = 1) -> float:
    """Median wall seconds of ``reps`` calls after ``warm`` untimed ones."""
    return statistics.median(timings(fn, reps, warm))


# ---------------------------------------------------------------- ballast


def ballast_keywords(case: str, fee: float = FEE) -> dict[str, object]:
    when: dict[str, object] = {"rebalance": "monthly"} if case == "a" else {"band": BAND}
    return dict(target="equal", fee_bps=fee * 1e4, **when)


def ballast_run(df: pd.DataFrame, case: str, fee: float = FEE, **extra: object) -> dict[str, float]:
    import ballast

    return ballast.backtest(df, **ballast_keywords(case, fee), **extra).metrics


def ballast_prepared(df: pd.DataFrame, case: str):
    from ballast.engine.backtest import prepare, to_market
    from ballast.strategy import build_strategy

    return prepare(build_strategy(**ballast_keywords(case)), to_market(df))


# ---------------------------------------------------------------- hand loop


def hand_args(df: pd.DataFrame, case: str) -> tuple:
    n = df.shape[1]
    mask = month_starts(df.index) if case == "a" else np.zeros(len(df), np.bool_)
    return (
        np.ascontiguousarray(df.to_numpy(), dtype=np.float64),
        np.full(n, 1.0 / n),
        mask,
        BAND if case == "b" else 0.0,
        FEE,
        CAPITAL,
    )


# ---------------------------------------------------------------- vectorbt


def vectorbt_run(df: pd.DataFrame, case: str, fee: float = FEE) -> float:
    """Final wealth. (a) from_orders with target-percent sizes on month starts; (b) from_order_func
    whose pre-segment callback checks the band at every close (vectorbt's rebalancing recipe)."""
    import vectorbt as vbt

    n = df.shape[1]
    if case == "a":
        size = np.full(df.shape, np.nan)
        size[month_starts(df.index)] = 1.0 / n
        pf = vbt.Portfolio.from_orders(
            df,
            size=size,
            size_type="targetpercent",
            fees=fee,
            init_cash=CAPITAL,
            cash_sharing=True,
            group_by=True,
            call_seq="auto",
            freq="1D",
        )
    else:
        from vectorbt_band import band_portfolio

        pf = band_portfolio(df, 1.0 / n, BAND, fee, CAPITAL)
    return float(pf.final_value()) / CAPITAL


def vectorbt_metrics(df: pd.DataFrame) -> Callable[[], object]:
    """Monthly case plus the metrics ballast reports that vectorbt has ready-made accessors for."""
    import vectorbt as vbt

    def go() -> object:
        size = np.full(df.shape, np.nan)
        size[month_starts(df.index)] = 1.0 / df.shape[1]
        pf = vbt.Portfolio.from_orders(
            df,
            size=size,
            size_type="targetpercent",
            fees=FEE,
            init_cash=CAPITAL,
            cash_sharing=True,
            group_by=True,
            call_seq="auto",
            freq="1D",
        )
        return (
            pf.final_value(),
            pf.total_return(),
            pf.annualized_volatility(),
            pf.sharpe_ratio(),
            pf.sortino_ratio(),
            pf.max_drawdown(),
            pf.calmar_ratio(),
        )

    return go


# ---------------------------------------------------------------- bt


def bt_run(df: pd.DataFrame, case: str) -> float:
    """Final wealth. (b): with equal targets t = 1/n, |w − t| > 0.05 is bt's relative
    RunIfOutOfBounds(0.05/t); bt has no absolute band."""
    import bt

    n = df.shape[1]
    if case == "a":
        algos = [bt.algos.RunMonthly(), bt.algos.SelectAll(), bt.algos.WeighEqually(), bt.algos.Rebalance()]
    else:
        # RunOnce forms the portfolio: from cash the relative deviation is −1, inside a tolerance ≥ 1
        check = bt.algos.Or([bt.algos.RunOnce(), bt.algos.RunIfOutOfBounds(BAND * n)])
        algos = [bt.algos.SelectAll(), bt.algos.WeighEqually(), check, bt.algos.Rebalance()]
    test = bt.Backtest(
        bt.Strategy("s", algos),
        df,
        initial_capital=CAPITAL,
        integer_positions=False,
        commissions=lambda q, p: abs(q) * p * FEE,
        progress_bar=False,
    )
    bt.run(test)
    return float(test.strategy.values.iloc[-1]) / CAPITAL


# ---------------------------------------------------------------- subprocess measurements


def subprocess_seconds(code: str, env: dict[str, str] | None = None) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def import_overhead(reps: int = 7) -> tuple[float, float, float]:
    """Median seconds, each in a fresh process: `import ballast` after numpy+pandas; the same plus
    touching `ballast.backtest` (the lazy import of the engine, which brings numba); numpy+pandas."""

    def med(code: str) -> float:
        return statistics.median(subprocess_seconds(code) for _ in range(reps))

    extra = med("import time, numpy, pandas; t = time.perf_counter(); import ballast; print(time.perf_counter() - t)")
    engine = med(
        "import time, numpy, pandas; t = time.perf_counter(); import ballast; ballast.backtest; "
        "print(time.perf_counter() - t)"
    )
    base = med("import time; t = time.perf_counter(); import numpy, pandas; print(time.perf_counter() - t)")
    return extra, engine, base


PEAK_CODE = """
import sys
sys.path.insert(0, {here!r})
import numpy, pandas
from run import gbm
import ballast
def hwm():  # this process's own peak RSS (ru_maxrss would include the parent's before exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024
import tracemalloc
df = gbm(100)
ballast.backtest
before = hwm()
if {trace}:  # tracing costs memory itself: RSS and traced peaks come from separate runs
    tracemalloc.start()
for kw in (dict(rebalance="monthly"), dict(band=0.05)):
    r = ballast.backtest(df, target="equal", fee_bps=10, **kw)
    r.metrics; r.weights; r.pre_trade_weights; r.drift; r.trades; r.rebalances; r.baseline.metrics
print(before, hwm(), tracemalloc.get_traced_memory()[1] / 2**20 if {trace} else 0.0)
"""

FLOOR_CODE = """
import numpy, pandas
from numba import njit
@njit
def f(a):
    return a.sum()
f(numpy.ones(3))
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print(float(line.split()[1]) / 1024)
"""


def peak_memory() -> tuple[float, float, float, float]:
    """A fresh process backtesting W2, both cases, with every Result table and the baseline built:
    (peak RSS MB after imports and data, peak RSS MB at the end, peak MB traced by tracemalloc
    during the backtests — numpy and Python objects, not numba's own allocations), and the peak
    RSS MB of a process that only imports numpy+pandas and runs one trivial numba function."""

    def run(trace: bool) -> list[float]:
        out = subprocess.run(
            [sys.executable, "-c", PEAK_CODE.format(here=str(HERE), trace=trace)],
            capture_output=True,
            text=True,
            check=True,
        )
        return list(map(float, out.stdout.split()))

    before, peak, _ = run(False)
    traced = run(True)[2]
    floor = float(subprocess.run([sys.executable, "-c", FLOOR_CODE], capture_output=True, text=True, check=True).stdout)
    return before, peak, traced, floor


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("ballast")
    if script.exists():
        return [str(script)]
    found = shutil.which("ballast")
    return [found] if found else [sys.executable, "-c", "from ballast.cli import main; main()"]


def cli_seconds(env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one `ballast backtest --prices crypto`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([*cli_command(), "backtest", "--prices", "crypto"], capture_output=True, check=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cli_times(reps: int = 3) -> tuple[tuple[float, float], tuple[float, float]]:
    """((wall, CPU) warm, (wall, CPU) cold) medians; cold = an empty NUMBA_CACHE_DIR."""
    env = dict(os.environ)
    cli_seconds(env)  # make sure the default cache is warm
    warm = [cli_seconds(env) for _ in range(reps)]
    cold = []
    for _ in range(2):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(cli_seconds({**env, "NUMBA_CACHE_DIR": cache}))

    def med(xs: list[tuple[float, float]]) -> tuple[float, float]:
        return statistics.median(x[0] for x in xs), statistics.median(x[1] for x in xs)

    return med(warm), med(cold)


# ---------------------------------------------------------------- main


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import bt
    import numba
    import vectorbt

    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, numpy {np.__version__}, "
        f"pandas {pd.__version__}, numba {numba.__version__}, bt {bt.__version__}, "
        f"vectorbt {vectorbt.__version__}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bt-reps", type=int, default=3, help="repetitions for bt (slow)")
    ap.add_argument("--reps", type=int, default=30, help="repetitions for the fast engines")
    ap.add_argument("--skip-subprocess", action="store_true", help="skip import/memory/CLI measurements")
    args = ap.parse_args()

    from ballast.engine.backtest import run_compiled
    from handloop import handloop, handloop_stats

    print(f"machine: {machine()}")
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}\n")
    rows = []
    checks = []
    for wname, n in WORKLOADS.items():
        df = gbm(n)
        for case in CASES:
            p = ballast_prepared(df, case)
            h = hand_args(df, case)
            e2e = timings(lambda: ballast_run(df, case), args.reps)
            t_e2e, t_e2e_min = statistics.median(e2e), min(e2e)
            t_kernel = timeit(lambda: run_compiled(p), args.reps * 3)
            t_kernel_norec = timeit(lambda: run_compiled(p, record=False), args.reps * 3)
            t_hand = timeit(lambda: handloop(*h), args.reps * 3)
            t_stats = timeit(lambda: handloop_stats(*h), args.reps * 3)
            t_vbt = timeit(lambda: vectorbt_run(df, case), max(args.reps // 3, 5))
            t_bt = timeit(lambda: bt_run(df, case), args.bt_reps, warm=0)
            rows.append((wname, case, t_e2e, t_e2e_min, t_kernel, t_kernel_norec, t_hand, t_stats, t_vbt, t_bt))

            m = ballast_run(df, case)
            fw = m["final_wealth"]
            fw_hand = handloop(*h)[-1] / CAPITAL
            fw_btconv = ballast_run(df, case, convention="bt")["final_wealth"]
            fw_bt = bt_run(df, case)
            fw_vbt = vectorbt_run(df, case)
            fw_vbt0 = vectorbt_run(df, case, fee=0.0)
            fw_0 = ballast_run(df, case, fee=0.0)["final_wealth"]
            checks.append((wname, case, int(m["n_rebalances"]), fw, fw_hand, fw_btconv, fw_bt, fw_vbt, fw_0, fw_vbt0))

    print("## Medians (ms) and ratios\n")
    print(
        "| workload | case | ballast e2e | (min) | kernel | kernel (no record) | hand loop | hand loop + stats "
        "| vectorbt | bt | vectorbt / ballast | bt / ballast | kernel / hand | kernel / hand+stats "
        "| kernel no-rec / hand+stats |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for w, c, e2e, e2e_min, k, knr, hand, st, vbt, btt in rows:
        print(
            f"| {w} | ({c}) {CASES[c]} | {e2e * 1e3:.2f} | {e2e_min * 1e3:.2f} | {k * 1e3:.3f} | {knr * 1e3:.3f} "
            f"| {hand * 1e3:.3f} "
            f"| {st * 1e3:.3f} | {vbt * 1e3:.1f} | {btt * 1e3:.0f} | {vbt / e2e:.1f}× | {btt / e2e:.0f}× "
            f"| {k / hand:.1f}× | {k / st:.2f}× | {knr / st:.2f}× |"
        )

    print("\n## Agreement (final wealth)\n")
    print(
        "| workload | case | rebalances | ballast exact | hand loop (rel diff) | ballast bt-conv | bt (rel diff "
        "to bt-conv) | vectorbt (rel diff to exact) | no fee: ballast vs vectorbt (rel diff) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for w, c, nreb, fw, fh, fbc, fbt, fv, f0, fv0 in checks:
        print(
            f"| {w} | {c} | {nreb} | {fw:.12f} | {abs(fh / fw - 1):.1e} | {fbc:.12f} | {abs(fbt / fbc - 1):.1e} "
            f"| {fv:.12f} ({fv / fw - 1:+.1e}) | {abs(fv0 / f0 - 1):.1e} |"
        )

    extra = vectorbt_metrics(gbm(100))
    print(f"\nvectorbt W2 (a) with its metric accessors: {timeit(extra, 5) * 1e3:.1f} ms")

    if not args.skip_subprocess:
        imp, engine, base = import_overhead()
        before, peak, traced, floor = peak_memory()
        (warm, warm_cpu), (cold, cold_cpu) = cli_times()
        print("\n## Import, memory, CLI\n")
        print(
            f"- `import ballast` after numpy+pandas: {imp:.3f} s; with `ballast.backtest` touched (lazy "
            f"engine import, brings numba): {engine:.3f} s (numpy+pandas themselves: {base:.3f} s)"
        )
        print(
            f"- W2 backtests (both cases, all Result tables, baseline): peak RSS {peak:.0f} MB "
            f"(after imports and data: {before:.0f} MB; numpy+pandas+numba running one trivial "
            f"function: {floor:.0f} MB); traced by tracemalloc during the backtests: {traced:.0f} MB"
        )
        print(
            f"- `ballast backtest --prices crypto`: warm {warm:.2f} s wall ({warm_cpu:.2f} s CPU), "
            f"cold (empty NUMBA_CACHE_DIR) {cold:.2f} s wall ({cold_cpu:.2f} s CPU)"
        )
    print(f"\nload average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
