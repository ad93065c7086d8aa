"""Risk targets: estimators against scikit-learn / PyPortfolioOpt / pandas, solvers against
PyPortfolioOpt and cvxpy, exact risk parity, warm-up, and no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ballast.market import Market
from ballast.targets.constraints import Bounds, Reserve
from ballast.targets.risk import (
    InverseVol,
    MinVariance,
    RiskParity,
    VolTarget,
    covariance,
    erc_weights,
    min_variance_weights,
)
from market_support import gbm


def random_cov(rng: np.random.Generator, n: int, cond: float = 1e3) -> np.ndarray:
    """A random PD covariance with condition number ``cond`` and daily-return scale."""
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    eig = np.geomspace(1.0, 1.0 / cond, n) * 4e-4
    return (q * eig) @ q.T


@pytest.fixture(scope="module")
def window() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.standard_normal((60, 8)) @ np.triu(rng.uniform(0, 1, (8, 8))) * 0.02 + 0.001


def test_ledoit_wolf_matches_sklearn(window: np.ndarray) -> None:
    from sklearn.covariance import ledoit_wolf

    np.testing.assert_allclose(covariance(window, "ledoit_wolf"), ledoit_wolf(window)[0], rtol=1e-10, atol=0)


def test_constant_correlation_matches_pypfopt(window: np.ndarray) -> None:
    from pypfopt.risk_models import CovarianceShrinkage

    cs = CovarianceShrinkage(pd.DataFrame(window), returns_data=True, frequency=1)
    # PyPortfolioOpt mixes a ddof-1 sample covariance into Ledoit & Wolf's (2003) formulas, which
    # use the biased one throughout; give it the biased one to compare the published estimator.
    cs.S = pd.DataFrame(window).cov(ddof=0).to_numpy()
    ref = cs.ledoit_wolf("constant_correlation").to_numpy()
    assert 0.0 < cs.delta < 1.0
    np.testing.assert_allclose(covariance(window, "constant_correlation"), ref, rtol=1e-10, atol=0)


def test_sample_covariance_is_ddof_one(window: np.ndarray) -> None:
    np.testing.assert_allclose(covariance(window, None), np.cov(window.T), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 40), log_cond=st.floats(0.0, 5.0))
def test_risk_contributions_equal(seed: int, n: int, log_cond: float) -> None:
    S = random_cov(np.random.default_rng(seed), n, 10.0**log_cond)
    w = erc_weights(S)
    rc = w * (S @ w) / (w @ S @ w)
    assert np.all(w > 0) and abs(w.sum() - 1) < 1e-12
    assert np.max(np.abs(rc - 1.0 / n)) < 1e-6 / n


def test_risk_parity_matches_pypfopt() -> None:
    import cvxpy as cp
    from pypfopt.base_optimizer import BaseConvexOptimizer

    for seed in range(3):
        S = random_cov(np.random.default_rng(seed), 12, 100.0)
        unit = S / np.mean(np.diag(S))  # same weights, solver-friendly scale (y of order 1)
        opt = BaseConvexOptimizer(12, weight_bounds=(1e-9, 100.0))
        # The same log-barrier problem, solved by PyPortfolioOpt's cvxpy route, then normalised.
        raw = opt.convex_objective(
            lambda w, S=unit: 0.5 * cp.quad_form(w, S) - cp.sum(cp.log(w)), weights_sum_to_one=False
        )
        ref = np.array(list(raw.values()))
        ref /= ref.sum()
        np.testing.assert_allclose(erc_weights(S), ref, atol=1e-5)


@pytest.mark.parametrize("bounds", [(0.0, 1.0), (0.0, 0.15), (0.02, 0.3)])
def test_min_variance_matches_cvxpy(bounds: tuple[float, float]) -> None:
    import cvxpy as cp

    for seed in range(3):
        S = random_cov(np.random.default_rng(100 + seed), 15, 300.0)
        x = cp.Variable(15)
        unit = S / np.mean(np.diag(S))  # same minimiser, a scale the solver's tolerances suit
        cp.Problem(cp.Minimize(cp.quad_form(x, unit)), [cp.sum(x) == 1, x >= bounds[0], x <= bounds[1]]).solve(
            solver=cp.CLARABEL
        )
        w = min_variance_weights(S, *bounds)
        assert w.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.all(w >= bounds[0] - 1e-12) and np.all(w <= bounds[1] + 1e-12)
        assert w @ S @ w <= x.value @ S @ x.value * (1 + 1e-7)
        np.testing.assert_allclose(w, x.value, atol=1e-5)


@pytest.fixture(scope="module")
def market() -> Market:
    return Market.from_frame(gbm(6, 400, seed=11))


@pytest.mark.parametrize("shrinkage", ["ledoit_wolf", "constant_correlation", None])
def test_risk_parity_path_rows_solve_their_window(market: Market, shrinkage: str | None) -> None:
    """Running-sum moments (with their periodic refresh) give each window's estimate."""
    path = RiskParity(40, shrinkage).path(market)
    R = market.returns
    for t in (40, 41, 79, 80, 81, 250, 399):
        np.testing.assert_allclose(path[t], erc_weights(covariance(R[t - 39 : t + 1], shrinkage)), atol=1e-9)


def test_min_variance_path_matches_cvxpy(market: Market) -> None:
    import cvxpy as cp

    path = MinVariance(50, bounds=(0.05, 0.3)).path(market)
    for t in (50, 200, 399):
        S = covariance(market.returns[t - 49 : t + 1], "ledoit_wolf")
        x = cp.Variable(6)
        cp.Problem(cp.Minimize(cp.quad_form(x, S / np.mean(np.diag(S)))), [cp.sum(x) == 1, x >= 0.05, x <= 0.3]).solve(
            solver=cp.CLARABEL
        )
        np.testing.assert_allclose(path[t], x.value, atol=1e-5)


def test_inverse_vol_rolling_matches_pandas(market: Market) -> None:
    path = InverseVol(30).path(market)
    sd = pd.DataFrame(market.prices).pct_change().rolling(30).std().to_numpy()
    ref = (1 / sd) / (1 / sd).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(path[30:], ref[30:], rtol=1e-10)
    np.testing.assert_array_equal(path[:30], np.full((30, 6), 1 / 6))


def test_inverse_vol_ewma_matches_pandas(market: Market) -> None:
    L = 30
    path = InverseVol(L, "ewma").path(market)
    r2 = pd.DataFrame(market.returns**2)
    seed = r2.iloc[1 : L + 1].mean()
    # pandas' adjust=False recursion y_k = (1-a) y_{k-1} + a x_k, started from the seed at t = L.
    seq = pd.concat([seed.to_frame().T, r2.iloc[L + 1 :]], ignore_index=True)
    var = seq.ewm(alpha=2 / (L + 1), adjust=False).mean().to_numpy()
    ref = (1 / np.sqrt(var)) / (1 / np.sqrt(var)).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(path[L:], ref, rtol=1e-10)


def test_warm_up_rules(market: Market) -> None:
    np.testing.assert_array_equal(RiskParity(60).path(market)[:60], np.full((60, 6), 1 / 6))
    mv = MinVariance(60, bounds={"A0": (0.5, 1.0)}).path(market)
    np.testing.assert_allclose(mv[:60, 0], 0.5)
    np.testing.assert_allclose(mv[:60, 1:], 0.1)
    vt = VolTarget(RiskParity(60, assets=["A0", "A1", "A2"]), 0.2, 60, reserve="A5").path(market)
    np.testing.assert_array_equal(vt[:60, 5], 1.0)
    assert np.all(vt[60:, 5] < 1.0)


def test_vol_target_hits_ex_ante_target(market: Market) -> None:
    inner = InverseVol(50, assets=["A0", "A1", "A2", "A3"])
    tg = VolTarget(inner, 0.05, 50, reserve="A5")
    w = tg.path(market)
    for t in (50, 120, 399):
        S = np.cov(market.returns[t - 49 : t + 1].T)
        risky = w[t].copy()
        risky[5] = 0.0
        assert np.sqrt(risky @ S @ risky * market.periods_per_year) == pytest.approx(0.05, rel=1e-10)
    capped = VolTarget(inner, 5.0, 50, max_leverage=1.5, reserve="A5").path(market)
    np.testing.assert_allclose(capped[50:, :4].sum(axis=1), 1.5)
    np.testing.assert_allclose(capped[50:, 5], -0.5)


TARGETS = {
    "inverse_vol": lambda: InverseVol(20),
    "inverse_vol_ewma": lambda: InverseVol(20, "ewma"),
    "risk_parity_lw": lambda: RiskParity(20),
    "risk_parity_cc": lambda: RiskParity(20, "constant_correlation"),
    "risk_parity_sample": lambda: RiskParity(25, None),
    "min_variance": lambda: MinVariance(20, bounds=(0.05, 0.5)),
    "vol_target": lambda: VolTarget(RiskParity(20, assets=["A0", "A1", "A2"]), 0.3, 20, reserve="A4", max_leverage=2.0),
    "bounds_reserve": lambda: Reserve(
        Bounds(RiskParity(20, assets=["A0", "A1", "A2", "A3"]), max_weight=0.3), "A4", 0.2
    ),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(t=st.integers(0, 118), seed=st.integers(0, 2**31 - 1), scale=st.floats(0.2, 5.0))
def test_no_look_ahead(name: str, t: int, seed: int, scale: float) -> None:
    """Prices after t changed at random: rows 0..t of the target path do not move by one bit."""
    df = gbm(5, 120, seed=3)
    rng = np.random.default_rng(seed)
    bumped = df.copy()
    bumped.iloc[t + 1 :] *= rng.uniform(1 / scale, scale, size=bumped.iloc[t + 1 :].shape) if scale > 1 else scale
    a = TARGETS[name]().path(Market.from_frame(df, 252.0))
    b = TARGETS[name]().path(Market.from_frame(bumped, 252.0))
    np.testing.assert_array_equal(a[: t + 1], b[: t + 1])
    head = TARGETS[name]().path(Market.from_frame(df.iloc[: t + 1], 252.0))
    np.testing.assert_array_equal(head, a[: t + 1])


def test_zero_volatility_asset_is_a_clear_error() -> None:
    df = gbm(3, 100).assign(CASH=1.0)
    with pytest.raises(ValueError, match=r"'CASH' has zero volatility over the 30 returns ending 2010-02-15"):
        RiskParity(30).path(Market.from_frame(df))
    with pytest.raises(ValueError, match="'CASH' has zero volatility"):
        InverseVol(30).path(Market.from_frame(df))
    w = RiskParity(30, assets=["A0", "A1", "A2"]).path(Market.from_frame(df))
    assert np.all(w[:, 3] == 0.0)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: RiskParity(1), "lookback must be an integer number of periods >= 2"),
        (lambda: RiskParity(60, "oas"), "shrinkage must be"),
        (lambda: InverseVol(60, "garch"), "estimator must be one of rolling, ewma"),
        (lambda: MinVariance(60, bounds=(0.5, 0.2)), "0 <= min <= max <= 1"),
        (lambda: VolTarget(RiskParity(60), -0.1), "target_vol must be a positive"),
        (lambda: VolTarget(RiskParity(60), 0.2, max_leverage=0), "max_leverage must be a positive"),
    ],
)
def test_bad_parameters_name_the_field(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_infeasible_bounds_and_unknown_assets(market: Market) -> None:
    with pytest.raises(ValueError, match="bounds are infeasible for 6 assets"):
        MinVariance(30, bounds=(0.0, 0.1)).path(market)
    with pytest.raises(KeyError, match="unknown asset"):
        RiskParity(30, assets=["A0", "ZZZ"]).path(market)
    with pytest.raises(KeyError, match="unknown asset 'USDC'"):
        VolTarget(RiskParity(30), 0.2, 30).path(market)
