"""The strategy file's loans: ``[[loans]]`` and the health band ``[trigger] health = {...}``.

    [[loans]]                             # one table per loan
    collateral = ["ETH"]                  # every unit held of these assets is pledged
    debt = "USDC"                         # the debt is a negative holding of this asset
    ltv = 0.80                            # or per asset: { ETH = 0.80, WBTC = 0.73 }
    liquidation_threshold = 0.83          # above ltv; per asset like ltv
    liquidation_bonus = 0.05              # per asset like ltv
    close_factor = 0.5
    borrow_rate = 0.05                    # an APY, or a [yield]-like table: { rates = "aave.csv" }, { curve = ... }
    rule = "aave-v3"                      # aave-v3 | euler-v2 | morpho-blue | maker
    small_position = 0                    # aave-v3: v3.3's full-liquidation threshold (currency)
    max_discount = 0.2                    # euler-v2
    penalty = 0.13                        # maker
    open_health = 2.0                     # borrow and buy collateral to this HF at the first close after formation

    [trigger]
    health = { repay_below = 1.5, repay_to = 1.7, boost_above = 2.3, boost_to = 2.0, min_debt_change = 30000 }

The health band applies to every loan. Every problem is an InputError naming the section, the loan
and the field (the caller prefixes the file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from ballast.config.treasury import Entry, YieldEntry, _source, validated
from ballast.errors import InputError
from ballast.positions import AaveV3, EulerV2, HealthBand, LiquidationRule, Loan, MakerStyle, MorphoBlue
from ballast.positions.encode import LoanPosition, Loans
from ballast.yields import YieldSource

PerAsset = float | dict[str, float]
RULE_OPTIONS = {"aave-v3": "small_position", "euler-v2": "max_discount", "maker": "penalty", "morpho-blue": None}


class Strict(Entry):
    model_config = ConfigDict(extra="forbid", strict=True)


class LoanEntry(Strict):
    collateral: list[str] = Field(min_length=1)
    debt: str
    ltv: PerAsset
    liquidation_threshold: PerAsset
    liquidation_bonus: PerAsset = 0.05
    close_factor: float = 0.5
    borrow_rate: float | dict[str, Any] = 0.0
    rule: Literal["aave-v3", "euler-v2", "morpho-blue", "maker"] = "aave-v3"
    small_position: float | None = Field(default=None, ge=0)
    max_discount: float | None = None
    penalty: float | None = None
    open_health: float | None = None

    @model_validator(mode="after")
    def _rule_options(self) -> "LoanEntry":
        for option in ("small_position", "max_discount", "penalty"):
            if getattr(self, option) is not None and RULE_OPTIONS[self.rule] != option:
                owner = next(r for r, o in RULE_OPTIONS.items() if o == option)
                raise ValueError(f'{option} belongs to rule = "{owner}", not {self.rule!r}')
        return self

    def liquidation_rule(self) -> LiquidationRule:
        if self.rule == "aave-v3":
            return AaveV3(small_position=self.small_position or 0.0)
        if self.rule == "euler-v2":
            return EulerV2(0.2 if self.max_discount is None else self.max_discount)
        if self.rule == "maker":
            return MakerStyle(0.13 if self.penalty is None else self.penalty)
        return MorphoBlue()


class HealthEntry(Strict):
    repay_below: float
    repay_to: float
    boost_above: float | None = None
    boost_to: float | None = None
    min_debt_change: float = Field(default=0.0, ge=0)


def _rate(k: int, value: float | dict[str, Any], base: Path) -> YieldSource | float:
    if not isinstance(value, dict):
        return value
    where = f"[[loans]] {k}.borrow_rate"
    entry = validated(YieldEntry, value, where)
    try:
        return _source(f"loan {k}", entry, base)
    except InputError as e:
        raise InputError(f"{where}: {e}") from None


def build_band(raw: dict[str, Any] | None) -> HealthBand | None:
    """``[trigger] health`` as a `HealthBand` (None when absent)."""
    if raw is None:
        return None
    e = validated(HealthEntry, raw, "[trigger] health")
    try:
        return HealthBand(e.repay_below, e.repay_to, e.boost_above, e.boost_to, e.min_debt_change)
    except InputError as err:
        raise InputError(f"[trigger] health: {err}") from None


def build_loans(raw: list[Any] | None, health: dict[str, Any] | None, base: Path) -> Loans | None:
    """``[[loans]]`` with the ``[trigger] health`` band as `Loans` (None without loans)."""
    band = build_band(health)
    if not raw:
        if band is not None:
            raise InputError("[trigger] health: a health band needs a loan; add a [[loans]] table")
        return None
    positions = []
    for k, table in enumerate(raw, start=1):
        e: LoanEntry = validated(LoanEntry, table, f"[[loans]] {k}")
        try:
            loan = Loan(
                e.collateral,
                e.debt,
                e.ltv,
                e.liquidation_threshold,
                e.liquidation_bonus,
                e.close_factor,
                _rate(k, e.borrow_rate, base),
            )
            positions.append(LoanPosition(loan, e.liquidation_rule(), band, e.open_health))
        except InputError as err:
            raise InputError(f"[[loans]] {k}: {err}") from None
    try:
        return Loans(*positions)
    except InputError as err:
        raise InputError(f"[[loans]]: {err}") from None
