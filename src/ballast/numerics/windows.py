"""Statistics over a trailing window of returns, shared by the volatility targets and triggers.

The window at t is the ``L`` simple returns of rows t−L+1..t (row 0 has no return), so row t
never reads a price after t.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


def check_lookback(owner: str, lookback: object, minimum: int = 2) -> int:
    """``lookback`` as an int, or a ValueError naming ``owner`` and what was expected."""
    if isinstance(lookback, bool) or not isinstance(lookback, (int, np.integer)) or lookback < minimum:
        raise ValueError(f"{owner}: lookback must be an integer number of periods >= {minimum}, got {lookback!r}")
    return int(lookback)


@njit(cache=True)
def window_portfolio_vol(R, t, L, w):
    """Sample standard deviation (ddof = 1) of Σᵢ wᵢ rₖᵢ over the window ending at t.

    Equals √(wᵀSw) for the sample covariance S of the window, in O(L·N): the ex-ante volatility
    of holding ``w`` (vol target) or of holding the active weights (tracking error).
    """
    m = 0.0
    for k in range(t - L + 1, t + 1):
        p = 0.0
        for i in range(w.shape[0]):
            p += w[i] * R[k, i]
        m += p
    m /= L
    s = 0.0
    for k in range(t - L + 1, t + 1):
        p = 0.0
        for i in range(w.shape[0]):
            p += w[i] * R[k, i]
        s += (p - m) ** 2
    return math.sqrt(s / (L - 1))
