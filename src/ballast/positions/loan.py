"""A collateralised loan: its terms (`Loan`) and what is held and owed at a moment (`LoanState`).

The health factor is Aave's: HF = Σ cᵢ·pᵢ·LTᵢ / (d·p_debt), collateral units cᵢ at prices pᵢ
weighted by each asset's liquidation threshold, over the debt's value. Below 1 the loan can be
liquidated (positions/liquidation.py). The debt accrues the borrow rate of a `ballast.yields`
source: the same constant, series or utilization curve a short holding pays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ballast.errors import InputError
from ballast.market import Market
from ballast.yields import ConstantAPY, YieldSource


def as_number(value: object) -> float:
    """A number as a float; anything else is NaN (then refused with the field's name)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return float(value) if ok else math.nan  # type: ignore[arg-type]


def _fraction(field_name: str, asset: str, value: object, low: float, high: float, *, closed_low: bool) -> float:
    """A number in (low, high] (or [low, high] when ``closed_low``), else an error naming the field."""
    v = as_number(value)
    inside = (low <= v if closed_low else low < v) and v <= high
    if not (math.isfinite(v) and inside):
        bracket = "[" if closed_low else "("
        raise InputError(
            f"loan: {field_name} of {asset} must be a number in {bracket}{low:g}, {high:g}], got {value!r}"
        )
    return v


def _per_asset(field_name: str, value: float | Mapping[str, float], assets: Sequence[str]) -> dict[str, object]:
    """One value for every collateral asset (a number applies to all); unknown or missing assets are errors."""
    if not isinstance(value, Mapping):
        return {a: value for a in assets}
    unknown = [a for a in value if a not in assets]
    if unknown:
        raise InputError(
            f"loan: {field_name} names {unknown[0]!r}, which is not a collateral asset ({', '.join(assets)})"
        )
    missing = [a for a in assets if a not in value]
    if missing:
        raise InputError(f"loan: {field_name} has no value for collateral asset {missing[0]!r}")
    return dict(value)


@dataclass(frozen=True)
class Loan:
    """The terms of a loan: collateral assets, the debt asset and the market's risk parameters.

    ``ltv``: how much may be borrowed against each collateral (value share); ``liquidation_threshold``
    (LT): the share counted in the health factor, strictly above ``ltv``; ``liquidation_bonus``: the
    liquidator's premium on seized collateral (Aave's 5 % is 0.05), with LT·(1 + bonus) < 1 so that a
    liquidation can improve the loan (Aave's reserve-configuration check); ``close_factor``: the share of
    the debt one liquidation may repay while HF ≥ 0.95 (Aave v3's 50 %). Per-asset values are a mapping
    from collateral asset to value, or one number for all. ``borrow_rate``: a `ballast.yields` source
    (its borrow side accrues the debt) or a number (a `ConstantAPY`).
    """

    collateral: Sequence[str]
    debt: str
    ltv: float | Mapping[str, float]
    liquidation_threshold: float | Mapping[str, float]
    liquidation_bonus: float | Mapping[str, float] = 0.05
    close_factor: float = 0.5
    borrow_rate: YieldSource | float = 0.0
    ltvs: dict[str, float] = field(init=False, repr=False)
    thresholds: dict[str, float] = field(init=False, repr=False)
    bonuses: dict[str, float] = field(init=False, repr=False)
    rate: YieldSource = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.collateral, str) or not self.collateral:
            raise InputError(f"loan: collateral must be a non-empty list of assets, got {self.collateral!r}")
        assets = tuple(str(a) for a in self.collateral)
        if len(set(assets)) != len(assets):
            raise InputError(f"loan: collateral lists an asset twice: {', '.join(assets)}")
        if not isinstance(self.debt, str) or not self.debt:
            raise InputError(f"loan: debt must name one asset, got {self.debt!r}")
        if self.debt in assets:
            raise InputError(f"loan: the debt asset {self.debt!r} cannot also be collateral")
        ltvs = {
            a: _fraction("ltv", a, v, 0.0, 1.0, closed_low=False)
            for a, v in _per_asset("ltv", self.ltv, assets).items()
        }
        lts = {
            a: _fraction("liquidation_threshold", a, v, 0.0, 1.0, closed_low=False)
            for a, v in _per_asset("liquidation_threshold", self.liquidation_threshold, assets).items()
        }
        bonuses = {
            a: _fraction("liquidation_bonus", a, v, 0.0, 1.0, closed_low=True)
            for a, v in _per_asset("liquidation_bonus", self.liquidation_bonus, assets).items()
        }
        for a in assets:
            if lts[a] <= ltvs[a]:
                raise InputError(
                    f"loan: liquidation_threshold of {a} ({lts[a]:g}) must be above its ltv "
                    f"({ltvs[a]:g}): a loan opened at the ltv would be liquidatable at once"
                )
            if lts[a] * (1.0 + bonuses[a]) >= 1.0:
                raise InputError(
                    f"loan: liquidation_threshold × (1 + liquidation_bonus) of {a} is "
                    f"{lts[a] * (1.0 + bonuses[a]):g}; it must be below 1, or a liquidation "
                    "would seize more than it repays and make the loan worse"
                )
        close = _fraction("close_factor", "the loan", self.close_factor, 0.0, 1.0, closed_low=False)
        if isinstance(self.borrow_rate, YieldSource):
            rate = self.borrow_rate
        else:
            try:
                rate = ConstantAPY(self.borrow_rate)
            except InputError as e:
                raise InputError(f"loan: borrow_rate: {e}") from None
        object.__setattr__(self, "collateral", assets)
        object.__setattr__(self, "close_factor", close)
        object.__setattr__(self, "ltvs", ltvs)
        object.__setattr__(self, "thresholds", lts)
        object.__setattr__(self, "bonuses", bonuses)
        object.__setattr__(self, "rate", rate)

    def debt_growth(self, market: Market, years: np.ndarray) -> np.ndarray:
        """Per period (t−1, t], the factor a unit of debt grows by: the rate source's borrow side."""
        try:
            return self.rate.growth(market, years)[1]
        except InputError as e:
            raise InputError(f"loan: borrow_rate: {e}") from None

    def prices_of(self, prices: Mapping[str, float]) -> tuple[np.ndarray, float]:
        """(collateral prices in `collateral` order, debt price), each checked positive and finite."""

        def one(asset: str, role: str) -> float:
            if asset not in prices:
                raise InputError(f"loan: no price for the {role} asset {asset!r}")
            p = float(prices[asset])
            if not (math.isfinite(p) and p > 0.0):
                raise InputError(f"loan: the price of the {role} asset {asset!r} must be positive, got {p!r}")
            return p

        return np.array([one(a, "collateral") for a in self.collateral]), one(self.debt, "debt")

    def weighted(self) -> np.ndarray:
        """Liquidation thresholds in `collateral` order."""
        return np.array([self.thresholds[a] for a in self.collateral])


@dataclass(frozen=True)
class LoanState:
    """Units held as collateral (in the loan's `collateral` order) and units of the debt asset owed."""

    collateral: tuple[float, ...]
    debt: float

    def __post_init__(self) -> None:
        units = tuple(as_number(u) for u in self.collateral)
        if not all(math.isfinite(u) and u >= 0.0 for u in units):
            raise InputError(f"loan state: collateral units must be finite and ≥ 0, got {self.collateral!r}")
        debt = as_number(self.debt)
        if not (math.isfinite(debt) and debt >= 0.0):
            raise InputError(f"loan state: debt must be finite and ≥ 0, got {self.debt!r}")
        object.__setattr__(self, "collateral", units)
        object.__setattr__(self, "debt", debt)

    def check(self, loan: Loan) -> None:
        if len(self.collateral) != len(loan.collateral):
            raise InputError(
                f"loan state: {len(self.collateral)} collateral amounts for "
                f"{len(loan.collateral)} collateral assets ({', '.join(loan.collateral)})"
            )

    def collateral_values(self, loan: Loan, prices: Mapping[str, float]) -> np.ndarray:
        self.check(loan)
        p, _ = loan.prices_of(prices)
        return np.asarray(self.collateral) * p

    def debt_value(self, loan: Loan, prices: Mapping[str, float]) -> float:
        return self.debt * loan.prices_of(prices)[1]

    def health_factor(self, loan: Loan, prices: Mapping[str, float]) -> float:
        """Σ cᵢ·pᵢ·LTᵢ / (d·p_debt); infinite without debt."""
        weighted = float(self.collateral_values(loan, prices) @ loan.weighted())
        debt = self.debt_value(loan, prices)
        return math.inf if debt == 0.0 else weighted / debt

    def net_value(self, loan: Loan, prices: Mapping[str, float]) -> float:
        """Collateral value less debt value: what the loan adds to the portfolio's value."""
        return float(self.collateral_values(loan, prices).sum()) - self.debt_value(loan, prices)

    def accrue(self, growth: float) -> LoanState:
        """The state after the debt grew by ``growth`` (a `Loan.debt_growth` factor)."""
        if not (math.isfinite(growth) and growth > 0.0):
            raise InputError(f"loan state: debt growth must be a positive factor, got {growth!r}")
        return LoanState(self.collateral, self.debt * growth)
