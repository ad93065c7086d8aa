"""What the treasury metrics mean (Result.metrics with yields or flows; docs/treasury.md)."""

from __future__ import annotations

TREASURY_DOCS = {
    "twr": "time-weighted return over the whole run: Π (Vₜ − Fₜ)/Vₜ₋₁ − 1 (flows Fₜ do not move it)",
    "irr": "money-weighted return a year: the rate that discounts capital, flows and the end value to zero",
    "end_value": "value at the last close, in currency (after every flow)",
    "yield_earned": "yield accrued on holdings minus borrowing paid, in currency at each close's prices",
    "paid_out": "withdrawals actually paid, in currency (positive)",
    "received": "deposits received, in currency",
    "shortfall": "scheduled withdrawals that could not be paid, in currency",
    "runway_months": "months the cash asset, earning its yield, lasts at the scheduled spend (at the end)",
    "min_runway_months": "the shortest runway at any close",
    "days_below_floor": "days with the runway below the floor (runway_floor, or the Runway target's months)",
}
