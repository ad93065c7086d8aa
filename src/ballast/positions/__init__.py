"""Loans against collateral: terms and state, health factor, liquidation rules of Aave v3, Euler v2,
Morpho Blue and Maker, and the repay/boost band that keeps a loan's health factor in range
(see docs/loans.md). Pure domain: no I/O."""

from ballast.positions.band import HealthBand, Move, apply_move
from ballast.positions.encode import LoanArrays, LoanPosition, Loans, no_loans
from ballast.positions.liquidation import AaveV3, EulerV2, Liquidation, LiquidationRule, MakerStyle, MorphoBlue
from ballast.positions.loan import Loan, LoanState

__all__ = [
    "AaveV3",
    "EulerV2",
    "HealthBand",
    "Liquidation",
    "LiquidationRule",
    "Loan",
    "LoanArrays",
    "LoanPosition",
    "LoanState",
    "Loans",
    "MakerStyle",
    "MorphoBlue",
    "Move",
    "apply_move",
    "no_loans",
]
