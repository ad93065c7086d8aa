"""How likely is a loan to be liquidated: choosing the health factor to keep (docs/loans.md).

A loan with one volatile collateral asset against a stable debt is liquidated when the price ratio
collateral/debt falls by the factor 1/HF (debt growth included). Two estimates over a horizon:

- `gbm_liquidation_probability`: the closed-form first-passage probability of geometric Brownian
  motion below that barrier — optimistic for crypto, whose tails are fat;
- `bootstrap_liquidation_probability`: the same event over block-bootstrap resamplings of the real
  history (`sweep.robust.bootstrap_market`), so crashes like ETH's −42 % day on 2020-03-12 count.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.special import log_ndtr

from ballast.errors import InputError
from ballast.market import Market
from ballast.positions.loan import as_number
from ballast.yields import period_years


def _positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    v = as_number(value)
    if not (math.isfinite(v) and (v >= 0.0 if allow_zero else v > 0.0)):
        raise InputError(
            f"leverage: {name} must be a {'non-negative' if allow_zero else 'positive'} number, got {value!r}"
        )
    return v


def gbm_liquidation_probability(
    hf: float, sigma: float, horizon: float, mu: float = 0.0, borrow_rate: float = 0.0
) -> float:
    """P(the health factor falls to 1 within ``horizon`` years) when the collateral/debt price is a
    GBM with annual drift ``mu`` and volatility ``sigma`` and the debt compounds at ``borrow_rate``
    (an APY). With b = 1/HF and m = mu − σ²/2 − ln(1 + borrow_rate), the log HF ratio is a Brownian
    motion with drift m, and

        P = N((ln b − mT)/(σ√T)) + b^(2m/σ²)·N((ln b + mT)/(σ√T)).

    The second term is computed in logs, so a small b with a large exponent does not overflow."""
    hf = _positive("hf", hf)
    sigma = _positive("sigma", sigma, allow_zero=True)
    T = _positive("horizon", horizon, allow_zero=True)
    if not math.isfinite(mu):
        raise InputError(f"leverage: mu must be a number, got {mu!r}")
    if not (math.isfinite(borrow_rate) and borrow_rate > -1.0):
        raise InputError(f"leverage: borrow_rate must be an APY above -100 %, got {borrow_rate!r}")
    if hf <= 1.0:
        return 1.0
    log_b = -math.log(hf)
    m = mu - 0.5 * sigma**2 - math.log1p(borrow_rate)
    if T == 0.0:
        return 0.0
    if sigma == 0.0:  # deterministic: the barrier is reached iff the drift gets there within T
        return 1.0 if m * T <= log_b else 0.0
    s = sigma * math.sqrt(T)
    first = math.exp(float(log_ndtr((log_b - m * T) / s)))
    second = math.exp(2.0 * m * log_b / sigma**2 + float(log_ndtr((log_b + m * T) / s)))
    return min(first + second, 1.0)


class BootstrapEstimate(NamedTuple):
    """Share of horizon-long windows in which the loan would have been liquidated, its standard
    error across the bootstrap paths, and how many windows were counted."""

    probability: float
    standard_error: float
    n_windows: int


def liquidated_windows(ratio: np.ndarray, debt_growth: np.ndarray, hf: float, horizon: int) -> np.ndarray:
    """For each non-overlapping window of ``horizon`` periods of the price ratio (collateral/debt,
    one value per close): whether HF·ratio[s+k]/ratio[s] / growth(s, s+k) reached 1 at a close
    of the window. ``debt_growth[t]`` is the debt's growth over (t−1, t]."""
    n = (len(ratio) - 1) // horizon
    out = np.zeros(n, dtype=bool)
    log_g = np.concatenate([[0.0], np.cumsum(np.log(debt_growth[1:]))])
    for w in range(n):
        s = w * horizon
        path = np.log(ratio[s + 1 : s + horizon + 1] / ratio[s]) - (log_g[s + 1 : s + horizon + 1] - log_g[s])
        out[w] = bool(np.any(path <= -math.log(hf)))
    return out


def bootstrap_liquidation_probability(
    market: Market,
    collateral: str,
    hf: float,
    horizon: int,
    n_paths: int = 200,
    block: int = 20,
    seed: int = 0,
    debt: str | None = None,
    borrow_rate: float = 0.0,
    day_count: float = 365.0,
) -> BootstrapEstimate:
    """Liquidation probability over ``horizon`` periods by moving-block bootstrap of ``market``'s
    returns (``sweep.robust.bootstrap_market``: ``n_paths`` paths of blocks of ``block`` periods from
    ``seed``). Each path is cut into non-overlapping windows of ``horizon`` periods; the loan starts
    each window at ``hf``. ``debt``: the debt asset's column (its price divides the collateral's);
    without it the debt is worth 1. The debt compounds at ``borrow_rate`` (an APY) over the actual
    time between closes."""
    from ballast.sweep.robust import bootstrap_market  # the sweep machinery, only when asked for

    hf = _positive("hf", hf)
    if collateral not in market.assets:
        raise InputError(f"leverage: no prices for the collateral {collateral!r} ({', '.join(market.assets)})")
    if debt is not None and debt not in market.assets:
        raise InputError(f"leverage: no prices for the debt asset {debt!r} ({', '.join(market.assets)})")
    if not (isinstance(horizon, int) and 1 <= horizon <= market.n_periods - 1):
        raise InputError(
            f"leverage: horizon must be a whole number of periods in [1, {market.n_periods - 1}], got {horizon!r}"
        )
    if not (isinstance(n_paths, int) and n_paths >= 2):
        raise InputError(f"leverage: n_paths must be a whole number ≥ 2, got {n_paths!r}")
    if not (isinstance(block, int) and block >= 1):
        raise InputError(f"leverage: block must be a whole number of periods ≥ 1, got {block!r}")
    if not (math.isfinite(borrow_rate) and borrow_rate > -1.0):
        raise InputError(f"leverage: borrow_rate must be an APY above -100 %, got {borrow_rate!r}")
    growth = (1.0 + borrow_rate) ** period_years(market, day_count)
    shares = np.empty(n_paths)
    counted = 0
    for path in range(n_paths):
        try:
            resampled = bootstrap_market(market, block, seed, path)
        except ValueError as e:
            raise InputError(f"leverage: {e}") from None
        prices = resampled.prices[:, market.asset_index(collateral)]
        if debt is not None:
            prices = prices / resampled.prices[:, market.asset_index(debt)]
        hit = liquidated_windows(prices, growth, hf, horizon)
        shares[path] = hit.mean()
        counted += hit.size
    return BootstrapEstimate(float(shares.mean()), float(shares.std(ddof=1) / math.sqrt(n_paths)), counted)
