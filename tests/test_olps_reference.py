"""Buy-and-hold and the uniform constant-rebalanced portfolio on the six classic OLPS datasets.

Three independent references: the closed forms (BAH = mean_i Π_t x, UCRP = Π_t mean_i x), a
plain-numpy walk written separately from the engine, and the published table of Li & Hoi's OLPS
survey (market = uniform BAH and best stock, two decimals).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ballast
from market_support import shared_file

# Li & Hoi, "Online Portfolio Selection: A Survey" (2014), final wealth without costs.
PUBLISHED = {  # dataset: (uniform buy-and-hold "Market", best stock)
    "nyse_o": (14.50, 54.14),
    "nyse_n": (18.06, 83.51),
    "tse": (1.61, 6.28),
    "sp500": (1.34, 3.78),
    "msci": (0.91, 1.50),
    "djia": (0.76, 1.19),
}


def relatives(name: str) -> tuple[str, np.ndarray, list[str]]:
    path = shared_file(f"olps/{name}_relatives.csv")
    df = pd.read_csv(path)
    assets = [c for c in df.columns if c not in ("period", "date")]
    return str(path), df[assets].to_numpy(), assets


def numpy_walk(x: np.ndarray, rebalance_every_period: bool) -> float:
    """An independent implementation: holdings in value, updated one period at a time."""
    n = x.shape[1]
    hold = np.full(n, 1.0 / n)
    for row in x:
        hold = hold * row
        if rebalance_every_period:
            hold = np.full(n, hold.sum() / n)
    return float(hold.sum())


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_buy_and_hold_and_ucrp(name: str) -> None:
    path, x, assets = relatives(name)
    bah = ballast.backtest(path, relatives=True, target="equal", rebalance="never").metrics["final_wealth"]
    crp = ballast.backtest(path, relatives=True, target="equal", rebalance="daily").metrics["final_wealth"]
    assert bah == pytest.approx(x.prod(axis=0).mean(), rel=1e-10)
    assert crp == pytest.approx(x.mean(axis=1).prod(), rel=1e-10)
    assert bah == pytest.approx(numpy_walk(x, False), rel=1e-10)
    assert crp == pytest.approx(numpy_walk(x, True), rel=1e-10)
    market, best = PUBLISHED[name]
    assert round(bah, 2) == pytest.approx(market, abs=0.0051)
    b = int(np.argmax(x.prod(axis=0)))
    best_wealth = ballast.backtest(path, relatives=True, target={assets[b]: 1.0}, rebalance="never").metrics[
        "final_wealth"
    ]
    assert round(best_wealth, 2) == pytest.approx(best, abs=0.0051)


def test_every_n_periods_matches_numpy() -> None:
    path, x, assets = relatives("djia")
    r = ballast.backtest(path, relatives=True, target="equal", rebalance=5, fee_bps=0)
    n = x.shape[1]
    hold = np.full(n, 1.0 / n)
    for t, row in enumerate(x, start=1):
        hold = hold * row
        if t % 5 == 0:
            hold = np.full(n, hold.sum() / n)
    assert r.metrics["final_wealth"] == pytest.approx(hold.sum(), rel=1e-12)
