"""Risk triggers: act when volatility changes regime, or when drift matters in risk terms.

- `VolatilityRegime` — realised volatility (annualised sample σ of the last ``lookback``
  returns, of one asset or of the equal-weight basket) has moved more than ``change``
  (relative) since the last rebalance, or now sits in a different band of ``thresholds``;
- `TrackingError` — the ex-ante tracking error √((w−w*)ᵀS(w−w*)·periods_per_year) of the
  pre-trade weights w against the target w* exceeds ``limit``. S is the sample covariance of the
  last ``lookback`` returns; (w−w*)ᵀS(w−w*) is the sample variance of the active return
  Σᵢ(wᵢ−w*ᵢ)rₖᵢ over the window, which the kernel computes in O(lookback·N).

Both read rows ≤ t only, fire never during warm-up (fewer than ``lookback`` returns), and make
the same decision in the compiled kernel (triggers/kernel.py) and here: both call the same
compiled helpers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from ballast.enums import LEAF_TRACKING_ERROR, LEAF_VOL_REGIME
from ballast.market import Market
from ballast.numerics.windows import check_lookback, window_portfolio_vol
from ballast.state import TriggerState
from ballast.triggers.base import Leaf, LeafSpec

MAX_THRESHOLDS = 3


@njit(cache=True)
def realised_vol_series(R, basket, L, ppy):
    """Annualised σ of the basket's returns over the window ending at each t; NaN while t < L."""
    T = R.shape[0]
    out = np.full(T, np.nan)
    for t in range(L, T):
        out[t] = window_portfolio_vol(R, t, L, basket) * np.sqrt(ppy)
    return out


@njit(cache=True)
def regime(sigma, params):
    """Band of σ among the thresholds params[1:4] (unused slots are +inf)."""
    k = 0
    for j in range(1, 4):
        if sigma >= params[j]:
            k += 1
    return k


@njit(cache=True)
def vol_regime_fires(series, params, t, last_t):
    """σₜ against σ at the last rebalance (or the first estimate, if that came later)."""
    s = series[t]
    if np.isnan(s):
        return False
    ref = last_t
    while np.isnan(series[ref]):
        ref += 1
    s0 = series[ref]
    if regime(s, params) != regime(s0, params):
        return True
    return s0 > 0.0 and abs(s / s0 - 1.0) > params[0]


@njit(cache=True)
def tracking_error(prices, t, L, w, target, ppy):
    """Ex-ante annualised tracking error of ``w`` against ``target`` at the close of t."""
    n = w.shape[0]
    R = np.empty((L + 1, n))
    for k in range(L + 1):
        for i in range(n):
            R[k, i] = prices[t - L + k, i] / prices[t - L + k - 1, i] - 1.0 if k > 0 else 0.0
    d = np.empty(n)
    for i in range(n):
        d[i] = w[i] - target[i]
    return window_portfolio_vol(R, L, L, d) * np.sqrt(ppy)


class VolatilityRegime(Leaf):
    """Fire when realised volatility moved more than ``change`` (0.25 = ±25 %) since the last
    rebalance, or crossed one of up to three ``thresholds`` (annualised, e.g. [0.4, 0.8]).

    ``asset``: whose volatility — one asset, or (None) the equal-weight basket of every asset
    in the market. ``change=None`` uses the thresholds only.
    """

    def __init__(
        self,
        lookback: int = 30,
        change: float | None = 0.25,
        thresholds: Sequence[float] = (),
        asset: str | None = None,
    ) -> None:
        self.lookback = check_lookback("VolatilityRegime", lookback)
        if change is not None and not (isinstance(change, (int, float)) and np.isfinite(change) and change > 0):
            raise ValueError(
                f"VolatilityRegime: change must be a positive fraction (0.25 = 25 %) or None, got {change!r}"
            )
        th = [float(x) for x in thresholds]
        if len(th) > MAX_THRESHOLDS:
            raise ValueError(f"VolatilityRegime: at most {MAX_THRESHOLDS} thresholds, got {len(th)}")
        if any(not (np.isfinite(x) and x > 0) for x in th) or th != sorted(set(th)):
            raise ValueError(
                f"VolatilityRegime: thresholds must be increasing positive volatilities, got {list(thresholds)}"
            )
        if change is None and not th:
            raise ValueError("VolatilityRegime: give change, thresholds, or both")
        self.change = None if change is None else float(change)
        self.thresholds = tuple(th)
        self.asset = asset
        self._series: tuple[Market, np.ndarray] | None = None

    def params(self) -> tuple[float, ...]:
        th = list(self.thresholds) + [np.inf] * (MAX_THRESHOLDS - len(self.thresholds))
        return (np.inf if self.change is None else self.change, *th)

    def series(self, market: Market) -> np.ndarray:
        """σ at every close (NaN in warm-up); cached per market — row t uses rows ≤ t only."""
        if self._series is None or self._series[0] is not market:
            if self.asset is None:
                basket = np.full(market.n_assets, 1.0 / market.n_assets)
            else:
                basket = np.zeros(market.n_assets)
                basket[market.asset_index(self.asset)] = 1.0
            s = realised_vol_series(market.returns, basket, self.lookback, float(market.periods_per_year))
            self._series = (market, s)
        return self._series[1]

    def check(self, state: TriggerState) -> bool:
        return bool(vol_regime_fires(self.series(state.market), np.array(self.params()), state.t, state.last_rebalance))

    def reason(self, state: TriggerState) -> str:
        s = self.series(state.market)
        ref = state.last_rebalance
        while np.isnan(s[ref]):
            ref += 1
        return f"volatility regime: {self.subject()} σ {s[state.t]:.1%} vs {s[ref]:.1%} at {state.market.index[ref]}"

    def subject(self) -> str:
        return self.asset or "basket"

    def encode(self, market: Market) -> LeafSpec:
        return LeafSpec(LEAF_VOL_REGIME, series=self.series(market), params=self.params())

    def describe(self) -> str:
        parts = [f"{self.subject()} vol over {self.lookback}"]
        if self.change is not None:
            parts.append(f"moves > {self.change:.0%}")
        if self.thresholds:
            parts.append("crosses " + "/".join(f"{x:.0%}" for x in self.thresholds))
        return "volatility regime (" + ", ".join(parts) + ")"


class TrackingError(Leaf):
    """Fire when the ex-ante tracking error of current vs target weights exceeds ``limit``
    (annualised, 0.02 = 2 %), estimated on the last ``lookback`` returns (bt's PTE idea)."""

    def __init__(self, limit: float, lookback: int = 60) -> None:
        if not (isinstance(limit, (int, float)) and np.isfinite(limit) and limit > 0):
            raise ValueError(
                f"TrackingError: limit must be a positive annualised volatility (0.02 = 2 %), got {limit!r}"
            )
        self.limit = float(limit)
        self.lookback = check_lookback("TrackingError", lookback)

    def value(self, state: TriggerState) -> float:
        if state.t < self.lookback:
            return 0.0
        return float(
            tracking_error(
                state.market.prices,
                state.t,
                self.lookback,
                np.asarray(state.weights, np.float64),
                np.asarray(state.target, np.float64),
                float(state.market.periods_per_year),
            )
        )

    def check(self, state: TriggerState) -> bool:
        return self.value(state) > self.limit

    def reason(self, state: TriggerState) -> str:
        return f"tracking error: {self.value(state):.2%} > {self.limit:.2%}"

    def encode(self, market: Market) -> LeafSpec:
        return LeafSpec(LEAF_TRACKING_ERROR, params=(self.limit, float(self.lookback), float(market.periods_per_year)))

    def describe(self) -> str:
        return f"tracking error > {self.limit:.2%} (over {self.lookback})"
