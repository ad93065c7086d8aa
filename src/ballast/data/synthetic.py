"""Synthetic prices for examples, tests and benchmarks (real data lives in data/files)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def gbm_prices(
    n_assets: int = 5, n_periods: int = 500, vol: float = 0.6, seed: int = 0, drift: float = 0.05, width: int = 0
) -> pd.DataFrame:
    """Geometric Brownian motion closes on business days from 2010-01-04, starting at 100.

    ``vol`` and ``drift`` are annual; asset names are ``A0, A1, …`` (zero-padded to ``width``).
    """
    rng = np.random.default_rng(seed)
    dt = 1 / 252
    z = rng.standard_normal((n_periods - 1, n_assets))
    steps = np.exp((drift - 0.5 * vol**2) * dt + vol * np.sqrt(dt) * z)
    prices = 100 * np.vstack([np.ones(n_assets), np.cumprod(steps, axis=0)])
    idx = pd.bdate_range("2010-01-04", periods=n_periods)
    return pd.DataFrame(prices, index=idx, columns=[f"A{i:0{width}d}" for i in range(n_assets)])
