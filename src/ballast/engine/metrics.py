"""Performance metrics from an equity path and the kernel's accumulators.

One implementation serves a single backtest and the batched sweep, so a sweep row and a
backtest's metrics are the same numbers.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ballast.enums import (
    ACC_ACTIVE_SUM,
    ACC_ACTIVE_SUMSQ,
    ACC_COSTS,
    ACC_DRIFT_MAX,
    ACC_DRIFT_SUM,
    ACC_REBALANCES,
    ACC_TRADES,
    ACC_TURNOVER,
    M_CAGR,
    M_CALMAR,
    M_FINAL_WEALTH,
    M_MAX_ABS_DRIFT,
    M_MAX_DRAWDOWN,
    M_MEAN_ABS_DRIFT,
    M_N_REBALANCES,
    M_N_TRADES,
    M_SHARPE,
    M_SORTINO,
    M_TOTAL_COSTS,
    M_TOTAL_RETURN,
    M_TRACKING_ERROR,
    M_TURNOVER,
    M_VOLATILITY,
    METRIC_NAMES,
    N_METRICS,
)

__all__ = ["METRIC_DOCS", "METRIC_NAMES", "compute_metrics", "metrics_dict"]

METRIC_DOCS = {
    "final_wealth": "end value / start value (1.0 = flat), after all costs",
    "total_return": "final_wealth − 1",
    "cagr": "compound annual growth rate",
    "volatility": "annualised standard deviation of period returns",
    "sharpe": "annualised mean / standard deviation of period returns (risk-free rate 0)",
    "sortino": "annualised mean / downside deviation (target 0)",
    "max_drawdown": "largest peak-to-trough loss, as a positive fraction",
    "calmar": "cagr / max_drawdown",
    "turnover": "annualised one-way turnover after formation: Σ ½·Σ|trade| / value over all legs "
    "(the cash asset's too), per year",
    "total_costs": "all costs paid, including forming the portfolio, in currency",
    "n_rebalances": "rebalances that traded, after formation",
    "n_trades": "trades after formation (one per asset per rebalance)",
    "mean_abs_drift": "mean over closes of the largest |pre-trade weight − target|",
    "max_abs_drift": "largest |pre-trade weight − target| at any close",
    "tracking_error": "annualised std of (portfolio − always-on-target portfolio) returns",
}


SUM_PLAIN = 0  # Σ x
SUM_SQUARED_DEVIATION = 1  # Σ (x − m)²
SUM_DOWNSIDE_SQUARES = 2  # Σ over x < 0 of x²


@njit(cache=True, inline="always")
def _term(v, m, kind):
    if kind == SUM_SQUARED_DEVIATION:
        return (v - m) * (v - m)
    if kind == SUM_DOWNSIDE_SQUARES:
        return v * v if v < 0.0 else 0.0
    return v


@njit(cache=True, inline="always")
def _sum4(x, m, kind):
    """The sum of kind SUM_* over ``x``, in four lanes (docs/kernel-performance.md, "four-lane sums")."""
    s0 = s1 = s2 = s3 = 0.0
    n = x.shape[0]
    j = 0
    while j + 4 <= n:
        s0 += _term(x[j], m, kind)
        s1 += _term(x[j + 1], m, kind)
        s2 += _term(x[j + 2], m, kind)
        s3 += _term(x[j + 3], m, kind)
        j += 4
    while j < n:
        s0 += _term(x[j], m, kind)
        j += 1
    return (s0 + s1) + (s2 + s3)


@njit(cache=True)
def compute_metrics(equity, acc, capital, periods_per_year):
    """The METRIC_NAMES values as a float array, indexed by the M_* codes of ballast.enums."""
    T = equity.shape[0]
    out = np.zeros(N_METRICS)
    fw = equity[T - 1] / capital
    out[M_FINAL_WEALTH] = fw
    out[M_TOTAL_RETURN] = fw - 1.0
    years = (T - 1) / periods_per_year if T > 1 else 0.0
    out[M_CAGR] = fw ** (1.0 / years) - 1.0 if years > 0 and fw > 0 else np.nan
    k = T - 1
    rets = np.empty(max(k, 0))
    for t in range(1, T):
        rets[t - 1] = equity[t] / equity[t - 1] - 1.0
    # Sums in four lanes (docs/kernel-performance.md, "four-lane sums").
    m = _sum4(rets, 0.0, SUM_PLAIN)
    m = m / k if k > 0 else 0.0
    ss = _sum4(rets, m, SUM_SQUARED_DEVIATION)
    dd2 = _sum4(rets, 0.0, SUM_DOWNSIDE_SQUARES)
    sd = math.sqrt(ss / (k - 1)) if k > 1 else 0.0
    down = math.sqrt(dd2 / k) if k > 0 else 0.0
    out[M_VOLATILITY] = sd * math.sqrt(periods_per_year)
    out[M_SHARPE] = m / sd * math.sqrt(periods_per_year) if sd > 0 else np.nan
    out[M_SORTINO] = m / down * math.sqrt(periods_per_year) if down > 0 else np.nan
    # Max drawdown: between two new highs the deepest point is the lowest value (1 − e/peak is
    # monotone in e, rounding included), so one division per high instead of one per period.
    peak = low = equity[0]
    mdd = 0.0
    for t in range(1, T):
        e = equity[t]
        if e > peak:
            mdd = max(mdd, 1.0 - low / peak)
            peak = low = e
        elif e < low:
            low = e
    mdd = max(mdd, 1.0 - low / peak)
    out[M_MAX_DRAWDOWN] = mdd
    out[M_CALMAR] = out[M_CAGR] / mdd if mdd > 0 else np.nan
    out[M_TURNOVER] = acc[ACC_TURNOVER] / years if years > 0 else 0.0
    out[M_TOTAL_COSTS] = acc[ACC_COSTS]
    out[M_N_REBALANCES] = acc[ACC_REBALANCES]
    out[M_N_TRADES] = acc[ACC_TRADES]
    out[M_MEAN_ABS_DRIFT] = acc[ACC_DRIFT_SUM] / k if k > 0 else 0.0
    out[M_MAX_ABS_DRIFT] = acc[ACC_DRIFT_MAX]
    if k > 1:
        ma = acc[ACC_ACTIVE_SUM] / k
        var = (acc[ACC_ACTIVE_SUMSQ] - k * ma * ma) / (k - 1)
        out[M_TRACKING_ERROR] = math.sqrt(max(var, 0.0) * periods_per_year)
    return out


def metrics_dict(values: np.ndarray) -> dict[str, float]:
    d = {name: float(v) for name, v in zip(METRIC_NAMES, values, strict=True)}
    d["n_rebalances"] = int(d["n_rebalances"])
    d["n_trades"] = int(d["n_trades"])
    return d
