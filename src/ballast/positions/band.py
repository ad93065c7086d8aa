"""The repay/boost band that keeps a loan's health factor in range (DeFi Saver, Instadapp).

``HealthBand(repay_below=1.5, repay_to=1.7, boost_above=2.3, boost_to=2.0)``: below 1.5 sell
collateral to repay debt until HF is back at 1.7; above 2.3 borrow and buy collateral until HF is
2.0. Both moves land exactly on the target after the swap fee (γ = 1 − fee on the swap's output)
and gas (a value G taken from the swap's output), by the closed forms derived in docs/loans.md:

    boost: borrow Δ = (L − l·G − t·D) / (t − l·γ)            (value of debt added)
    repay: sell   x = (t·D + t·G − L) / (p·(γ·t − l))        (units of collateral sold)

with L = Σ cᵢ·pᵢ·LTᵢ, D the debt's value, t the target HF, and p, l the price and liquidation
threshold of the collateral asset bought or sold. A move that changes the debt by less than
``min_debt_change`` (in currency) is not made: gas makes small moves pointless.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ballast.errors import InputError
from ballast.positions.loan import Loan, LoanState, as_number


class Move(NamedTuple):
    """A repay or boost: collateral asset index, collateral units sold (repay) or received net of
    gas (boost), debt units repaid (negative) or borrowed (positive), the fee and gas paid (currency),
    the health factor it lands on (the target unless the collateral ran out), and the debt units
    paid from the stable reserve (``repay_from="reserve"``; they leave the wallet, not the loan)."""

    kind: str
    asset: int
    collateral_change: float
    debt_change: float
    fee_paid: float
    gas_paid: float
    hf_after: float
    reserve_used: float = 0.0


REPAY_SOURCES = ("collateral", "reserve")


def _number(name: str, value: object) -> float:
    v = as_number(value)
    if not math.isfinite(v):
        raise InputError(f"health band: {name} must be a number, got {value!r}")
    return v


@dataclass(frozen=True)
class HealthBand:
    """Repay below ``repay_below`` back to ``repay_to``; boost above ``boost_above`` back to
    ``boost_to`` (both or neither boost field). Requires 1 < repay_below < repay_to ≤ boost_to <
    boost_above. ``min_debt_change``: the smallest debt change worth making, in currency.
    ``repay_from``: "collateral" sells collateral; "reserve" repays from the debt asset held in the
    wallet first (no swap), then sells collateral for what the reserve cannot cover."""

    repay_below: float
    repay_to: float
    boost_above: float | None = None
    boost_to: float | None = None
    min_debt_change: float = 0.0
    repay_from: str = "collateral"

    def __post_init__(self) -> None:
        below, to = _number("repay_below", self.repay_below), _number("repay_to", self.repay_to)
        if below <= 1.0:
            raise InputError(f"health band: repay_below must be above 1 (liquidation), got {below:g}")
        if to <= below:
            raise InputError(f"health band: repay_to ({to:g}) must be above repay_below ({below:g})")
        if (self.boost_above is None) != (self.boost_to is None):
            raise InputError("health band: give both boost_above and boost_to, or neither")
        if self.boost_above is not None:
            above, bto = _number("boost_above", self.boost_above), _number("boost_to", self.boost_to)
            if bto < to:
                raise InputError(f"health band: boost_to ({bto:g}) must be at least repay_to ({to:g})")
            if above <= bto:
                raise InputError(f"health band: boost_above ({above:g}) must be above boost_to ({bto:g})")
        step = _number("min_debt_change", self.min_debt_change)
        if step < 0.0:
            raise InputError(f"health band: min_debt_change must be ≥ 0, got {step:g}")
        if self.repay_from not in REPAY_SOURCES:
            raise InputError(
                f"health band: repay_from must be one of {', '.join(REPAY_SOURCES)}, got {self.repay_from!r}"
            )

    def plan(
        self,
        loan: Loan,
        state: LoanState,
        prices: Mapping[str, float],
        fee: float = 0.0,
        gas: float = 0.0,
        asset: str | None = None,
        reserve: float = 0.0,
    ) -> Move | None:
        """The move this band makes now, or None. ``fee``: the swap's proportional fee; ``gas``: its
        cost in currency; ``asset``: the collateral asset to sell or buy (default: for a repay the
        one worth the most, for a boost the first); ``reserve``: units of the debt asset the wallet
        holds, used first when ``repay_from="reserve"``."""
        if not (math.isfinite(fee) and 0.0 <= fee < 1.0):
            raise InputError(f"health band: fee must be in [0, 1), got {fee!r}")
        if not (math.isfinite(gas) and gas >= 0.0):
            raise InputError(f"health band: gas must be a cost ≥ 0 in currency, got {gas!r}")
        if not (math.isfinite(reserve) and reserve >= 0.0):
            raise InputError(f"health band: reserve must be a number of units ≥ 0, got {reserve!r}")
        if asset is not None and asset not in loan.collateral:
            raise InputError(f"health band: {asset!r} is not a collateral asset ({', '.join(loan.collateral)})")
        hf = state.health_factor(loan, prices)
        values = state.collateral_values(loan, prices)
        if hf < self.repay_below:
            k = int(np.argmax(values)) if asset is None else loan.collateral.index(asset)
            if self.repay_from == "reserve":
                move = repay_with_reserve(loan, state, prices, self.repay_to, fee, gas, k, reserve)
            else:
                move = repay_to(loan, state, prices, self.repay_to, fee, gas, k)
        elif self.boost_above is not None and self.boost_to is not None and hf > self.boost_above:
            k = 0 if asset is None else loan.collateral.index(asset)
            move = boost_to(loan, state, prices, self.boost_to, fee, gas, k)
        else:
            return None
        if move is None or abs(move.debt_change) * loan.prices_of(prices)[1] < self.min_debt_change:
            return None
        return move


def _weighted(loan: Loan, state: LoanState, prices: Mapping[str, float]) -> tuple[float, float, np.ndarray, float]:
    """(L = Σ cᵢpᵢLTᵢ, D the debt value, collateral prices, debt price)."""
    cp, dp = loan.prices_of(prices)
    state.check(loan)
    return float(np.asarray(state.collateral) * cp @ loan.weighted()), state.debt * dp, cp, dp


def boost_to(
    loan: Loan, state: LoanState, prices: Mapping[str, float], target: float, fee: float, gas: float, k: int
) -> Move | None:
    """Borrow Δ = (L − l·G − t·D)/(t − l·γ) and buy collateral k with it; None when there is nothing
    to borrow (HF at or below the target) or the purchase would not cover the gas."""
    L, D, cp, dp = _weighted(loan, state, prices)
    lk, gamma = loan.thresholds[loan.collateral[k]], 1.0 - fee
    borrow = (L - lk * gas - target * D) / (target - lk * gamma)
    received = gamma * borrow - gas
    if borrow <= 0.0 or received <= 0.0:
        return None
    return Move("boost", k, received / cp[k], borrow / dp, fee * borrow, gas, (L + lk * received) / (D + borrow))


def repay_to(
    loan: Loan, state: LoanState, prices: Mapping[str, float], target: float, fee: float, gas: float, k: int
) -> Move | None:
    """Sell x = (t·D + t·G − L)/(p·(γ·t − l)) units of collateral k and repay the debt with the
    proceeds less gas; all of it when less is held (then HF stays below the target). None when
    there is nothing to repay or the sale would not cover the gas."""
    L, D, cp, dp = _weighted(loan, state, prices)
    lk, gamma = loan.thresholds[loan.collateral[k]], 1.0 - fee
    if gamma * target <= lk:
        raise InputError(
            f"health band: with a fee of {fee:g} selling {loan.collateral[k]} (LT {lk:g}) cannot raise HF "
            f"to {target:g}: each unit sold lowers the weighted collateral by more than it repays"
        )
    sold = min((target * D + target * gas - L) / (cp[k] * (gamma * target - lk)), state.collateral[k])
    proceeds = gamma * cp[k] * sold - gas
    if sold <= 0.0 or proceeds <= 0.0:
        return None
    repaid = min(proceeds, D)
    after_debt = D - repaid
    hf_after = math.inf if after_debt == 0.0 else (L - lk * cp[k] * sold) / after_debt
    return Move("repay", k, -sold, -repaid / dp, fee * cp[k] * sold, gas, hf_after)


def repay_with_reserve(
    loan: Loan,
    state: LoanState,
    prices: Mapping[str, float],
    target: float,
    fee: float,
    gas: float,
    k: int,
    reserve: float,
) -> Move | None:
    """Repay D − L/t of debt value from the reserve (no swap, so no fee; the gas is reported for the
    wallet to pay); when the reserve holds less, use all of it and sell collateral k for the rest
    (`repay_to` on the loan after the reserve's part)."""
    L, D, _, dp = _weighted(loan, state, prices)
    need = D - L / target
    use = min(need, reserve * dp)
    if need <= 0.0:
        return None
    if use >= need:
        return Move("repay", k, 0.0, -need / dp, 0.0, gas, L / (D - need), need / dp)
    partly = LoanState(state.collateral, state.debt - use / dp)
    rest = repay_to(loan, partly, prices, target, fee, gas, k)
    if rest is None:
        if use <= 0.0:
            return None
        return Move("repay", k, 0.0, -use / dp, 0.0, gas, L / (D - use), use / dp)
    return rest._replace(debt_change=rest.debt_change - use / dp, reserve_used=use / dp)


def apply_move(state: LoanState, move: Move) -> LoanState:
    """The loan after ``move``: collateral k changes by its units, the debt by its units."""
    units = list(state.collateral)
    units[move.asset] = max(units[move.asset] + move.collateral_change, 0.0)
    return LoanState(tuple(units), max(state.debt + move.debt_change, 0.0))
