"""The ``[sweep]`` section of a strategy file: which keywords vary, and how.

    [sweep]
    mode = "product"                                  # or "zip"
    band = { start = 0.01, stop = 0.2, num = 20 }     # or step = 0.01; log = true for geometric
    band_kind = ["absolute", "relative"]
    fee_bps = [5, 10]
    metric = "sharpe"                                 # what "best" means (summary, frontier)
    [sweep.bootstrap]     n = 200, block = 20, seed = 1
    [sweep.walk_forward]  train = 504, test = 126, metric = "sharpe"

Parameter names are the keywords of ``ballast.backtest`` (see `grid.sweepable`); the rest of the
file is the base strategy each configuration starts from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from ballast.config.fields import validation_message
from ballast.config.strategy import StrategyFile, load_strategy_file
from ballast.engine.metrics import METRIC_NAMES
from ballast.errors import InputError
from ballast.sweep.grid import sequence_keywords, sweepable
from ballast.sweep.robust import Bootstrap, WalkForward

# Keywords a TOML grid cannot express (Python objects); sweep them from Python instead.
OBJECT_KEYWORDS = frozenset({"trigger", "costs", "band_per_asset"})
COST_KEYWORDS = ("fee_bps", "fixed_cost", "min_trade")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RangeSpec(Strict):
    """``start``..``stop`` inclusive, by ``num`` points (``log`` for geometric) or by ``step``."""

    start: float
    stop: float
    num: int | None = Field(default=None, ge=1)
    step: float | None = Field(default=None, gt=0)
    log: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> "RangeSpec":
        if (self.num is None) == (self.step is None):
            raise ValueError("give exactly one of num or step")
        if self.log and (self.num is None or self.start <= 0 or self.stop <= 0):
            raise ValueError("log = true needs num and a positive start and stop")
        if self.step is not None and self.stop < self.start:
            raise ValueError("stop must be >= start when stepping")
        return self

    def values(self) -> list[float]:
        if self.num is not None:
            space = np.geomspace if self.log else np.linspace
            return [float(v) for v in space(self.start, self.stop, self.num)]
        assert self.step is not None
        n = int(np.floor((self.stop - self.start) / self.step + 1e-9)) + 1
        return [float(self.start + self.step * i) for i in range(n)]


Scalar = str | int | float | bool
AXIS = TypeAdapter(RangeSpec | list[Scalar | list[Scalar]])


class BootstrapSection(Strict):
    n: int = Field(ge=1)
    block: int = Field(default=20, ge=1)
    seed: int = 0


class WalkForwardSection(Strict):
    train: int = Field(ge=2)
    test: int = Field(ge=2)
    step: int | None = Field(default=None, ge=1)
    metric: Literal[METRIC_NAMES] = "sharpe"  # type: ignore[valid-type]
    minimize: bool | None = None


class SweepSection(BaseModel):
    """Fixed settings; every other key is a parameter axis."""

    model_config = ConfigDict(extra="allow")
    mode: Literal["product", "zip"] = "product"
    metric: Literal[METRIC_NAMES] = "sharpe"  # type: ignore[valid-type]
    chunk_size: int | None = Field(default=None, ge=1)
    bootstrap: BootstrapSection | None = None
    walk_forward: WalkForwardSection | None = None


class SweepSpec:
    """A validated ``[sweep]``: the base keywords, the axes and the run settings."""

    def __init__(self, strategy: StrategyFile, section: SweepSection, axes: dict[str, list[Any]]) -> None:
        self.strategy = strategy
        self.section = section
        self.axes = axes

    def keywords(self) -> dict[str, Any]:
        """The base strategy's keywords with each axis in place of its value."""
        kw = self.strategy.keywords()
        if kw.get("loans") is not None:  # the sweep kernel runs no loans: refuse rather than ignore them
            raise InputError("[[loans]]: ballast sweep does not run loans yet; use ballast leverage thresholds")
        if any(k in self.axes for k in COST_KEYWORDS):
            c = self.strategy.costs
            kw.pop("costs", None)
            kw.update(fee_bps=c.fee_bps, fixed_cost=c.fixed, min_trade=c.min_trade)
        kw.update(self.axes)
        return kw

    def bootstrap(self, n: int | None = None, seed: int | None = None) -> Bootstrap | None:
        b = self.section.bootstrap
        if not n and b is None:
            return None
        return Bootstrap(
            n or (b.n if b else 0), b.block if b else 20, seed if seed is not None else (b.seed if b else 0)
        )

    def walk_forward(self, train: int | None = None, test: int | None = None, metric: str | None = None) -> WalkForward:
        w = self.section.walk_forward
        train = train or (w.train if w else None)
        test = test or (w.test if w else None)
        if not train or not test:
            raise InputError(
                f"{self.strategy.source}: walk-forward needs train and test window lengths: "
                "add [sweep.walk_forward] train = ..., test = ... or pass --train/--test"
            )
        return WalkForward(
            train,
            test,
            w.step if w else None,
            metric or (w.metric if w else self.section.metric),
            w.minimize if w else None,
        )


def load_sweep(path: str | Path) -> SweepSpec:
    """The strategy file and its ``[sweep]`` section, validated; errors name the file and field."""
    cfg = load_strategy_file(path)
    path = Path(path)
    raw = cfg.sweep
    if not raw:
        raise InputError(
            f"{path}: no [sweep] section; add one with at least one parameter, "
            "e.g. [sweep] band = { start = 0.01, stop = 0.2, num = 20 }"
        )
    try:
        section = SweepSection.model_validate(raw)
    except ValidationError as exc:
        raise InputError(validation_message(exc, "[sweep]", prefix=f"{path}: ", whole="section")) from None
    allowed = set(sweepable()) - OBJECT_KEYWORDS
    axes: dict[str, list[Any]] = {}
    for name, value in (section.model_extra or {}).items():
        if name not in allowed:
            raise InputError(
                f"{path}: [sweep] {name}: not a sweepable parameter; expected one of "
                f"{', '.join(sorted(allowed))} (or mode, metric, chunk_size, bootstrap, walk_forward)"
            )
        try:
            parsed = AXIS.validate_python(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InputError(
                f"{path}: [sweep] {name}: expected a non-empty list of values or a range "
                f"{{ start, stop, num | step }}; {first['msg']}"
            ) from None
        values = parsed.values() if isinstance(parsed, RangeSpec) else list(parsed)
        if not values:
            raise InputError(f"{path}: [sweep] {name}: the list of values is empty")
        nested = [isinstance(v, list) for v in values]
        if name in sequence_keywords() and not all(nested):
            raise InputError(f"{path}: [sweep] {name}: each value is itself a list, e.g. {name} = [[0.2, 0.4], [0.3]]")
        if name not in sequence_keywords() and any(nested):
            raise InputError(f"{path}: [sweep] {name}: values must be single values, not lists")
        axes[name] = values
    if not axes:
        raise InputError(f"{path}: [sweep] has no parameter to vary; add e.g. band = [0.02, 0.05, 0.1]")
    if cfg.costs.per_asset_bps and any(k in axes for k in COST_KEYWORDS):
        raise InputError(
            f"{path}: [sweep] cannot vary {', '.join(k for k in COST_KEYWORDS if k in axes)} "
            "together with [costs] per_asset_bps; remove one of them"
        )
    if section.mode == "zip" and len({len(v) for v in axes.values()}) > 1:
        sizes = ", ".join(f"{k} has {len(v)}" for k, v in axes.items())
        raise InputError(f'{path}: [sweep] mode = "zip" needs axes of equal length: {sizes}')
    return SweepSpec(cfg, section, axes)
