"""Choosing a loan's repay/boost band: a sweep over history and its bootstrap resamplings.

Every band (repay_below, repay_to, boost_above, boost_to) runs the strategy's compiled walk with
the loan (engine/loans.py), on the real history and on ``n_paths`` block-bootstrap paths
(`sweep.robust.bootstrap_market`), next to the same strategy without the loan. Per band, as
shares a year of the unlevered portfolio's mean value over the run (means over the bootstrap
paths; the mean value, not the starting capital, so that a run that grew twentyfold does not
count its last years twenty times):

- ``carry``: what the borrowed exposure earned net of interest — the levered run's end value less
  the unlevered run's, with the liquidation penalties and the band's costs added back;
- ``penalty``: the expected liquidation penalty (collateral seized − debt repaid);
- ``costs``: swap fees and gas of the band's repays and boosts;
- ``score`` = carry − penalty − costs (the levered run's end value less the unlevered one's);
- ``p_liquidation``: the probability of at least one liquidation a year (share of bootstrap paths
  with one, made annual assuming independent years), with its standard error;
- ``p_gbm``: the closed form for a loan sitting at repay_below, which the band cannot defend
  between two closes: 1 − (1 − P₁)^(periods a year), P₁ the GBM first-passage probability over one
  period (`gbm_liquidation_probability`) at the collateral/debt volatility of the history.

The recommended band has the best score among those whose p_liquidation is at most
``max_probability`` (the least likely to be liquidated when none is).
"""

from __future__ import annotations

import math
from dataclasses import replace
from itertools import product
from typing import NamedTuple

import numpy as np
import pandas as pd

from ballast.engine.backtest import run_compiled, walk_args
from ballast.engine.prepared import Prepared, prepare
from ballast.enums import (
    BAND_BOOST_ABOVE,
    BAND_BOOST_TO,
    BAND_MIN_CHANGE,
    BAND_REPAY_BELOW,
    BAND_REPAY_TO,
    LT_BOOSTS,
    LT_BORROW_PAID,
    LT_COSTS,
    LT_LIQUIDATIONS,
    LT_MIN_HF,
    LT_PENALTY,
    LT_REPAYS,
)
from ballast.errors import InputError
from ballast.leverage.probability import gbm_liquidation_probability
from ballast.market import Market
from ballast.positions.band import HealthBand
from ballast.positions.encode import LoanPosition, Loans
from ballast.strategy import Strategy

BAND_FIELDS = ("repay_below", "repay_to", "boost_above", "boost_to")
# The default grid: 10 × 5 × 4 × 5 = 1,000 bands, valid by construction.
REPAY_BELOW = tuple(np.round(np.arange(1.15, 2.1, 0.1), 2))
REPAY_GAP = (0.1, 0.2, 0.3, 0.4, 0.6)  # repay_to − repay_below
BOOST_GAP = (0.0, 0.1, 0.3, 0.6)  # boost_to − repay_to
BOOST_WIDTH = (0.1, 0.2, 0.3, 0.5, 0.8)  # boost_above − boost_to


class Thresholds(NamedTuple):
    """The sweep: one row per band, the recommended row, and the history's volatility and length."""

    table: pd.DataFrame
    recommended: pd.Series
    sigma: float
    years: float
    n_paths: int


def band_grid(
    repay_below: tuple[float, ...] = REPAY_BELOW,
    repay_gap: tuple[float, ...] = REPAY_GAP,
    boost_gap: tuple[float, ...] = BOOST_GAP,
    boost_width: tuple[float, ...] = BOOST_WIDTH,
) -> np.ndarray:
    """Bands float64[B, 4] (repay_below, repay_to, boost_above, boost_to) from the product of the
    repay trigger, the gaps to the targets and the boost band's width: every band is valid."""
    rows = []
    for below, gap, bgap, width in product(repay_below, repay_gap, boost_gap, boost_width):
        to = below + gap
        rows.append((below, to, to + bgap + width, to + bgap))
    out = np.array(rows, dtype=np.float64).reshape(-1, 4)
    for row in out:
        check_band(row)
    return out


def check_band(row: np.ndarray) -> HealthBand:
    """The band's own checks (1 < repay_below < repay_to ≤ boost_to < boost_above)."""
    below, to, above, bto = (float(x) for x in row)
    return HealthBand(below, to, above, bto)


def _one_loan(strategy: Strategy) -> LoanPosition:
    if strategy.loans is None or len(strategy.loans) != 1:
        n = 0 if strategy.loans is None else len(strategy.loans)
        raise InputError(f"leverage thresholds: the strategy needs exactly one loan ([[loans]]); it has {n}")
    return strategy.loans.positions[0]


def _run(p: Prepared, bands: np.ndarray, min_change: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(end value per band, loan totals per band, the value path without the loan) on ``p``'s market."""
    assert p.loans is not None
    args = walk_args(p, False)
    plain_equity = run_compiled(replace(p, loans=None), False, args=args).equity
    ends = np.empty(bands.shape[0])
    totals = []
    base = p.loans.band[0].copy()
    for b in range(bands.shape[0]):
        row = base.copy()
        row[[BAND_REPAY_BELOW, BAND_REPAY_TO, BAND_BOOST_ABOVE, BAND_BOOST_TO]] = bands[b]
        row[BAND_MIN_CHANGE] = min_change
        raw = run_compiled(replace(p, loans=p.loans._replace(band=row[None, :])), False, args=args)
        assert raw.loans is not None
        ends[b] = raw.equity[-1]
        totals.append(raw.loans.totals)
    return ends, np.array(totals), plain_equity


def _annual(ends: np.ndarray, totals: np.ndarray, plain_path: np.ndarray, years: float) -> dict[str, np.ndarray]:
    """Amounts as shares of the unlevered portfolio's mean value, per year."""
    scale = 1.0 / (float(plain_path.mean()) * years)
    plain = float(plain_path[-1])
    penalty, costs = totals[:, LT_PENALTY], totals[:, LT_COSTS]
    return {
        "carry": (ends - plain + penalty + costs) * scale,
        "penalty": penalty * scale,
        "costs": costs * scale,
        "interest": totals[:, LT_BORROW_PAID] * scale,
        "score": (ends - plain) * scale,
    }


def _sigma(market: Market, pos: LoanPosition) -> float:
    """Annual volatility of the first collateral asset's price in the debt asset."""
    ratio = market.prices[:, market.asset_index(pos.loan.collateral[0])]
    ratio = ratio / market.prices[:, market.asset_index(pos.loan.debt)]
    return float(np.std(np.diff(np.log(ratio)), ddof=1) * math.sqrt(market.periods_per_year))


def thresholds(
    strategy: Strategy,
    market: Market,
    bands: np.ndarray | None = None,
    n_paths: int = 10,
    block: int = 20,
    seed: int = 0,
    max_probability: float = 0.05,
) -> Thresholds:
    """Sweep ``bands`` (float64[B, 4]; default `band_grid()`, 1,000 bands) for the strategy's one loan
    on ``market`` and ``n_paths`` bootstrap paths of blocks of ``block`` periods; see the module's
    docstring for the columns. The band's ``min_debt_change`` and the loan's opening are the strategy's."""
    pos = _one_loan(strategy)
    grid = band_grid() if bands is None else np.asarray(bands, dtype=np.float64)
    if grid.ndim != 2 or grid.shape[1] != 4 or grid.shape[0] == 0:
        raise InputError(f"leverage thresholds: bands must be rows of {', '.join(BAND_FIELDS)}, got {grid.shape}")
    for row in grid:
        check_band(row)
    if not (isinstance(n_paths, int) and n_paths >= 0):
        raise InputError(f"leverage thresholds: n_paths must be a whole number ≥ 0, got {n_paths!r}")
    if not (0.0 <= max_probability <= 1.0):
        raise InputError(f"leverage thresholds: max_probability must be in [0, 1], got {max_probability!r}")
    min_change = pos.band.min_debt_change if pos.band is not None else 0.0
    # every band is run from the same opening; without one, a boost band opens the loan itself
    loans = Loans(replace(pos, band=check_band(grid[0])), day_count=strategy.loans.day_count)  # type: ignore[union-attr]
    s = replace(strategy, loans=loans)
    p = prepare(s, market)
    years = float((market.n_periods - 1) / market.periods_per_year)
    ends, totals, plain = _run(p, grid, min_change)
    history = _annual(ends, totals, plain, years)
    table = pd.DataFrame(grid, columns=list(BAND_FIELDS))
    for name in ("score", "carry", "penalty", "costs"):
        table[f"history_{name}"] = history[name]
    table["history_liquidations"] = totals[:, LT_LIQUIDATIONS].astype(np.int64)
    table["n_repays"] = totals[:, LT_REPAYS].astype(np.int64)
    table["n_boosts"] = totals[:, LT_BOOSTS].astype(np.int64)
    table["min_health_factor"] = totals[:, LT_MIN_HF]
    if n_paths > 0:
        from ballast.sweep.robust import bootstrap_market

        hit = np.zeros(grid.shape[0])
        sums = {k: np.zeros(grid.shape[0]) for k in history}
        for path in range(n_paths):
            try:
                resampled = bootstrap_market(market, block, seed, path)
            except ValueError as e:
                raise InputError(f"leverage thresholds: {e}") from None
            ends_b, totals_b, plain_b = _run(prepare(s, resampled), grid, min_change)
            hit += totals_b[:, LT_LIQUIDATIONS] > 0
            for k, v in _annual(ends_b, totals_b, plain_b, years).items():
                sums[k] += v
        share = hit / n_paths
        table["p_liquidation"] = 1.0 - (1.0 - share) ** (1.0 / years)
        table["p_liquidation_se"] = np.sqrt(share * (1.0 - share) / n_paths) / years
        for k, v in sums.items():
            table[k] = v / n_paths
    else:  # the history alone: whether it was liquidated, and its own numbers
        table["p_liquidation"] = 1.0 - (1.0 - (totals[:, LT_LIQUIDATIONS] > 0)) ** (1.0 / years)
        table["p_liquidation_se"] = np.nan
        for k, v in history.items():
            table[k] = v
    sigma = _sigma(market, pos)
    rate = float(np.exp(np.log(p.loans.debt_growth[1:, 0]).sum() / years) - 1.0) if years > 0 else 0.0  # type: ignore[union-attr]
    step = 1.0 / market.periods_per_year
    one = np.array([gbm_liquidation_probability(b, sigma, step, 0.0, rate) for b in grid[:, 0]])
    table["p_gbm"] = 1.0 - (1.0 - one) ** market.periods_per_year
    ok = table["p_liquidation"] <= max_probability
    best = table.loc[ok, "score"].idxmax() if ok.any() else table["p_liquidation"].idxmin()
    return Thresholds(table, table.loc[best], sigma, years, n_paths)
