"""When a concentrated-liquidity position is reset: triggers that call for it and guards that veto it.

Triggers (any fires): the price left the range; the price moved ≥ ``min_tick_move`` ticks from the
range's centre (Charm's minTickMove); ``every`` periods elapsed since the last reset. Guards (any
vetoes): fewer than ``cooldown`` periods since the last reset; spot more than ``twap_max_ticks``
from the ``twap_window``-period TWAP (Charm's maxTwapDeviation: do not reset into a manipulated
price); the reset's gas above ``gas_max_days`` days of the fees the new range would earn.

`decide` is plain scalar code (``jitable``): the compiled backtest step compiles this same
function (engine/liquidity_kernel.py), and the live service calls it as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ballast.errors import InputError
from ballast.positions.uniswap_v3 import jitable

# reason bits of a reset (what fired) and of a veto (which guard held it back)
FIRED_OUT_OF_RANGE = 1
FIRED_TICK_MOVE = 2
FIRED_ELAPSED = 4
VETO_COOLDOWN = 8
VETO_TWAP = 16
VETO_GAS = 32
REASONS = {
    FIRED_OUT_OF_RANGE: "out of range",
    FIRED_TICK_MOVE: "moved from the centre",
    FIRED_ELAPSED: "time elapsed",
    VETO_COOLDOWN: "held: cooldown",
    VETO_TWAP: "held: spot far from TWAP",
    VETO_GAS: "held: gas above the fee gate",
}
# the rule's fields as the kernel reads them (float64[N_RULE])
R_OUT_OF_RANGE, R_TICK_MOVE, R_EVERY, R_COOLDOWN, R_TWAP_TICKS, R_GAS_DAYS = range(6)
N_RULE = 6


def _optional(name: str, value: object, *, whole: bool) -> float:
    """A positive number (0 = off) or None (off)."""
    if value is None:
        return 0.0
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    v = float(value) if ok else math.nan  # type: ignore[arg-type]
    if not (math.isfinite(v) and v >= 0.0) or (whole and v != int(v)):
        kind = "a whole number ≥ 0" if whole else "a number ≥ 0"
        raise InputError(f"reset rule: {name} must be {kind}, got {value!r}")
    return v


@dataclass(frozen=True)
class ResetRule:
    """When to reset: see the module docstring. Defaults: only when out of range, no guards."""

    out_of_range: bool = True
    min_tick_move: int | None = None
    every: int | None = None
    cooldown: int = 0
    twap_window: int = 0
    twap_max_ticks: int | None = None
    gas_max_days: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.out_of_range, bool):
            raise InputError(f"reset rule: out_of_range must be true or false, got {self.out_of_range!r}")
        self.encode()
        if (self.twap_max_ticks is not None) != (self.twap_window > 0):
            raise InputError("reset rule: the TWAP guard needs both twap_window (periods) and twap_max_ticks")

    def encode(self) -> np.ndarray:
        rule = np.zeros(N_RULE)
        rule[R_OUT_OF_RANGE] = 1.0 if self.out_of_range else 0.0
        rule[R_TICK_MOVE] = _optional("min_tick_move", self.min_tick_move, whole=True)
        rule[R_EVERY] = _optional("every", self.every, whole=True)
        rule[R_COOLDOWN] = _optional("cooldown", self.cooldown, whole=True)
        _optional("twap_window", self.twap_window, whole=True)
        rule[R_TWAP_TICKS] = _optional("twap_max_ticks", self.twap_max_ticks, whole=True)
        rule[R_GAS_DAYS] = _optional("gas_max_days", self.gas_max_days, whole=False)
        return rule

    def describe(self) -> str:
        parts = ["out of range"] if self.out_of_range else []
        if self.min_tick_move:
            parts.append(f"moved ≥ {self.min_tick_move} ticks")
        if self.every:
            parts.append(f"every {self.every} periods")
        guards = []
        if self.cooldown:
            guards.append(f"cooldown {self.cooldown}")
        if self.twap_max_ticks is not None:
            guards.append(f"|tick − TWAP{self.twap_window}| ≤ {self.twap_max_ticks}")
        if self.gas_max_days:
            guards.append(f"gas ≤ {self.gas_max_days:g} days of fees")
        text = " or ".join(parts) or "never"
        return text + (f" (guards: {', '.join(guards)})" if guards else "")


def twap_log_prices(prices: np.ndarray, window: int) -> np.ndarray:
    """The TWAP as the mean log price of the last ``window`` closes (Uniswap's oracle averages ticks)."""
    logp = np.log(prices)
    if window <= 1:
        return logp
    c = np.concatenate([[0.0], np.cumsum(logp)])
    t = np.arange(logp.shape[0])
    start = np.maximum(t - window + 1, 0)
    return (c[t + 1] - c[start]) / (t + 1 - start)


@jitable
def decide(
    rule: np.ndarray,
    log_price: float,
    log_lower: float,
    log_upper: float,
    periods_since: float,
    log_twap: float,
    gas: float,
    fee_per_day: float,
    log_tick: float,
) -> int:
    """Reason bits: FIRED_* when a trigger fires, plus VETO_* when a guard holds the reset back.

    A reset happens when the result has a FIRED_ bit and no VETO_ bit. Plain scalar code (numba).
    """
    bits = 0
    if rule[R_OUT_OF_RANGE] > 0.0 and (log_price < log_lower or log_price >= log_upper):
        bits |= FIRED_OUT_OF_RANGE
    centre = 0.5 * (log_lower + log_upper)
    if rule[R_TICK_MOVE] > 0.0 and abs(log_price - centre) >= rule[R_TICK_MOVE] * log_tick:
        bits |= FIRED_TICK_MOVE
    if rule[R_EVERY] > 0.0 and periods_since >= rule[R_EVERY]:
        bits |= FIRED_ELAPSED
    if bits == 0:
        return 0
    if periods_since < rule[R_COOLDOWN]:
        bits |= VETO_COOLDOWN
    if rule[R_TWAP_TICKS] > 0.0 and abs(log_price - log_twap) > rule[R_TWAP_TICKS] * log_tick:
        bits |= VETO_TWAP
    if rule[R_GAS_DAYS] > 0.0 and gas > rule[R_GAS_DAYS] * fee_per_day:
        bits |= VETO_GAS
    return bits


def resets(bits: int) -> bool:
    return (bits & (FIRED_OUT_OF_RANGE | FIRED_TICK_MOVE | FIRED_ELAPSED)) != 0 and (
        bits & (VETO_COOLDOWN | VETO_TWAP | VETO_GAS)
    ) == 0


def reason_text(bits: int) -> str:
    return ", ".join(text for bit, text in REASONS.items() if bits & bit)
