"""Pegged assets: which assets are stables, what they are pegged to, and how far they are off.

Neutral ground (beside market.py): the `Depeg` trigger, the reactions (targets/pegged.py), the
stress scenarios and the live price guard all read deviations from here, so they agree.

A stable's *measured* price is used as is; its deviation is p/peg − 1. With three or more
stables the deviation is also measured against the median of the *other* stables, so that a move
of the reference currency (all stables move together) does not look like a depeg: the effective
deviation is the smaller of the two in size when they agree in sign, and zero when they do not.

The depeg state machine (`depeg_states`) depends on prices only, so it runs once over the whole
history before a walk (plain numpy, nothing compiled): a strategy without pegs runs none of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from ballast.market import Market

# Depeg states (DepegPath.state), in the order a break goes through them.
NORMAL, WARN, DEPEGGED, RECOVERING = 0, 1, 2, 3
STATE_NAMES = ("normal", "warn", "depegged", "recovering")

Peg = float | str


class Pegs:
    """``{asset: peg}``; a peg is a number (1.0 for a dollar stable, in the price unit) or the name
    of another column of the prices that holds the reference (``"EUR"`` for a euro stable)."""

    def __init__(self, pegs: Mapping[str, Peg], field: str = "pegs", ideal: tuple[str, ...] = ()) -> None:
        if not isinstance(pegs, Mapping) or not pegs:
            raise ValueError(f"{field}: expected a table of asset = peg, e.g. {{ USDT = 1.0 }}, got {pegs!r}")
        clean: dict[str, Peg] = {}
        for asset, peg in pegs.items():
            if isinstance(peg, str):
                clean[str(asset)] = peg
                continue
            ok = isinstance(peg, (int, float, np.floating, np.integer)) and not isinstance(peg, bool)
            if not ok or not (np.isfinite(float(peg)) and float(peg) > 0):
                raise ValueError(
                    f"{field}.{asset}: a peg must be a positive number or the name of a "
                    f"reference price column, got {peg!r}"
                )
            clean[str(asset)] = float(peg)
        self.pegs = clean
        self.field = field
        for a in ideal:
            if not isinstance(clean.get(a), float):
                raise ValueError(f"{field}.ideal: {a!r} needs a numeric peg to be held at it")
        # Stables the prices lack, added at their peg exactly (explicitly ideal; see `ideal_columns`).
        self.ideal = tuple(ideal)

    def ideal_columns(self) -> dict[str, float]:
        """The constant price of each ideal stable (a column added to prices that lack it)."""
        return {a: float(self.pegs[a]) for a in self.ideal}

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(self.pegs)

    def check(self, market: Market) -> None:
        """Every pegged asset and every reference column is in the prices (errors name the field)."""
        for asset, peg in self.pegs.items():
            if asset not in market.assets:
                raise KeyError(
                    f"{self.field}.{asset}: unknown asset {asset!r}; the prices have: {', '.join(market.assets)}"
                )
            if isinstance(peg, str) and peg not in market.assets:
                raise KeyError(
                    f"{self.field}.{asset}: the peg {peg!r} is neither a number nor a price column; "
                    f"the prices have: {', '.join(market.assets)}"
                )

    def columns(self, market: Market) -> np.ndarray:
        self.check(market)
        return np.array([market.asset_index(a) for a in self.pegs], np.int64)

    def levels(self, market: Market) -> np.ndarray:
        """T×S peg levels in the price unit, one column per pegged asset."""
        self.check(market)
        out = np.empty((market.n_periods, len(self.pegs)))
        for j, peg in enumerate(self.pegs.values()):
            out[:, j] = market.prices[:, market.asset_index(peg)] if isinstance(peg, str) else peg
        return out

    def deviations(self, market: Market) -> "Deviations":
        return deviations(market.prices[:, self.columns(market)], self.levels(market))

    def describe(self) -> dict[str, Peg]:
        return dict(self.pegs)


class Deviations(NamedTuple):
    """T×S deviations of each pegged asset (columns in the order of `Pegs.assets`)."""

    absolute: np.ndarray  # p/peg − 1
    relative: np.ndarray  # (p/peg) / median of the other stables' p/peg − 1; NaN with < 3 stables
    effective: np.ndarray  # what a depeg is judged on (module docstring)


def deviations(prices: np.ndarray, pegs: np.ndarray) -> Deviations:
    """Deviations of stables with ``prices`` and ``pegs`` (both T×S)."""
    ratio = prices / pegs
    absolute = ratio - 1.0
    S = ratio.shape[1]
    if S < 3:
        return Deviations(absolute, np.full_like(absolute, np.nan), absolute)
    relative = np.empty_like(absolute)
    for j in range(S):
        others = np.delete(ratio, j, axis=1)
        relative[:, j] = ratio[:, j] / np.median(others, axis=1) - 1.0
    agree = np.sign(absolute) == np.sign(relative)
    effective = np.where(agree, np.where(np.abs(absolute) <= np.abs(relative), absolute, relative), 0.0)
    return Deviations(absolute, relative, effective)


class DepegPath(NamedTuple):
    """The depeg state machine over a history (T×S each)."""

    state: np.ndarray  # int8: NORMAL, WARN, DEPEGGED, RECOVERING
    fired: np.ndarray  # bool: entered DEPEGGED or returned to NORMAL from a break at this close
    deviation: np.ndarray  # the effective deviation the states were judged on


def depeg_states(
    dev: np.ndarray, warn: float, act: float, two_sided: bool, confirm: int, recover: int
) -> tuple[np.ndarray, np.ndarray]:
    """(state, fired), T×S, for deviations ``dev`` (T×S).

    The size of a deviation is −d (downside only) or |d| (two-sided). A stable is *depegged*
    after ``confirm`` consecutive closes at or beyond ``act``; it is *warn* while beyond ``warn``
    short of that. Once depegged, a close back inside ``warn`` (not merely inside ``act``: the
    hysteresis) starts *recovering*; ``recover`` consecutive such closes make it normal again, and
    any close beyond ``warn`` meanwhile sends it back to depegged without firing. It fires on
    entering depegged and on returning to normal.
    """
    size = np.abs(dev) if two_sided else np.maximum(-dev, 0.0)
    size = np.where(np.isfinite(size), size, 0.0)
    T, S = size.shape
    state = np.zeros((T, S), np.int8)
    fired = np.zeros((T, S), np.bool_)
    for j in range(S):
        s, beyond, inside = NORMAL, 0, 0
        for t in range(T):
            x = size[t, j]
            if s in (NORMAL, WARN):
                beyond = beyond + 1 if x >= act else 0
                if beyond >= confirm:
                    s, inside = DEPEGGED, 0
                    fired[t, j] = True
                else:
                    s = WARN if x >= warn else NORMAL
            elif x >= warn:
                s, inside = DEPEGGED, 0
            else:
                inside += 1
                if inside >= recover:
                    s, beyond = NORMAL, 0
                    fired[t, j] = True
                else:
                    s = RECOVERING
            state[t, j] = s
    return state, fired


class DepegRule:
    """Thresholds of a depeg: ``warn`` ≤ ``act`` (fractions), ``confirm`` (k closes beyond act),
    ``recover`` (m closes back inside warn), downside only unless ``two_sided``."""

    def __init__(
        self,
        pegs: Pegs | Mapping[str, Peg],
        act: float = 0.02,
        warn: float | None = None,
        two_sided: bool = False,
        confirm: int = 1,
        recover: int = 1,
        field: str = "depeg",
    ) -> None:
        self.pegs = pegs if isinstance(pegs, Pegs) else Pegs(pegs)
        warn = act if warn is None else warn
        for name, v in (("act", act), ("warn", warn)):
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and 0 < v < 1
            if not ok:
                raise ValueError(f"{field}.{name}: expected a fraction between 0 and 1 (0.02 = 2 %), got {v!r}")
        if act < warn:
            raise ValueError(
                f"{field}.act ({act:g}) is below {field}.warn ({warn:g}): a stable must warn "
                "before it is acted on, so act must be >= warn"
            )
        for name, n in (("confirm", confirm), ("recover", recover)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"{field}.{name}: expected a whole number of closes >= 1, got {n!r}")
        self.act, self.warn = float(act), float(warn)
        self.two_sided = bool(two_sided)
        self.confirm, self.recover = int(confirm), int(recover)
        self.field = field
        self._cache: tuple[Market, DepegPath] | None = None

    def path(self, market: Market) -> DepegPath:
        """The states over the whole market (rows are causal: row t uses closes ≤ t); cached."""
        cached = self._cache
        if cached is not None and cached[0] is not market and _is_head(market, cached[0]):
            T = market.n_periods
            whole = cached[1]
            return DepegPath(whole.state[:T], whole.fired[:T], whole.deviation[:T])
        if cached is None or cached[0] is not market:
            dev = self.pegs.deviations(market).effective
            state, fired = depeg_states(dev, self.warn, self.act, self.two_sided, self.confirm, self.recover)
            cached = self._cache = (market, DepegPath(state, fired, dev))
        return cached[1]

    def describe(self) -> str:
        side = "two-sided" if self.two_sided else "downside"
        return f"depeg {side} warn {self.warn:.2%} act {self.act:.2%} (confirm {self.confirm}, recover {self.recover})"


def _is_head(market: Market, whole: Market) -> bool:
    """``market`` is ``whole.head(t)`` (the pure-Python engine's view): reuse the causal rows."""
    base = market.prices.base
    return (
        base is not None
        and (base is whole.prices or base is whole.prices.base)
        and market.n_periods <= whole.n_periods
        and market.assets == whole.assets
        and market.prices.ctypes.data == whole.prices.ctypes.data
    )
