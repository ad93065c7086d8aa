"""Helpers the tests share: the real datasets beside the repo and small synthetic markets."""

from __future__ import annotations

import os
from pathlib import Path

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


def gbm(n_assets: int = 5, n_periods: int = 500, vol: float = 0.6, seed: int = 0) -> pd.DataFrame:
    """Geometric Brownian motion daily prices (the benchmark's synthetic workload)."""
    from ballast.data.synthetic import gbm_prices

    return gbm_prices(n_assets, n_periods, vol, seed)
