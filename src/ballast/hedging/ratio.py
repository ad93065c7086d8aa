"""The hedge ratio when the instrument is not the exposure's own asset: a rolling regression.

β_t is the least-squares slope of the exposure's returns on the instrument's over the ``window``
returns ending at close t (rows ≤ t only): the β that minimises the variance of
r_exposure − β·r_instrument, i.e. cov / var. Until ``window`` returns exist β is NaN (no hedge).
"""

from __future__ import annotations

import numpy as np


def rolling_hedge_ratio(exposure: np.ndarray, instrument: np.ndarray, window: int) -> np.ndarray:
    """β per close from price series ``exposure`` and ``instrument`` (NaN before the window fills)."""
    pe = np.asarray(exposure, np.float64)
    pi = np.asarray(instrument, np.float64)
    T = len(pe)
    out = np.full(T, np.nan)
    if T <= window:
        return out
    re = np.zeros(T)
    ri = np.zeros(T)
    re[1:] = pe[1:] / pe[:-1] - 1.0
    ri[1:] = pi[1:] / pi[:-1] - 1.0
    for t in range(window, T):  # T is a few thousand closes: direct sums are exact and cheap enough
        x = ri[t - window + 1 : t + 1]
        y = re[t - window + 1 : t + 1]
        xc = x - x.mean()
        var = float(xc @ xc)
        out[t] = float(xc @ (y - y.mean())) / var if var > 0.0 else np.nan
    return out
