"""A strategy: one target, one trigger, one planner and the costs — the object every runner shares.

Backtest, sweep and the live service all take a `Strategy`, so a rule tested on history is the
rule that trades. `build_strategy` turns the flat keywords of the CLI and of ``ballast.backtest``
into one, so the TOML file, the command line and Python agree on every default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ballast.costs import CostModel, Costs, FixedPerTrade, MinTradeSize, Proportional
from ballast.errors import InputError
from ballast.flows import Flow, Flows, Recurring, parse_spend
from ballast.planning import BandEdge, CostAware, Full, Planner
from ballast.positions.encode import Loans
from ballast.targets import Fixed, Target
from ballast.triggers import Band, Calendar, Never, TrackingError, Trigger, VolatilityRegime, any_of
from ballast.triggers.base import Cooldown
from ballast.yields import Yields, YieldSource

if TYPE_CHECKING:
    from ballast.hedging import DeltaHedge
    from ballast.pegs import Pegs
    from ballast.positions.provision import LiquidityProvision

CONVENTIONS = ("exact", "bt")
PLANS = ("full", "band-edge", "cost-aware")


@dataclass(frozen=True)
class Strategy:
    """What to hold, when to act, which trades, and what trading costs."""

    target: Target
    trigger: Trigger = field(default_factory=lambda: Calendar("monthly"))
    planner: Planner = field(default_factory=Full)
    costs: CostModel = field(default_factory=Costs)
    cash: str | None = None  # the quote/stable asset, if it is one of the assets
    capital: float = 1_000_000.0
    convention: str = "exact"
    name: str = "strategy"
    yields: Yields | None = None  # yield on holdings and borrowing costs (yields/)
    flows: Flows | None = None  # scheduled deposits and withdrawals (flows/)
    pegs: "Pegs | None" = None  # the stables and their pegs (ballast.pegs), if any
    loans: Loans | None = None  # loans against the holdings (positions/, docs/loans.md)
    hedge: "DeltaHedge | None" = None  # a perp held against an exposure (ballast.hedging)
    liquidity: "LiquidityProvision | None" = None  # a concentrated-liquidity position (positions/provision.py)

    def __post_init__(self) -> None:
        if self.convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}, got {self.convention!r}")
        if not (self.capital > 0):
            raise ValueError(f"capital must be positive, got {self.capital!r}")
        if isinstance(self.planner, BandEdge) and (self.planner.band is None or self.planner.cash is None):
            object.__setattr__(self, "planner", self.planner.bind(first_band(self.trigger), self.cash))
        if isinstance(self.planner, CostAware):
            object.__setattr__(self, "planner", self.planner.bind(first_band(self.trigger), self.cash, self.costs))

    def buy_and_hold(self) -> "Strategy":
        """The same strategy that never rebalances after forming (nor borrows, hedges, or provides liquidity)."""
        return replace(self, trigger=Never(), planner=Full(), name="buy & hold", loans=None, hedge=None, liquidity=None)

    def describe(self) -> dict[str, object]:
        return {
            "target": self.target.params(),
            "trigger": self.trigger.describe(),
            "plan": self.planner.describe(),
            "costs": self.costs.describe(),
            "cash": self.cash,
            "capital": self.capital,
            "convention": self.convention,
            **({"yields": self.yields.describe()} if self.yields else {}),
            **({"flows": self.flows.describe()} if self.flows else {}),
            **({"pegs": self.pegs.describe()} if self.pegs is not None else {}),
            **({"loans": self.loans.describe()} if self.loans is not None else {}),
            **({"hedge": self.hedge.describe()} if self.hedge is not None else {}),
            **({"liquidity": self.liquidity.describe()} if self.liquidity is not None else {}),
        }


def first_band(trigger: Trigger) -> Band | None:
    return next((leaf for leaf in trigger.leaves() if isinstance(leaf, Band)), None)


def parse_target(target: Target | Mapping[str, float] | str) -> Target:
    """``"equal"``, ``"BTC=0.6,ETH=0.4"``, a mapping, or a Target object."""
    if isinstance(target, Target):
        return target
    if isinstance(target, Mapping):
        return Fixed(target)
    text = str(target).strip()
    if text == "equal":
        return Fixed("equal")
    return Fixed(parse_pairs(text, f"target {text!r}", "'equal' or NAME=WEIGHT pairs like 'BTC=0.6,ETH=0.4'", "weight"))


@lru_cache(maxsize=64)
def parse_yields(text: str) -> Yields:
    """``"USDC=0.05,ETH=0.03"``: constant APYs by asset (the CLI's ``--yield``). Cached: a sweep
    builds a strategy per configuration from the same text, and a `Yields` is never changed."""
    return Yields(parse_pairs(text, f"--yield {text!r}", "NAME=APY pairs like 'USDC=0.05,ETH=0.03'", "the APY"))


def parse_pairs(text: str, owner: str, expected: str, value_name: str) -> dict[str, float]:
    """``"A=0.6,B=0.4"`` as a mapping; errors name ``owner`` and say what was ``expected``."""
    out: dict[str, float] = {}
    for part in str(text).split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise InputError(f"{owner}: expected {expected}")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"{owner}: {value_name} of {name.strip()!r} is not a number: {value!r}") from None
    return out


def short_assets(target: Target) -> list[str]:
    """Assets a fixed target (or the fixed target inside constraint wrappers) holds short."""
    while not isinstance(target, Fixed) and hasattr(target, "inner"):
        target = target.inner
    if isinstance(target, Fixed) and isinstance(target.weights, Mapping):
        return [a for a, w in target.weights.items() if w < 0]
    return []


def check_fractions(
    band: float | None, band_floor: float | None, band_per_asset: Mapping[str, float] | None, fee_bps: float
) -> None:
    """Catch the unit slips that would otherwise run silently: a band in percent, a fee above 100 %."""
    for name, value in [
        ("band", band),
        ("band_floor", band_floor),
        *((f"per_asset {k}", v) for k, v in (band_per_asset or {}).items()),
    ]:
        if value is not None and value > 1:
            raise ValueError(
                f"{name} = {value:g} means {value:.0%} (bands are fractions); did you mean {value / 100:g}?"
            )
    if fee_bps >= 10_000:
        raise ValueError(
            f"fee_bps = {fee_bps:g} is {fee_bps / 100:g} % of every trade (basis points: "
            f"10 = 0.1 %); expected less than 10000"
        )


def build_strategy(
    target: Target | Mapping[str, float] | str = "equal",
    rebalance: str | int | None = None,
    band: float | None = None,
    band_kind: str = "absolute",
    band_floor: float | None = None,
    band_per_asset: Mapping[str, float] | None = None,
    plan: str | Planner = "full",
    risk_aversion: float | None = None,
    fee_bps: float = 0.0,
    fixed_cost: float = 0.0,
    min_trade: float = 0.0,
    cooldown: int = 0,
    vol_change: float | None = None,
    vol_thresholds: Sequence[float] | None = None,
    vol_lookback: int = 30,
    vol_asset: str | None = None,
    tracking_error: float | None = None,
    te_lookback: int = 60,
    trigger: Trigger | None = None,
    costs: CostModel | None = None,
    cash: str | None = None,
    capital: float = 1_000_000.0,
    convention: str = "exact",
    name: str = "strategy",
    allow_short: bool = False,
    yields: Yields | Mapping[str, YieldSource | float] | str | None = None,
    flows: Flows | Sequence[Flow] | None = None,
    spend: str | float | None = None,
    routing: str | None = None,
    pegs: Mapping[str, Any] | None = None,
    depeg: Mapping[str, Any] | None = None,
    reserve: Mapping[str, Any] | None = None,
    loans: Loans | None = None,
    hedge: "DeltaHedge | None" = None,
    liquidity: "LiquidityProvision | None" = None,
) -> Strategy:
    """The flat-keyword form of a strategy (CLI, TOML, ``ballast.backtest``, sweeps).

    ``rebalance`` defaults to ``"monthly"`` without a band and to ``"never"`` with one (or with a
    volatility-regime or tracking-error trigger); when several are given, any of them fires.
    ``vol_change``/``vol_thresholds`` add a `VolatilityRegime`, ``tracking_error`` a `TrackingError`.
    ``risk_aversion`` is CostAware's κ. A negative fixed weight (a short) is refused unless
    ``allow_short``; a band above 1 or a fee of 10000 bps or more is refused as a unit slip.
    ``yields``: ``"USDC=0.05,ETH=0.03"``, a mapping or `Yields`;
    ``spend``: ``"50000/month"`` or a monthly amount, added to ``flows``; ``routing`` of the flows.
    ``pegs``/``depeg``/``reserve`` declare stables, a `Depeg` trigger with its reaction, and caps
    per issuer (ballast/stable_reserve.py). ``loans``: loans against the holdings (docs/loans.md); with
    them ``rebalance`` defaults to ``"never"`` (the loans' band keeps the leverage; a calendar rebalance
    to an unlevered target would unwind it). ``hedge``: a `DeltaHedge` (ballast.hedging).
    ``liquidity``: a concentrated-liquidity position (positions/provision.py).
    """
    check_fractions(band, band_floor, band_per_asset, fee_bps)
    parsed = parse_target(target)
    shorts = short_assets(parsed)
    if shorts and not allow_short:
        raise ValueError(
            f"target: negative weight for {', '.join(shorts)} (a short position); "
            "set allow_short = true in [portfolio] (or --allow-short) to short on purpose"
        )
    if trigger is None:
        parts: list[Trigger] = []
        vol = vol_change is not None or bool(vol_thresholds)
        if rebalance is None:
            rebalance = (
                "never" if (band is not None or vol or tracking_error is not None or loans is not None) else "monthly"
            )
        if str(rebalance) != "never":
            parts.append(Calendar(rebalance))
        if band is not None:
            parts.append(Band(band, kind=band_kind, floor=band_floor, per_asset=band_per_asset))
        if vol:
            parts.append(
                VolatilityRegime(vol_lookback, change=vol_change, thresholds=vol_thresholds or (), asset=vol_asset)
            )
        if tracking_error is not None:
            parts.append(TrackingError(tracking_error, te_lookback))
        trigger = any_of(*parts) if parts else Never()
    if cooldown:
        trigger = Cooldown(trigger, cooldown)
    if isinstance(plan, str):
        if plan not in PLANS:
            raise ValueError(f"plan must be one of {', '.join(PLANS)}, got {plan!r}")
        planner: Planner = {"full": Full, "band-edge": BandEdge, "cost-aware": CostAware}[plan]()
    else:
        planner = plan
    if risk_aversion is not None:
        if not isinstance(planner, CostAware):
            raise ValueError(f"risk_aversion only applies to plan 'cost-aware', not {planner.describe()!r}")
        planner = CostAware(risk_aversion, planner.band, planner.gate, planner.cash, planner.costs)
    if costs is None:
        models: list[CostModel] = []
        if fee_bps:
            models.append(Proportional(fee_bps))
        if fixed_cost:
            models.append(FixedPerTrade(fixed_cost))
        if min_trade:
            models.append(MinTradeSize(min_trade))
        costs = Costs(*models)
    if pegs is None and (depeg is not None or reserve is not None):
        raise ValueError("depeg and reserve need the stables and their pegs: give pegs = { USDT = 1.0, ... }")
    declared = None
    if pegs is not None:
        from ballast.stable_reserve import with_pegs

        declared, parsed, trigger, planner = with_pegs(parsed, trigger, planner, pegs, depeg, reserve)
    return Strategy(
        parsed,
        trigger,
        planner,
        costs,
        cash,
        capital,
        convention,
        name,
        as_yields(yields),
        as_flows(flows, spend, routing),
        declared,
        loans,
        hedge,
        liquidity,
    )


def as_yields(yields: Yields | Mapping[str, YieldSource | float] | str | None) -> Yields | None:
    if yields is None or isinstance(yields, Yields):
        return yields or None
    return parse_yields(yields) if isinstance(yields, str) else Yields(yields)


def as_flows(flows: Flows | Sequence[Flow] | None, spend: str | float | None, routing: str | None) -> Flows | None:
    """The flows keyword, plus ``spend`` (a monthly outflow) and ``routing``, as one `Flows`."""
    if isinstance(flows, Flows):
        parts, routing, floor = list(flows.flows), routing or flows.routing, flows.runway_floor
    else:
        parts, floor = list(flows or ()), None
    if spend is not None:
        parts.append(parse_spend(spend) if isinstance(spend, str) else Recurring(-abs(float(spend)), "monthly"))
    if not parts:
        return None
    return Flows(*parts, routing=routing or "cash", runway_floor=floor)
