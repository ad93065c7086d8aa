"""Liquidation probabilities: the GBM closed form against a seeded Monte Carlo, and the block
bootstrap of real history (docs/loans.md)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ballast.errors import InputError
from ballast.leverage import bootstrap_liquidation_probability, gbm_liquidation_probability, liquidated_windows
from ballast.market import Market


def monte_carlo(
    hf: float, sigma: float, horizon: float, mu: float, borrow: float, n: int, seed: int
) -> tuple[float, float]:
    """The same GBM simulated on a grid, continuously monitored by the Brownian-bridge crossing
    probability exp(−2·(x₀ − a)(x₁ − a)/(σ²Δt)) between grid points (exact, not a discretisation
    bias). Returns the mean of each path's crossing probability and its standard error."""
    rng = np.random.default_rng(seed)
    steps = 64
    dt = horizon / steps
    m = mu - 0.5 * sigma**2 - math.log1p(borrow)
    a = -math.log(hf)
    x0 = np.zeros(n)
    survive = np.ones(n)
    for _ in range(steps):
        x1 = x0 + m * dt + sigma * math.sqrt(dt) * rng.standard_normal(n)
        above = (x0 > a) & (x1 > a)
        cross = np.where(above, np.exp(-2.0 * (x0 - a) * (x1 - a) / (sigma**2 * dt)), 1.0)
        survive *= 1.0 - cross
        x0 = x1
    hit = 1.0 - survive
    return float(hit.mean()), float(hit.std(ddof=1) / math.sqrt(n))


@pytest.mark.parametrize(
    ("hf", "sigma", "horizon", "mu", "borrow"),
    [
        (1.2, 0.8, 30 / 365, 0.0, 0.0),
        (1.5, 0.8, 0.25, 0.0, 0.05),
        (2.0, 0.8, 1.0, 0.1, 0.05),
        (1.3, 0.4, 1.0, 0.0, 0.0),
        (1.5, 1.2, 7 / 365, -0.2, 0.0),
        (3.0, 1.2, 2.0, 0.3, 0.08),
    ],
)
def test_closed_form_matches_monte_carlo(hf: float, sigma: float, horizon: float, mu: float, borrow: float) -> None:
    closed = gbm_liquidation_probability(hf, sigma, horizon, mu, borrow)
    mc, se = monte_carlo(hf, sigma, horizon, mu, borrow, n=40_000, seed=15)
    assert se < 0.004  # precise enough for the check to mean something
    assert abs(closed - mc) < 3 * se, (closed, mc, se)
    assert 0.001 < closed < 0.999  # not a trivial case


def test_closed_form_limits() -> None:
    assert gbm_liquidation_probability(1.0, 0.8, 1.0) == 1.0
    assert gbm_liquidation_probability(0.9, 0.8, 1.0) == 1.0
    assert gbm_liquidation_probability(1.5, 0.8, 0.0) == 0.0
    # σ = 0: deterministic decline at m = −ln(1.1) a year reaches 1/1.2 after ln(1.2)/ln(1.1) = 1.91 years
    assert gbm_liquidation_probability(1.2, 0.0, 1.9, 0.0, 0.1) == 0.0
    assert gbm_liquidation_probability(1.2, 0.0, 1.92, 0.0, 0.1) == 1.0
    # without drift: P = 2·N(ln b/(σ√T)) (the reflection principle)
    b, s = 1 / 1.5, 0.7
    from scipy.stats import norm

    assert gbm_liquidation_probability(1.5, s, 1.0, mu=s**2 / 2) == pytest.approx(
        2 * norm.cdf(math.log(b) / s), rel=1e-12
    )
    # far from the barrier the log form stays finite
    assert gbm_liquidation_probability(1e6, 0.05, 1.0, mu=-0.5) == pytest.approx(0.0, abs=1e-300)
    hfs = [1.05, 1.2, 1.5, 2.0, 3.0]
    probs = [gbm_liquidation_probability(h, 0.8, 0.5) for h in hfs]
    assert probs == sorted(probs, reverse=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(hf=0.0, sigma=0.8, horizon=1.0), "hf must be a positive number"),
        (dict(hf="2", sigma=0.8, horizon=1.0), "hf must be a positive number, got '2'"),
        (dict(hf=1.5, sigma=-0.1, horizon=1.0), "sigma must be a non-negative number"),
        (dict(hf=1.5, sigma=0.8, horizon=-1.0), "horizon"),
        (dict(hf=1.5, sigma=0.8, horizon=1.0, borrow_rate=-1.0), "borrow_rate must be an APY"),
    ],
)
def test_closed_form_bad_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        gbm_liquidation_probability(**kwargs)  # type: ignore[arg-type]


def daily(prices: np.ndarray, assets: tuple[str, ...] = ("ETH", "USDC")) -> Market:
    index = pd.date_range("2020-01-01", periods=len(prices), freq="D")
    return Market(np.asarray(prices, dtype=float), assets, index)


def test_windows_by_hand() -> None:
    ratio = np.array([100.0, 90.0, 70.0, 95.0, 100.0, 60.0, 80.0])
    ones = np.ones(7)
    # windows of 3 from 0 and 3: min 70/100 and 60/95
    assert liquidated_windows(ratio, ones, 1 / 0.75, 3).tolist() == [True, True]
    assert liquidated_windows(ratio, ones, 1 / 0.65, 3).tolist() == [False, True]
    assert liquidated_windows(ratio, ones, 1 / 0.63, 3).tolist() == [False, False]
    # debt growing 10 % a period: 90/100/1.1 = 0.818 already reaches 1/1.2 = 0.833
    assert liquidated_windows(ratio, np.full(7, 1.1), 1.2, 3)[0]


def test_bootstrap_of_a_steady_decline_is_exact() -> None:
    # ETH falls 1 % a day, every day: every resampled path is the same path
    market = daily(np.column_stack([100 * 0.99 ** np.arange(201), np.ones(201)]))
    need = 1 / 0.99**10  # HF reached exactly after 10 days
    est = bootstrap_liquidation_probability(market, "ETH", need * 0.999, 10, n_paths=5, block=7, seed=1)
    assert est.probability == 1.0 and est.n_windows == 5 * 20
    assert bootstrap_liquidation_probability(market, "ETH", need * 1.001, 10, n_paths=5).probability == 0.0
    # a 5 % borrow rate adds debt: then a slightly safer loan is liquidated too
    g10 = 1.05 ** (10 / 365)
    assert (
        bootstrap_liquidation_probability(
            market, "ETH", need * g10 * 0.999, 10, n_paths=5, borrow_rate=0.05
        ).probability
        == 1.0
    )


def test_bootstrap_with_block_as_long_as_history_is_the_history() -> None:
    """One block of the whole history: each path is the real path, so the estimate is the share of
    the real windows (counted by hand) in which the loan would have been liquidated."""
    rng = np.random.default_rng(3)
    eth = 100 * np.exp(np.cumsum(np.r_[0.0, rng.normal(0.0, 0.05, 300)]))
    dai = 1 + np.r_[0.0, rng.normal(0.0, 0.002, 300)]
    market = daily(np.column_stack([eth, dai]), ("ETH", "DAI"))
    hf, h = 1.25, 30
    ratio = eth / dai
    by_hand = [min(ratio[s + 1 : s + h + 1]) / ratio[s] <= 1 / hf for s in range(0, 300 - h + 1, h)]
    est = bootstrap_liquidation_probability(market, "ETH", hf, h, n_paths=3, block=300, debt="DAI")
    assert est.n_windows == 3 * len(by_hand)
    assert est.probability == pytest.approx(np.mean(by_hand))
    assert 0.0 < est.probability < 1.0


def test_bootstrap_on_bundled_eth_is_fatter_tailed_than_gbm() -> None:
    """ETH's daily history: a week-long loan at HF 2 (a 50 % fall) is liquidated in about 0.07 % of
    bootstrap windows; the GBM with the same volatility says 5e-8 — the fat tails it misses."""
    from ballast.data.bundled import bundled_path

    path = bundled_path("crypto")
    assert path is not None
    eth = pd.read_csv(path, index_col=0, parse_dates=True)["ETH"].dropna()
    market = Market(np.column_stack([eth.to_numpy(), np.ones(len(eth))]), ("ETH", "USDC"), pd.DatetimeIndex(eth.index))
    sigma = float(np.diff(np.log(eth.to_numpy())).std(ddof=1) * math.sqrt(365))
    boot = bootstrap_liquidation_probability(market, "ETH", 2.0, 7, n_paths=100, block=10, seed=0)
    gbm = gbm_liquidation_probability(2.0, sigma, 7 / 365)
    assert boot.probability > gbm + 3 * boot.standard_error
    assert boot.probability > 100 * gbm and boot.probability < 0.01


def test_bootstrap_bad_input() -> None:
    market = daily(np.column_stack([np.linspace(100, 50, 50), np.ones(50)]))
    with pytest.raises(InputError, match="no prices for the collateral 'BTC'"):
        bootstrap_liquidation_probability(market, "BTC", 1.5, 10)
    with pytest.raises(InputError, match="no prices for the debt asset 'DAI'"):
        bootstrap_liquidation_probability(market, "ETH", 1.5, 10, debt="DAI")
    with pytest.raises(InputError, match=r"horizon must be a whole number of periods in \[1, 49\]"):
        bootstrap_liquidation_probability(market, "ETH", 1.5, 50)
    with pytest.raises(InputError, match="block of 60 periods is longer"):
        bootstrap_liquidation_probability(market, "ETH", 1.5, 10, block=60)
    with pytest.raises(InputError, match="n_paths"):
        bootstrap_liquidation_probability(market, "ETH", 1.5, 10, n_paths=1)
