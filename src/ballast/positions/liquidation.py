"""Liquidation rules: how much debt a liquidator repays and how much collateral it seizes.

A rule is called on a loan whose health factor is below 1 and returns the state after one
liquidation and the event (debt repaid, collateral seized, penalty paid). Amounts follow each
protocol's contract at the oracle prices, assuming the liquidator takes the most it may:

- `AaveV3`: repays up to close_factor of the debt (all of it below HF 0.95), seizes repaid × (1 + bonus)
  of one collateral asset, capped by what is held (then the repayment shrinks to match);
- `EulerV2`: no close factor; the discount factor is max(HF, 1 − max_discount) and the liquidator
  gets collateral worth repaid / discount factor, capped by what is held;
- `MorphoBlue`: single collateral; incentive factor min(1.15, 1/(1 − 0.3·(1 − LLTV))), no close factor;
  when all collateral is gone the remaining debt is written off as bad debt, as the contract does;
- `MakerStyle`: the whole vault: the debt plus a penalty on the whole debt is covered from the
  collateral (sold at the oracle price), the rest of the collateral is returned; the debt is cleared.

Aave and Euler seize from one asset per call: the collateral asset worth the most (the usual choice
of a liquidator); a backtest calls the rule again while HF stays below 1.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ballast.errors import InputError
from ballast.positions.loan import Loan, LoanState

AAVE_FULL_LIQUIDATION_HF = 0.95  # Aave v3 CLOSE_FACTOR_HF_THRESHOLD
MORPHO_MAX_INCENTIVE = 1.15  # Morpho Blue MAX_LIQUIDATION_INCENTIVE_FACTOR
MORPHO_CURSOR = 0.3  # Morpho Blue LIQUIDATION_CURSOR


class Liquidation(NamedTuple):
    """One liquidation: debt units repaid, collateral units seized (loan order), the penalty the
    borrower paid (value seized − value repaid, in currency), debt written off as bad debt, and the
    health factor before and after."""

    repaid: float
    seized: tuple[float, ...]
    penalty: float
    written_off: float
    hf_before: float
    hf_after: float


class LiquidationRule(ABC):
    """Liquidates a loan whose health factor is below 1; `None` when it is not liquidatable."""

    def liquidate(
        self, loan: Loan, state: LoanState, prices: Mapping[str, float]
    ) -> tuple[LoanState, Liquidation] | None:
        hf = state.health_factor(loan, prices)
        if hf >= 1.0:
            return None
        values = state.collateral_values(loan, prices)
        debt_value = state.debt_value(loan, prices)
        seized_value, repaid_value, written_off = self._amounts(loan, hf, values, debt_value)
        seized_value = np.minimum(seized_value, values)  # never more than is held
        cp, dp = loan.prices_of(prices)
        seized = tuple(
            float(s / p) if s < v else u  # all of it: exactly the units held
            for s, v, p, u in zip(seized_value, values, cp, state.collateral, strict=True)
        )
        repaid = min(repaid_value / dp, state.debt)
        left = tuple(max(u - s, 0.0) for u, s in zip(state.collateral, seized, strict=True))
        after = LoanState(left, max(state.debt - repaid - written_off / dp, 0.0))
        penalty = float(seized_value.sum()) - repaid * dp
        event = Liquidation(repaid, seized, penalty, written_off / dp, hf, after.health_factor(loan, prices))
        return after, event

    @abstractmethod
    def _amounts(self, loan: Loan, hf: float, values: np.ndarray, debt_value: float) -> tuple[np.ndarray, float, float]:
        """(collateral value seized per asset, debt value repaid, debt value written off)."""


def _one_asset(values: np.ndarray, max_repay: float, factor: float) -> tuple[np.ndarray, float, float]:
    """Seize from the collateral asset worth the most: repaid × factor, capped by its value (then
    the repayment is what that value covers)."""
    k = int(np.argmax(values))
    seized = np.zeros_like(values)
    if max_repay * factor >= values[k]:
        seized[k] = values[k]
        return seized, float(values[k]) / factor, 0.0
    seized[k] = max_repay * factor
    return seized, max_repay, 0.0


@dataclass(frozen=True)
class AaveV3(LiquidationRule):
    """Aave v3 ``LiquidationLogic``: the close factor (the loan's, 50 % on Aave) while HF > 0.95, the
    whole debt at or below; seized = repaid × (1 + the seized asset's bonus). ``small_position``:
    v3.3's ``MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD`` (2,000 USD): the whole debt may be repaid when the
    seized collateral or the debt is worth less (0, the default, is v3.0–3.2: no such rule)."""

    full_below: float = AAVE_FULL_LIQUIDATION_HF
    small_position: float = 0.0

    def _amounts(self, loan: Loan, hf: float, values: np.ndarray, debt_value: float) -> tuple[np.ndarray, float, float]:
        k = int(np.argmax(values))
        small = min(float(values[k]), debt_value) < self.small_position
        close = loan.close_factor if hf > self.full_below and not small else 1.0
        return _one_asset(values, close * debt_value, 1.0 + loan.bonuses[loan.collateral[k]])


@dataclass(frozen=True)
class EulerV2(LiquidationRule):
    """Euler v2 ``Liquidation.sol``: discount factor max(HF, 1 − max_discount), the whole debt may be
    repaid, collateral worth repaid / discount factor is seized. ``max_discount`` is the vault's
    ``maxLiquidationDiscount`` (the loan's liquidation_bonus does not enter)."""

    max_discount: float = 0.2

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_discount) and 0.0 < self.max_discount < 1.0):
            raise InputError(f"EulerV2: max_discount must be in (0, 1), got {self.max_discount!r}")

    def _amounts(self, loan: Loan, hf: float, values: np.ndarray, debt_value: float) -> tuple[np.ndarray, float, float]:
        discount_factor = max(hf, 1.0 - self.max_discount)
        return _one_asset(values, debt_value, 1.0 / discount_factor)


def morpho_incentive(lltv: float) -> float:
    """Morpho Blue's liquidation incentive factor: min(1.15, 1/(1 − 0.3·(1 − LLTV)))."""
    return min(MORPHO_MAX_INCENTIVE, 1.0 / (1.0 - MORPHO_CURSOR * (1.0 - lltv)))


@dataclass(frozen=True)
class MorphoBlue(LiquidationRule):
    """Morpho Blue ``liquidate``: one collateral asset (isolated markets), LLTV = the loan's
    liquidation threshold, seized = repaid × incentive factor; the whole debt may be repaid; once the
    collateral is gone the debt left is bad debt, written off."""

    def _amounts(self, loan: Loan, hf: float, values: np.ndarray, debt_value: float) -> tuple[np.ndarray, float, float]:
        if len(loan.collateral) != 1:
            raise InputError(
                f"MorphoBlue: a market has one collateral asset; the loan has "
                f"{len(loan.collateral)} ({', '.join(loan.collateral)})"
            )
        factor = morpho_incentive(loan.thresholds[loan.collateral[0]])
        seized, repay, _ = _one_asset(values, debt_value, factor)
        bad = debt_value - repay if seized[0] >= values[0] else 0.0
        return seized, repay, bad


@dataclass(frozen=True)
class MakerStyle(LiquidationRule):
    """Maker ``dog.bark`` / ``clip``: the whole vault is auctioned for the debt plus ``penalty`` (chop
    − 1, 13 % on ETH-A) on the whole debt; modelled as sold at the oracle price, taking from each
    collateral asset in order of value; the remainder is returned and the vault's debt is cleared
    (a shortfall is the system's bad debt)."""

    penalty: float = 0.13

    def __post_init__(self) -> None:
        if not (math.isfinite(self.penalty) and 0.0 <= self.penalty < 1.0):
            raise InputError(f"MakerStyle: penalty must be in [0, 1), got {self.penalty!r}")

    def _amounts(self, loan: Loan, hf: float, values: np.ndarray, debt_value: float) -> tuple[np.ndarray, float, float]:
        tab = debt_value * (1.0 + self.penalty)
        seized = np.zeros_like(values)
        need = tab
        for k in np.argsort(-values, kind="stable"):
            take = min(need, float(values[k]))
            seized[k] = take
            need -= take
        raised = float(seized.sum())
        repaid = min(debt_value, raised)
        return seized, repaid, debt_value - repaid
