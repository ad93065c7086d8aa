"""Risk-based targets: size positions by risk estimated from the prices seen so far.

- `InverseVol` — weights ∝ 1/σ (rolling or EWMA σ);
- `RiskParity` — equal risk contribution on a (shrunk) covariance estimate;
- `MinVariance` — long-only minimum variance under per-asset bounds;
- `VolTarget` — scale any inner target's risky sleeve to an ex-ante volatility, rest in a reserve.

Warm-up: before ``lookback`` returns exist (t < lookback) there is no estimate; InverseVol and
RiskParity hold equal weights over their universe, MinVariance the equal weights projected onto
its bounds, VolTarget holds everything in its reserve. Row t of every path uses prices 0..t only.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence

import numpy as np

from ballast.market import Market
from ballast.numerics.windows import check_lookback
from ballast.targets.base import Target

SHRINKAGES = {None: 0, "none": 0, "ledoit_wolf": 1, "constant_correlation": 2}
ESTIMATORS = ("rolling", "ewma")


class CachedPath(Target):
    """A target whose path is computed once per market; ``at`` reads the cached row.

    Rows are causal, so reading row t of the whole market's path is the same as computing the path
    on rows 0..t (tested); the cache makes the pure-Python engine O(T) instead of O(T²).
    """

    _cache: tuple[Market, np.ndarray] | None = None

    @abstractmethod
    def compute(self, market: Market) -> np.ndarray:
        """The whole T×N path (called once per market)."""

    def path(self, market: Market) -> np.ndarray:
        cached = self._cache
        if cached is None or cached[0] is not market:
            cached = (market, self.compute(market))
            self._cache = cached
        return cached[1].copy()

    def at(self, market: Market, t: int) -> np.ndarray:
        cached = self._cache
        if cached is None or cached[0] is not market:
            self.path(market)
            cached = self._cache
        assert cached is not None
        return cached[1][t].copy()


class RiskTarget(CachedPath):
    """Shared parts of the estimators: the asset universe and the return window."""

    name = "risk"

    def __init__(self, lookback: int, assets: Sequence[str] | None = None) -> None:
        self.lookback = check_lookback(type(self).__name__, lookback)
        if assets is not None:
            assets = tuple(str(a) for a in assets)
            if len(assets) < 1 or len(set(assets)) != len(assets):
                raise ValueError(
                    f"{type(self).__name__}: assets must be a non-empty list without repeats, got {list(assets)}"
                )
        self.universe = assets

    def columns(self, market: Market) -> np.ndarray:
        """Indices of the universe's assets in the market (all assets by default)."""
        if self.universe is None:
            return np.arange(market.n_assets)
        unknown = [a for a in self.universe if a not in market.assets]
        if unknown:
            raise KeyError(
                f"{type(self).__name__}: unknown asset(s) {', '.join(map(repr, unknown))}; "
                f"the prices have: {', '.join(market.assets)}"
            )
        return np.array([market.assets.index(a) for a in self.universe], dtype=np.int64)

    def returns(self, market: Market, cols: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(market.returns[:, cols])

    def scatter(self, market: Market, cols: np.ndarray, sub: np.ndarray) -> np.ndarray:
        full = np.zeros(market.prices.shape)
        full[:, cols] = sub
        return full

    def fail(self, market: Market, cols: np.ndarray, status: tuple[int, int]) -> None:
        t, i = status
        if t < 0:
            return
        when = market.index[t]
        if i < 0:
            raise ValueError(
                f"{type(self).__name__}: the solver did not converge at {when}; the covariance "
                "estimate may be singular (more assets than returns): use shrinkage='ledoit_wolf' "
                "or a longer lookback"
            )
        raise ValueError(
            f"{type(self).__name__}: asset {market.assets[cols[i]]!r} has zero volatility over the "
            f"{self.lookback} returns ending {when}; leave it out with assets = [...] (a stable or "
            "cash asset belongs in a reserve, not in a risk-weighted sleeve)"
        )

    def assets(self) -> tuple[str, ...] | None:
        return self.universe

    def params(self) -> dict[str, object]:
        d: dict[str, object] = {"kind": self.name, "lookback": self.lookback}
        if self.universe is not None:
            d["assets"] = list(self.universe)
        return d


class InverseVol(RiskTarget):
    """Weights ∝ 1/σᵢ over ``assets`` (all by default).

    ``estimator="rolling"``: sample σ (ddof 1) of the last ``lookback`` returns, as bt's
    ``WeighInvVol``; ``"ewma"``: RiskMetrics zero-mean EWMA with α = 2/(lookback+1).
    """

    name = "inverse_vol"

    def __init__(self, lookback: int = 60, estimator: str = "rolling", assets: Sequence[str] | None = None) -> None:
        super().__init__(lookback, assets)
        if estimator not in ESTIMATORS:
            raise ValueError(f"InverseVol: estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}")
        self.estimator = estimator

    def compute(self, market: Market) -> np.ndarray:
        from ballast.targets.risk_kernel import inverse_vol_path

        cols = self.columns(market)
        out = np.empty((market.n_periods, len(cols)))
        status = inverse_vol_path(
            self.returns(market, cols),
            self.lookback,
            self.estimator == "ewma",
            np.full(len(cols), 1.0 / len(cols)),
            out,
        )
        self.fail(market, cols, status)
        return self.scatter(market, cols, out)

    def params(self) -> dict[str, object]:
        return {**super().params(), "estimator": self.estimator}


class CovarianceTarget(RiskTarget):
    """A target solved on a covariance estimate at every t. ``shrinkage``: ``"ledoit_wolf"``
    (default, towards a scaled identity), ``"constant_correlation"``, or None (sample covariance)."""

    def __init__(
        self, lookback: int = 60, shrinkage: str | None = "ledoit_wolf", assets: Sequence[str] | None = None
    ) -> None:
        super().__init__(lookback, assets)
        if shrinkage not in SHRINKAGES:
            raise ValueError(
                f"{type(self).__name__}: shrinkage must be 'ledoit_wolf', 'constant_correlation' "
                f"or none, got {shrinkage!r}"
            )
        self.shrinkage = None if shrinkage == "none" else shrinkage

    def solve(self, market: Market, method: int, lo: np.ndarray, hi: np.ndarray, warm: np.ndarray) -> np.ndarray:
        from ballast.targets.risk_kernel import risk_path

        cols = self.columns(market)
        out = np.empty((market.n_periods, len(cols)))
        status = risk_path(
            self.returns(market, cols), self.lookback, SHRINKAGES[self.shrinkage], method, lo, hi, warm, out
        )
        self.fail(market, cols, status)
        return self.scatter(market, cols, out)

    def params(self) -> dict[str, object]:
        return {**super().params(), "shrinkage": self.shrinkage or "none"}


class RiskParity(CovarianceTarget):
    """Equal risk contribution: every asset contributes the same share of portfolio variance.

    Solved exactly (to 1e-10 relative in each contribution) at every t by cyclical coordinate
    descent, warm-started from t−1.
    """

    name = "risk_parity"

    def compute(self, market: Market) -> np.ndarray:
        from ballast.targets.risk_kernel import METHOD_RISK_PARITY

        n = len(self.columns(market))
        return self.solve(market, METHOD_RISK_PARITY, np.zeros(n), np.ones(n), np.full(n, 1.0 / n))


Bound = tuple[float, float]


class MinVariance(CovarianceTarget):
    """Long-only minimum variance under ``bounds``: (lo, hi) for every asset, or a mapping
    asset → (lo, hi) (unnamed assets get (0, 1)). Solved exactly at every t by pairwise (SMO)
    steps, warm-started from t−1; cross-checked against cvxpy in the tests."""

    name = "min_variance"

    def __init__(
        self,
        lookback: int = 60,
        bounds: Bound | Mapping[str, Bound] = (0.0, 1.0),
        shrinkage: str | None = "ledoit_wolf",
        assets: Sequence[str] | None = None,
    ) -> None:
        super().__init__(lookback, shrinkage, assets)
        pairs = bounds.items() if isinstance(bounds, Mapping) else [("bounds", bounds)]
        for name, pair in pairs:
            try:
                lo, hi = (float(x) for x in pair)  # type: ignore[union-attr,unused-ignore]
            except (TypeError, ValueError):
                raise ValueError(f"MinVariance: {name} must be a pair (min, max), got {pair!r}") from None
            if not (0.0 <= lo <= hi <= 1.0):
                raise ValueError(f"MinVariance: {name} must satisfy 0 <= min <= max <= 1, got ({lo:g}, {hi:g})")
        self.bounds = (
            {str(k): (float(v[0]), float(v[1])) for k, v in bounds.items()}
            if isinstance(bounds, Mapping)
            else (float(bounds[0]), float(bounds[1]))
        )

    def limits(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(self.bounds, dict):
            unknown = [a for a in self.bounds if a not in names]
            if unknown:
                raise KeyError(
                    f"MinVariance: bounds name asset(s) outside the universe: {', '.join(map(repr, unknown))}"
                )
            pairs = [self.bounds.get(a, (0.0, 1.0)) for a in names]
        else:
            pairs = [self.bounds] * len(names)
        lo = np.array([p[0] for p in pairs])
        hi = np.array([p[1] for p in pairs])
        if lo.sum() > 1.0 + 1e-12 or hi.sum() < 1.0 - 1e-12:
            raise ValueError(
                f"MinVariance: bounds are infeasible for {len(names)} assets: the minimums sum to "
                f"{lo.sum():g} and the maximums to {hi.sum():g}; weights must sum to 1"
            )
        return lo, hi

    def compute(self, market: Market) -> np.ndarray:
        from ballast.numerics.projection import project_to_budget
        from ballast.targets.risk_kernel import METHOD_MIN_VARIANCE

        cols = self.columns(market)
        lo, hi = self.limits([market.assets[c] for c in cols])
        n = len(cols)
        warm = np.empty(n)
        project_to_budget(np.full(n, 1.0 / n), lo, hi, np.ones(n, np.bool_), 1.0, warm)
        return self.solve(market, METHOD_MIN_VARIANCE, lo, hi, warm)

    def params(self) -> dict[str, object]:
        return {**super().params(), "bounds": self.bounds}


class VolTarget(CachedPath):
    """Scale ``inner``'s risky sleeve so the portfolio's ex-ante annualised volatility is
    ``target_vol``; the rest goes to ``reserve`` (treated as riskless).

    σ is the sample volatility (ddof 1) over the last ``lookback`` returns of holding the inner
    risky weights of t — bt's ``TargetVol`` with its "standard" covariance. The gross risky
    exposure is capped at ``max_leverage`` (1 = never borrow the reserve). During warm-up
    (t < lookback) everything is in the reserve.
    """

    name = "vol_target"

    def __init__(
        self, inner: Target, target_vol: float, lookback: int = 60, max_leverage: float = 1.0, reserve: str = "USDC"
    ) -> None:
        if not isinstance(inner, Target):
            raise ValueError(f"VolTarget: inner must be a Target, got {type(inner).__name__}")
        if not (isinstance(target_vol, (int, float)) and np.isfinite(target_vol) and target_vol > 0):
            raise ValueError(
                f"VolTarget: target_vol must be a positive annualised volatility (0.2 = 20 %), got {target_vol!r}"
            )
        if not (isinstance(max_leverage, (int, float)) and np.isfinite(max_leverage) and max_leverage > 0):
            raise ValueError(f"VolTarget: max_leverage must be a positive number, got {max_leverage!r}")
        self.inner = inner
        self.target_vol = float(target_vol)
        self.lookback = check_lookback("VolTarget", lookback)
        self.max_leverage = float(max_leverage)
        self.reserve = str(reserve)

    def scales(self, market: Market, W: np.ndarray) -> np.ndarray:
        """The scale kₜ applied to the inner risky weights ``W`` (0 during warm-up)."""
        from ballast.targets.risk_kernel import vol_scale_path

        r = market.asset_index(self.reserve)
        W = np.ascontiguousarray(W, dtype=np.float64)
        risky = np.ones(market.n_assets, np.bool_)
        risky[r] = False
        k = np.empty(market.n_periods)
        vol_scale_path(
            market.returns,
            W,
            risky,
            self.lookback,
            float(market.periods_per_year),
            self.target_vol,
            self.max_leverage,
            k,
        )
        return k

    def compute(self, market: Market) -> np.ndarray:
        r = market.asset_index(self.reserve)
        W = np.asarray(self.inner.path(market), dtype=np.float64)
        k = self.scales(market, W)
        out = W * k[:, None]
        out[:, r] = 0.0
        out[:, r] = 1.0 - out.sum(axis=1)
        return out

    def assets(self) -> tuple[str, ...] | None:
        named = self.inner.assets()
        if named is None:
            return None
        return named if self.reserve in named else (*named, self.reserve)

    def params(self) -> dict[str, object]:
        return {
            "kind": self.name,
            "target_vol": self.target_vol,
            "lookback": self.lookback,
            "max_leverage": self.max_leverage,
            "reserve": self.reserve,
            "inner": self.inner.params(),
        }


def covariance(returns: np.ndarray, shrinkage: str | None = None) -> np.ndarray:
    """The covariance estimate the targets use, on one window of returns (L×N)."""
    from ballast.targets.covariance_kernel import add_row, new_window_sums, shrunk_covariance

    R = np.ascontiguousarray(returns, dtype=np.float64)
    L, n = R.shape
    if L < 2:
        raise ValueError(f"covariance needs at least 2 returns, got {L}")
    if shrinkage not in SHRINKAGES:
        raise ValueError(f"shrinkage must be 'ledoit_wolf', 'constant_correlation' or none, got {shrinkage!r}")
    sums = new_window_sums(n, True)
    for k in range(L):
        add_row(R[k], 1.0, True, sums)
    S = np.empty((n, n))
    shrunk_covariance(L, SHRINKAGES[shrinkage], sums, S)
    return S


def erc_weights(cov: np.ndarray, budgets: np.ndarray | None = None) -> np.ndarray:
    """Risk-budget weights for one covariance matrix (equal budgets by default)."""
    from ballast.targets.solvers_kernel import ERC_TOL, erc_solve

    S = np.ascontiguousarray(cov, dtype=np.float64)
    n = S.shape[0]
    b = np.ones(n) if budgets is None else np.asarray(budgets, dtype=np.float64) / np.sum(budgets)
    if S.shape != (n, n) or not np.all(np.diag(S) > 0) or not np.all(b > 0):
        raise ValueError("erc_weights needs a square covariance with a positive diagonal and positive budgets")
    y = 1.0 / np.sqrt(np.diag(S))
    if erc_solve(S, b, y, ERC_TOL) < 0:
        raise ValueError("erc_weights: coordinate descent did not converge (is the covariance positive definite?)")
    return y / y.sum()


def min_variance_weights(cov: np.ndarray, lo: np.ndarray | float = 0.0, hi: np.ndarray | float = 1.0) -> np.ndarray:
    """Long-only minimum-variance weights for one covariance matrix under bounds."""
    from ballast.numerics.projection import project_to_budget
    from ballast.targets.solvers_kernel import MINVAR_TOL, minvar_solve

    S = np.ascontiguousarray(cov, dtype=np.float64)
    n = S.shape[0]
    lo_a = np.broadcast_to(np.asarray(lo, dtype=np.float64), n).copy()
    hi_a = np.broadcast_to(np.asarray(hi, dtype=np.float64), n).copy()
    w = np.empty(n)
    if not project_to_budget(np.full(n, 1.0 / n), lo_a, hi_a, np.ones(n, np.bool_), 1.0, w):
        raise ValueError(f"min_variance_weights: bounds infeasible (min sum {lo_a.sum():g}, max sum {hi_a.sum():g})")
    if minvar_solve(S, lo_a, hi_a, w, MINVAR_TOL * np.trace(S) / n) < 0:
        raise ValueError("min_variance_weights: did not converge")
    return w
