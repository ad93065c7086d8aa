"""What a target is: a rule that turns the market seen up to t into weights at t."""

from __future__ import annotations

from abc import ABC

import numpy as np

from ballast.market import Market

WEIGHT_TOL = 1e-9


class Target(ABC):  # noqa: B024  (abstract by __init_subclass__: a subclass defines path or at)
    """A target weight rule.

    ``path`` returns the whole T×N weight path at once (vectorised, the fast path); row t may use
    only rows 0..t of the prices. ``at`` is the one-step interface used by the pure-Python engine
    and the live service; by default it is the last row of ``path`` on the market seen so far, so a
    built-in target cannot disagree between backtest and live.
    """

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.path is Target.path and cls.at is Target.at:
            raise TypeError(f"{cls.__name__} must define path() or at()")

    def path(self, market: Market) -> np.ndarray:
        """T×N target weights; every row sums to one and row t uses data up to t only."""
        return np.array([self.at(market.head(t), t) for t in range(market.n_periods)], dtype=np.float64)

    def at(self, market: Market, t: int) -> np.ndarray:
        """Target weights at the close of ``t``, from rows 0..t of the market."""
        return self.path(market.head(t))[-1]

    def assets(self) -> tuple[str, ...] | None:
        """The assets this target names, if it names them (then the universe is just those)."""
        return None

    def params(self) -> dict[str, object]:
        """The kind and parameters, JSON-ready (Result.to_dict, reports)."""
        return {"kind": type(self).__name__}

    def describe(self) -> str:
        """One line for messages and summaries, as every piece of a strategy has."""
        return describe_params(self.params())


def describe_params(params: object) -> str:
    """One line for a `Target.params` dict: 'fixed: BTC 40%, ETH 30%', else kind(key=value)."""
    if not isinstance(params, dict):
        return str(params)

    def value(v: object) -> str:
        if isinstance(v, dict):
            return describe_params(v) if "kind" in v else "{" + ", ".join(f"{k}={value(x)}" for k, x in v.items()) + "}"
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return f"{v:g}" if isinstance(v, float) else str(v)

    kind = params.get("kind", "?")
    weights = params.get("weights")
    if isinstance(weights, dict) and len(params) == 2:
        return f"{kind}: " + ", ".join(f"{k} {100 * v:.4g}%" for k, v in weights.items())
    rest = ", ".join(f"{k}={value(v)}" for k, v in params.items() if k != "kind")
    return f"{kind}({rest})" if rest else str(kind)


def check_weight_path(weights: np.ndarray, market: Market, source: str) -> np.ndarray:
    """Validate a target path: shape, finite, non-negative unless allowed, rows sum to one."""
    w = np.ascontiguousarray(weights, dtype=np.float64)
    if w.shape != market.prices.shape:
        raise ValueError(f"{source}: target path has shape {w.shape}, expected {market.prices.shape}")
    bad = ~np.isfinite(w).all(axis=1)
    if bad.any():
        t = int(np.argmax(bad))
        raise ValueError(f"{source}: target weights are not finite at {market.index[t]}")
    sums = w.sum(axis=1)
    off = np.abs(sums - 1.0) > 1e-6
    if off.any():
        t = int(np.argmax(off))
        raise ValueError(f"{source}: target weights sum to {sums[t]:.6f} at {market.index[t]}, expected 1")
    return w
