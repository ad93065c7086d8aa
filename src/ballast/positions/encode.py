"""Loans in a portfolio, encoded as plain arrays for the compiled walk (positions/kernel.py).

A loan's collateral and debt live in the portfolio's own holdings: every unit held of a collateral
asset is pledged (so a target weight on ETH includes the ETH posted), and the debt is a negative
holding of the debt asset (units of the debt asset = what the wallet holds − what is owed). The
only state of its own is what each loan owes. ``no_loans()`` is the 1-D empty encoding: with it (or
None) the walk compiles none of the loan machinery.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from ballast.enums import (
    BAND_BOOST_ABOVE,
    BAND_BOOST_TO,
    BAND_MIN_CHANGE,
    BAND_OPEN,
    BAND_REPAY_BELOW,
    BAND_REPAY_TO,
    N_BAND_COLUMNS,
    N_RULE_PARAMS,
    RULE_AAVE_V3,
    RULE_EULER_V2,
    RULE_MAKER,
    RULE_MORPHO_BLUE,
)
from ballast.errors import InputError
from ballast.market import Market
from ballast.positions.band import HealthBand
from ballast.positions.liquidation import AaveV3, EulerV2, LiquidationRule, MakerStyle, MorphoBlue, morpho_incentive
from ballast.positions.loan import Loan, as_number
from ballast.yields import period_years


class LoanArrays(NamedTuple):
    """K loans with up to C collateral assets each, over T closes and N assets."""

    collateral: np.ndarray  # int64[K, C]: market indices of the collateral assets, −1 padded
    lt: np.ndarray  # float64[K, C]: liquidation thresholds
    bonus: np.ndarray  # float64[K, C]: liquidation bonuses
    debt: np.ndarray  # int64[K]: market index of the debt asset
    debt_growth: np.ndarray  # float64[T, K]: a unit owed becomes debt_growth[t, k] units over (t−1, t]
    rule: np.ndarray  # int64[K]: RULE_* of ballast.enums
    rule_params: np.ndarray  # float64[K, N_RULE_PARAMS]
    band: np.ndarray  # float64[K, N_BAND_COLUMNS]: BAND_* columns, NaN = none
    low: np.ndarray  # float64[T, N]: each period's low (liquidations are checked there); [0, N]: closes only
    owed: np.ndarray  # float64[K]: debt units owed (the state, updated in place by the walk)


def no_loans() -> LoanArrays:
    """The encoding of no loans: 1-D empty fields, which switch the machinery off by type."""
    e, i = np.empty(0), np.empty(0, np.int64)
    return LoanArrays(i, e, e, i, e, i, e, e, e, e)


def rule_code(rule: LiquidationRule, loan: Loan) -> tuple[int, list[float]]:
    """The kernel's code and parameters of a built-in rule."""
    if isinstance(rule, AaveV3):
        return RULE_AAVE_V3, [loan.close_factor, rule.full_below, rule.small_position]
    if isinstance(rule, EulerV2):
        return RULE_EULER_V2, [rule.max_discount, 0.0, 0.0]
    if isinstance(rule, MorphoBlue):
        if len(loan.collateral) != 1:
            raise InputError(
                f"MorphoBlue: a market has one collateral asset; the loan has "
                f"{len(loan.collateral)} ({', '.join(loan.collateral)})"
            )
        return RULE_MORPHO_BLUE, [morpho_incentive(loan.thresholds[loan.collateral[0]]), 0.0, 0.0]
    if isinstance(rule, MakerStyle):
        return RULE_MAKER, [rule.penalty, 0.0, 0.0]
    raise InputError(f"loan: the backtest knows the rules AaveV3, EulerV2, MorphoBlue, MakerStyle; got {rule!r}")


@dataclass(frozen=True)
class LoanPosition:
    """A loan in a portfolio: its terms, the liquidation rule, the repay/boost band, and the health
    factor it is opened at (borrow and buy the first collateral asset at the first close after the
    portfolio is formed; None: the loan starts without debt, and only a band's boost opens it)."""

    loan: Loan
    rule: LiquidationRule = field(default_factory=AaveV3)
    band: HealthBand | None = None
    open_health: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.loan, Loan):
            raise InputError(f"loan position: expected a Loan, got {self.loan!r}")
        if not isinstance(self.rule, LiquidationRule):
            raise InputError(f"loan position: rule must be a LiquidationRule, got {self.rule!r}")
        if self.band is not None and self.band.repay_from != "collateral":
            raise InputError("loan position: repay_from = 'reserve' is not in the backtest yet; repay from collateral")
        if self.open_health is not None:
            h = as_number(self.open_health)
            if not (math.isfinite(h) and h > 1.0):
                raise InputError(
                    f"loan position: open_health must be a health factor above 1, got {self.open_health!r}"
                )

    def band_row(self) -> list[float]:
        row = [math.nan] * N_BAND_COLUMNS
        b = self.band
        if b is not None:
            row[BAND_REPAY_BELOW], row[BAND_REPAY_TO] = b.repay_below, b.repay_to
            if b.boost_above is not None and b.boost_to is not None:
                row[BAND_BOOST_ABOVE], row[BAND_BOOST_TO] = b.boost_above, b.boost_to
            row[BAND_MIN_CHANGE] = b.min_debt_change
        else:
            row[BAND_MIN_CHANGE] = 0.0
        if self.open_health is not None:
            row[BAND_OPEN] = float(self.open_health)
        return row

    def describe(self) -> dict[str, object]:
        loan = self.loan
        return {
            "collateral": list(loan.collateral),
            "debt": loan.debt,
            "liquidation_threshold": loan.thresholds,
            "borrow_rate": loan.rate.describe(),
            "rule": type(self.rule).__name__,
            **({"band": self.band.__dict__} if self.band is not None else {}),
            **({"open_health": self.open_health} if self.open_health is not None else {}),
        }


class Loans:
    """The loans of a portfolio. An asset is collateral of at most one loan and never the debt of
    one; ``lows``: each period's low price by asset (a DataFrame on the prices' index), where
    liquidations are checked; without it, at the closes."""

    def __init__(self, *positions: LoanPosition, lows: pd.DataFrame | None = None, day_count: float = 365.0) -> None:
        if not positions:
            raise InputError("loans: give at least one loan")
        self.positions = tuple(p if isinstance(p, LoanPosition) else LoanPosition(p) for p in positions)
        pledged: dict[str, int] = {}
        for k, p in enumerate(self.positions):
            for a in p.loan.collateral:
                if a in pledged:
                    raise InputError(f"loans: {a} is collateral of loans {pledged[a] + 1} and {k + 1}; pledge it once")
                pledged[a] = k
        for k, p in enumerate(self.positions):
            if p.loan.debt in pledged:
                raise InputError(
                    f"loans: {p.loan.debt} is the debt of loan {k + 1} and "
                    f"collateral of loan {pledged[p.loan.debt] + 1}"
                )
        if not (math.isfinite(day_count) and day_count > 0):
            raise InputError(f"loans: day_count must be a positive number of days, got {day_count!r}")
        self.lows = lows
        self.day_count = float(day_count)

    def __len__(self) -> int:
        return len(self.positions)

    def assets(self) -> tuple[str, ...]:
        """Every collateral and debt asset, in loan order."""
        out: list[str] = []
        for p in self.positions:
            out.extend(a for a in (*p.loan.collateral, p.loan.debt) if a not in out)
        return tuple(out)

    def debt_assets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.loan.debt for p in self.positions))

    def describe(self) -> list[dict[str, object]]:
        return [p.describe() for p in self.positions]

    def encode(self, market: Market) -> LoanArrays:
        K = len(self.positions)
        C = max(len(p.loan.collateral) for p in self.positions)
        T, N = market.prices.shape
        collateral = np.full((K, C), -1, np.int64)
        lt, bonus = np.zeros((K, C)), np.zeros((K, C))
        debt, rule = np.empty(K, np.int64), np.empty(K, np.int64)
        params, band = np.zeros((K, N_RULE_PARAMS)), np.empty((K, N_BAND_COLUMNS))
        growth = np.empty((T, K))
        years = period_years(market, self.day_count)
        for k, p in enumerate(self.positions):
            loan = p.loan
            for role, a in [*(("collateral", a) for a in loan.collateral), ("debt", loan.debt)]:
                if a not in market.assets:
                    raise InputError(
                        f"loan {k + 1}: no price for the {role} asset {a!r} "
                        f"(the prices have {', '.join(market.assets)})"
                    )
            for j, a in enumerate(loan.collateral):
                collateral[k, j] = market.asset_index(a)
                lt[k, j], bonus[k, j] = loan.thresholds[a], loan.bonuses[a]
            debt[k] = market.asset_index(loan.debt)
            rule[k], params[k] = rule_code(p.rule, loan)
            band[k] = p.band_row()
            growth[:, k] = loan.debt_growth(market, years)
        return LoanArrays(collateral, lt, bonus, debt, growth, rule, params, band, self._lows(market), np.zeros(K))

    def _lows(self, market: Market) -> np.ndarray:
        if self.lows is None:
            return np.empty((0, market.n_assets))
        frame = self.lows
        missing = [a for a in frame.columns if a not in market.assets]
        if missing:
            raise InputError(f"loans: lows for {missing[0]!r}, which has no prices ({', '.join(market.assets)})")
        try:
            aligned = frame.reindex(market.index)
        except (TypeError, ValueError) as e:
            raise InputError(f"loans: lows cannot be aligned with the prices' dates: {e}") from None
        if aligned.isna().any().any():
            gap = aligned.index[aligned.isna().any(axis=1)][0]
            raise InputError(f"loans: lows have no value at {gap} (every close of the prices needs one)")
        low = market.prices.copy()
        for a in frame.columns:
            i = market.asset_index(a)
            col = aligned[a].to_numpy(np.float64)
            bad = ~(np.isfinite(col) & (col > 0.0) & (col <= market.prices[:, i] * (1.0 + 1e-12)))
            if bad.any():
                t = int(np.flatnonzero(bad)[0])
                raise InputError(
                    f"loans: the low of {a} at {market.index[t]} is {col[t]!r}; it must be positive and at most "
                    f"the close ({market.prices[t, i]:g})"
                )
            low[:, i] = col
        return low
