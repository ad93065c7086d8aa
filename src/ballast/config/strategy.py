"""The strategy file: one TOML document, validated with pydantic, errors naming file and field.

    name = "treasury"
    [data]      prices = "crypto", assets = [...], start/end, relatives, fill, dayfirst
    [target]    kind = "fixed", weights = {BTC = 0.5, ...}      (or kind = "equal")
                kind = "inverse_vol" | "risk_parity" | "min_variance" | "vol_target", lookback, ...
                constraints for any kind: min_weight, max_weight, min_reserve, runway, max_turnover
                (see ballast/targets/builders.py)
    [trigger]   rebalance = "monthly", band = 0.05, band_kind, band_floor, per_asset, cooldown,
                vol_change, vol_thresholds, vol_lookback, vol_asset, tracking_error, te_lookback
    [plan]      kind = "full" | "band-edge" | "cost-aware"; risk_aversion, gate (cost-aware)
    [costs]     fee_bps, per_asset_bps, fixed, min_trade, spread_bps, spread_per_asset
    [[costs.pools]] kind = "constant-product" | "stableswap", depth, fee, A, assets, max_slippage,
                depth_follows_price
    [costs.gas] units_per_swap, gas_price_gwei, native_asset, extra_units_per_hop, hops
    [portfolio] cash = "USDT", capital, convention, allow_short (negative weights are refused without it)
    [pegs]      USDT = 1.0, USDC = 1.0, ideal = ["USDC"]; [trigger] depeg = { act, warn, two_sided,
                confirm, recover, react, into, loss_budget, floor }; [reserve] max_weight, min_issuers
                (ballast/stable_reserve.py); [[scenarios]] user stress scenarios (ballast/scenarios/)
    [[loans]]   collateral, debt, ltv, liquidation_threshold, rule, open_health, ...; [trigger] health =
                { repay_below, repay_to, boost_above, boost_to, min_debt_change } (ballast/config/loans.py)
    [hedge]     exposure, instrument, band, band_kind, every, funding, leverage, ... (config/hedge.py)

Relative paths in ``[data]`` are resolved against the TOML file's folder.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ballast.config.fields import validation_message
from ballast.errors import InputError
from ballast.strategy import Strategy, build_strategy
from ballast.targets import Fixed, Target


class Section(BaseModel):
    # strict: fee_bps = "10" is an error naming the field, never a string quietly read as a number
    model_config = ConfigDict(extra="forbid", strict=True)


class DataSection(Section):
    prices: str = "crypto"
    assets: list[str] | None = None
    start: str | None = None
    end: str | None = None
    relatives: bool = False
    fill: Literal["forward"] | None = None
    dayfirst: bool = False  # dates written DD/MM/YYYY
    periods_per_year: float | None = Field(default=None, gt=0)


class TargetSection(BaseModel):
    """``kind`` picks the target; the other keys are that target's parameters."""

    model_config = ConfigDict(extra="allow", strict=True)
    kind: str = "equal"
    weights: dict[str, float] | None = None

    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class TriggerSection(Section):
    rebalance: str | int | None = None
    band: float | None = Field(default=None, ge=0)
    band_kind: Literal["absolute", "relative", "hybrid"] = "absolute"
    band_floor: float | None = Field(default=None, ge=0)
    per_asset: dict[str, float] = Field(default_factory=dict)
    cooldown: int = Field(default=0, ge=0)
    vol_change: float | None = Field(default=None, gt=0)
    vol_thresholds: list[float] | None = None
    vol_lookback: int = Field(default=30, ge=2)
    vol_asset: str | None = None
    tracking_error: float | None = Field(default=None, gt=0)
    te_lookback: int = Field(default=60, ge=2)
    depeg: dict[str, Any] | None = None  # checked by ballast/stable_reserve.py
    health: dict[str, Any] | None = None  # the loans' repay/boost band, checked by config/loans.py


class PlanSection(Section):
    kind: Literal["full", "band-edge", "cost-aware"] = "full"
    risk_aversion: float | None = Field(default=None, ge=0)
    gate: bool | None = None

    @model_validator(mode="after")
    def _cost_aware_only(self) -> "PlanSection":
        extra = [k for k in ("risk_aversion", "gate") if getattr(self, k) is not None]
        if extra and self.kind != "cost-aware":
            raise ValueError(f'{", ".join(extra)} only apply to kind = "cost-aware", not {self.kind!r}')
        return self

    def planner(self) -> Any:
        """The planner object (a name for the simple kinds, CostAware with its parameters)."""
        if self.kind != "cost-aware":
            return self.kind
        from ballast.planning import CostAware

        return CostAware(
            0.05 if self.risk_aversion is None else self.risk_aversion, gate=True if self.gate is None else self.gate
        )


class PoolSection(Section):
    kind: Literal["constant-product", "stableswap"]
    depth: float | dict[str, float] = Field(description="value per side of the pool, in the price currency")
    fee: float | None = Field(default=None, ge=0, lt=1)
    A: float | None = Field(default=None, gt=0)
    assets: list[str] | None = None
    max_slippage: float | None = Field(default=0.01, gt=0, lt=1)
    depth_follows_price: bool = False

    @field_validator("depth")
    @classmethod
    def _depth(cls, v: float | dict[str, float]) -> float | dict[str, float]:
        values = v.values() if isinstance(v, dict) else [v]
        if any(not x > 0 for x in values):
            raise ValueError("depth must be positive (value per side of the pool, e.g. 20e6)")
        return v

    def model(self) -> Any:
        from ballast.costs import ConstantProductPool, StableSwapPool

        common: dict[str, Any] = dict(
            depth=self.depth,
            assets=self.assets,
            max_slippage=self.max_slippage,
            depth_follows_price=self.depth_follows_price,
        )
        if self.kind == "constant-product":
            if self.A is not None:
                raise ValueError('A only applies to kind = "stableswap"')
            return ConstantProductPool(fee=0.003 if self.fee is None else self.fee, **common)
        return StableSwapPool(
            A=100.0 if self.A is None else self.A, fee=0.0004 if self.fee is None else self.fee, **common
        )


class GasSection(Section):
    units_per_swap: float = Field(default=150_000, gt=0)
    gas_price_gwei: float = Field(gt=0)
    native_asset: str = "ETH"
    extra_units_per_hop: float = Field(default=50_000, ge=0)
    hops: dict[str, int] = Field(default_factory=dict)


BPS = Field(default=0.0, ge=0, lt=10_000, description="basis points: 10 = 0.1 %")
PerAssetBps = dict[str, Annotated[float, Field(ge=0, lt=10_000)]]


class CostsSection(Section):
    fee_bps: float = BPS
    per_asset_bps: PerAssetBps = Field(default_factory=dict)
    fixed: float = Field(default=0.0, ge=0)
    min_trade: float = Field(default=0.0, ge=0)
    spread_bps: float = BPS
    spread_per_asset: PerAssetBps = Field(default_factory=dict)
    pools: list[PoolSection] = Field(default_factory=list)
    gas: GasSection | None = None


class PortfolioSection(Section):
    cash: str | None = None
    capital: float = Field(default=1_000_000.0, gt=0)
    convention: Literal["exact", "bt"] = "exact"
    allow_short: bool = False  # negative target weights are refused unless asked for


class StrategyFile(Section):
    name: str = "strategy"
    data: DataSection = Field(default_factory=DataSection)
    target: TargetSection = Field(default_factory=TargetSection)
    trigger: TriggerSection = Field(default_factory=TriggerSection)
    plan: PlanSection = Field(default_factory=PlanSection)
    costs: CostsSection = Field(default_factory=CostsSection)
    portfolio: PortfolioSection = Field(default_factory=PortfolioSection)
    # Treasury sections, validated by ballast.config.treasury (they read rate and flow files).
    yield_: dict[str, Any] | None = Field(default=None, alias="yield")
    flows: list[Any] | None = None
    treasury: dict[str, Any] | None = None
    # The sweep, live and report sections are validated by config/sweep.py, config/live.py, config/report.py.
    sweep: dict[str, Any] | None = None
    live: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    scenarios: list[dict[str, Any]] | None = None
    pegs: dict[str, Any] | None = None
    reserve: dict[str, Any] | None = None
    onchain: dict[str, Any] | None = None  # token registry additions, swap settings (ballast.onchain)
    loans: list[Any] | None = None  # validated by config/loans.py
    hedge: dict[str, Any] | None = None  # a delta hedge with a perp, validated by config/hedge.py
    positions: list[Any] | None = None  # [[positions]]: a concentrated-liquidity position (config/positions.py)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v

    source: Path | None = None

    def keywords(self) -> dict[str, Any]:
        """The flat keywords of `build_strategy` (CLI flags override these)."""
        from ballast.costs import CostModel, Costs, FixedPerTrade, Gas, MinTradeSize, Proportional, Spread

        models: list[CostModel] = []
        if self.costs.fee_bps or self.costs.per_asset_bps:
            models.append(Proportional(self.costs.fee_bps, self.costs.per_asset_bps))
        if self.costs.fixed:
            models.append(FixedPerTrade(self.costs.fixed))
        if self.costs.min_trade:
            models.append(MinTradeSize(self.costs.min_trade))
        if self.costs.spread_bps or self.costs.spread_per_asset:
            models.append(Spread(self.costs.spread_bps, self.costs.spread_per_asset))
        models.extend(pool.model() for pool in self.costs.pools)
        if self.costs.gas is not None:
            models.append(Gas(**self.costs.gas.model_dump()))
        from ballast.config.loans import build_loans
        from ballast.config.positions import build_positions
        from ballast.config.treasury import build_flows, build_yields

        base = self.source.parent if self.source is not None else Path(".")
        from ballast.config.hedge import build_hedge

        return {
            "hedge": build_hedge(self.hedge, base),
            "yields": build_yields(self.yield_, base),
            "flows": build_flows(self.flows, self.treasury, base),
            "target": build_target(self.target),
            "rebalance": self.trigger.rebalance,
            "band": self.trigger.band,
            "band_kind": self.trigger.band_kind,
            "band_floor": self.trigger.band_floor,
            "band_per_asset": self.trigger.per_asset,
            "cooldown": self.trigger.cooldown,
            "vol_change": self.trigger.vol_change,
            "vol_thresholds": self.trigger.vol_thresholds,
            "vol_lookback": self.trigger.vol_lookback,
            "vol_asset": self.trigger.vol_asset,
            "tracking_error": self.trigger.tracking_error,
            "te_lookback": self.trigger.te_lookback,
            "plan": self.plan.planner(),
            "costs": Costs(*models),
            "cash": self.portfolio.cash,
            "capital": self.portfolio.capital,
            "convention": self.portfolio.convention,
            "name": self.name,
            "allow_short": self.portfolio.allow_short,
            **({"liquidity": build_positions(self.positions, base)} if self.positions else {}),
            **(
                {"pegs": self.pegs, "depeg": self.trigger.depeg, "reserve": self.reserve}
                if self.pegs is not None or self.trigger.depeg is not None or self.reserve is not None
                else {}
            ),
            **(
                {"loans": build_loans(self.loans, self.trigger.health, base)}
                if self.loans is not None or self.trigger.health is not None
                else {}
            ),
        }

    def with_costs(self, **fields: float) -> "StrategyFile":
        """This file with some [costs] fields replaced (validated like the file's own)."""
        try:
            costs = CostsSection.model_validate({**self.costs.model_dump(), **fields})
        except ValidationError as exc:
            raise InputError(validation_message(exc, sep="; ")) from None
        return self.model_copy(update={"costs": costs})

    def prices_path(self) -> str:
        """``data.prices`` as given if it is a bundled name, else resolved next to the file."""
        from ballast.data.bundled import DATASETS

        p = self.data.prices
        if p in DATASETS or self.source is None or Path(p).is_absolute():
            return p
        return str((self.source.parent / p).resolve())

    def to_strategy(self) -> Strategy:
        return build_strategy(**self.keywords())


TargetBuilder = Callable[[TargetSection], Target]


def _fixed(section: TargetSection) -> Target:
    if section.weights is None:
        raise ValueError("kind 'fixed' needs weights, e.g. weights = { BTC = 0.6, ETH = 0.4 }")
    return Fixed(section.weights)


def _equal(section: TargetSection) -> Target:
    return Fixed("equal")


def _risk(kind: str) -> TargetBuilder:
    def build(section: TargetSection) -> Target:
        from ballast.targets.builders import CONSTRAINT_KEYS, RISK_KINDS, vol_target

        if section.weights is not None:
            raise ValueError(f"weights belongs to kind 'fixed', not {kind!r}")
        params = {k: v for k, v in section.params().items() if k not in CONSTRAINT_KEYS}
        if kind == "vol_target":
            return vol_target(params, _inner)
        return RISK_KINDS[kind](params)

    return build


def _inner(table: dict[str, Any]) -> Target:
    """The inner target of a vol_target: a [target]-like table of its own."""
    try:
        return build_target(TargetSection.model_validate(table))
    except (ValueError, KeyError) as exc:
        raise ValueError(f"inner: {exc.args[0] if exc.args else exc}") from None


# Target kinds the file understands.
TARGET_KINDS: dict[str, TargetBuilder] = {
    "fixed": _fixed,
    "equal": _equal,
    "inverse_vol": _risk("inverse_vol"),
    "risk_parity": _risk("risk_parity"),
    "min_variance": _risk("min_variance"),
    "vol_target": _risk("vol_target"),
}


def build_target(section: TargetSection) -> Target:
    from ballast.targets.builders import CONSTRAINT_KEYS, wrap_constraints

    builder = TARGET_KINDS.get(section.kind)
    if builder is None:
        raise ValueError(f"unknown kind {section.kind!r}; expected one of {', '.join(sorted(TARGET_KINDS))}")
    extra = section.params()
    constraints = {k: extra.pop(k) for k in CONSTRAINT_KEYS if k in extra}
    if section.kind in ("fixed", "equal") and extra:
        raise ValueError(f"unexpected key(s) {', '.join(sorted(extra))} for kind {section.kind!r}")
    target = builder(section)
    return wrap_constraints(target, constraints) if constraints else target


def load_strategy_file(path: str | Path) -> StrategyFile:
    """Parse and validate a strategy TOML; every problem raises InputError naming file and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such strategy file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    if not raw:
        raise InputError(
            f"nothing in {path}: expected at least [target] (what to hold) and [portfolio] "
            "(cash, capital) — see examples/band_edge.toml"
        )
    try:
        cfg = StrategyFile.model_validate(raw)
    except ValidationError as exc:
        raise InputError(validation_message(exc, prefix=f"{path}: ")) from None
    cfg = cfg.model_copy(update={"source": path})
    try:
        build_target(cfg.target)
    except (ValueError, KeyError) as exc:
        raise InputError(f"{path}: [target] {exc.args[0] if exc.args else exc}") from None
    try:
        cfg.to_strategy()  # build once so the remaining semantic errors surface here
    except (ValueError, KeyError) as exc:
        raise InputError(f"{path}: {exc.args[0] if exc.args else exc}") from None
    return cfg


def load_strategy(path: str | Path) -> Strategy:
    return load_strategy_file(path).to_strategy()
