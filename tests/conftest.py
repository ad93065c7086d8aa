"""Shared fixtures: the real datasets beside the repo, and small synthetic markets."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_file(rel: str) -> Path:
    path = SHARED / rel
    if not path.exists():
        if os.environ.get("CI"):
            raise FileNotFoundError(f"{path} missing in CI: shared/ must sit beside the repo")
        pytest.skip(f"{path} not available")
    return path


@pytest.fixture(scope="session")
def crypto() -> pd.DataFrame:
    from ballast.data.loaders import load_prices

    return load_prices("crypto", assets=["BTC", "ETH", "LTC", "XRP", "USDT"])


def gbm(n_assets: int = 5, n_periods: int = 500, vol: float = 0.6, seed: int = 0) -> pd.DataFrame:
    """Geometric Brownian motion daily prices (the benchmark's synthetic workload)."""
    rng = np.random.default_rng(seed)
    dt = 1 / 252
    z = rng.standard_normal((n_periods - 1, n_assets))
    steps = np.exp((0.05 - 0.5 * vol**2) * dt + vol * np.sqrt(dt) * z)
    prices = 100 * np.vstack([np.ones(n_assets), np.cumprod(steps, axis=0)])
    idx = pd.bdate_range("2010-01-04", periods=n_periods)
    return pd.DataFrame(prices, index=idx, columns=[f"A{i}" for i in range(n_assets)])


@pytest.fixture
def gbm_prices() -> pd.DataFrame:
    return gbm()
