"""Shared fixtures (helpers live in market_support.py, live_support.py, browser_support.py, api_support.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from market_support import gbm

# Fixtures of the helper modules, available to every test without importing them.
pytest_plugins = ["live_support", "browser_support"]


@pytest.fixture(scope="session")
def crypto() -> pd.DataFrame:
    from ballast.data.loaders import load_prices

    return load_prices("crypto", assets=["BTC", "ETH", "LTC", "XRP", "USDT"])


@pytest.fixture
def gbm_prices() -> pd.DataFrame:
    return gbm()
