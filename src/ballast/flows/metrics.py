"""Returns and runway with money moving in and out: TWR, IRR, runway in months.

- Time-weighted return: the product over closes of (Vₜ − Fₜ)/Vₜ₋₁, with Fₜ the external flow
  actually paid in (+) or out (−) at close t (flows happen at the close, so the period's return
  is what the holdings did before it); flows do not change it, costs do.
- Money-weighted return (IRR): the annual rate r with −V₀ − Σ Fₜ·(1+r)^(−yₜ) + V_T·(1+r)^(−y_T) = 0,
  seen from the owner (capital and deposits go in, withdrawals and the end value come out), yₜ
  in years of 365 days since the first close.
- Runway: months the reserve R lasts at the spend rate S a month while earning its yield y a
  month: n = −ln(1 − y·R/S)/ln(1 + y) (R/S without yield; infinite when the yield covers S).
"""

from __future__ import annotations

import math

import numpy as np

DAYS_PER_MONTH = 365.0 / 12.0


def time_weighted_return(equity: np.ndarray, flow: np.ndarray, capital: float) -> float:
    """Total TWR (0.1 = +10 %). A period starting from a value of zero or less is skipped."""
    prev = np.concatenate(([capital], equity[:-1]))
    live = prev > 0.0
    growth = np.where(live, (equity - flow) / np.where(live, prev, 1.0), 1.0)
    return float(np.prod(growth) - 1.0)


def _npv(rate: float, amounts: np.ndarray, years: np.ndarray) -> float:
    return float(np.sum(amounts * np.exp(-years * math.log1p(rate))))


def irr(amounts: np.ndarray, years: np.ndarray) -> float:
    """The annual rate r > −1 with Σ amountsₖ·(1+r)^(−yearsₖ) = 0, by bisection on log(1+r) (NPV
    is monotone in r when the first amount is the only investment sign change; otherwise the
    root found is the one between −99.99 % and +10⁶ %). NaN when there is no sign change."""
    amounts = np.asarray(amounts, np.float64)
    years = np.asarray(years, np.float64)
    if not (np.any(amounts > 0) and np.any(amounts < 0)):
        return float("nan")
    lo, hi = math.log(1e-4), math.log(1e4)  # log(1 + r)
    f_lo = _npv(math.expm1(lo), amounts, years)
    f_hi = _npv(math.expm1(hi), amounts, years)
    if f_lo * f_hi > 0:
        return float("nan")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        f_mid = _npv(math.expm1(mid), amounts, years)
        if f_mid == 0.0 or hi - lo < 1e-15:
            return math.expm1(mid)
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return math.expm1(0.5 * (lo + hi))


def money_weighted_return(equity: np.ndarray, flow: np.ndarray, capital: float, years: np.ndarray) -> float:
    """IRR of the owner's cash flows: −capital at the first close, −Fₜ at each flow, +V at the end.
    ``years``: time of each close since the first, in years."""
    amounts = -np.asarray(flow, np.float64).copy()
    amounts[0] -= capital
    amounts[-1] += equity[-1]
    keep = amounts != 0.0
    return irr(amounts[keep], years[keep])


def runway_months(reserve: np.ndarray, spend: np.ndarray, monthly_yield: np.ndarray) -> np.ndarray:
    """Months the reserve lasts at ``spend`` a month earning ``monthly_yield`` (elementwise)."""
    reserve = np.maximum(np.asarray(reserve, np.float64), 0.0)
    spend = np.asarray(spend, np.float64)
    y = np.asarray(monthly_yield, np.float64) * np.ones_like(reserve)
    out = np.full(reserve.shape, np.inf)
    burn = spend > 0.0
    plain = burn & (np.abs(y) < 1e-15)
    out[plain] = reserve[plain] / spend[plain]
    grow = burn & ~plain
    ratio = np.where(grow, y * reserve / np.where(burn, spend, 1.0), 0.0)
    lasts = grow & (ratio < 1.0)
    out[lasts] = -np.log1p(-ratio[lasts]) / np.log1p(y[lasts])
    return out


def days_below(runway: np.ndarray, floor: float, days: np.ndarray) -> float:
    """Days (the time until the next close) spent with the runway below ``floor`` months."""
    return float(np.sum(np.where(runway < floor, days, 0.0)))
