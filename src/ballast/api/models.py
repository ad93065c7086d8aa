"""Request and response shapes of the API (pydantic): they validate input and publish the schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PauseIn(Body):
    reason: str | None = Field(default=None, max_length=500, description="Why trading is paused (shown to others).")


class DecideIn(Body):
    by: str | None = Field(default=None, max_length=200, description="Who decides (recorded with the proposal).")
    note: str | None = Field(default=None, max_length=2000)


class Outcome(BaseModel):
    id: int
    state: str
    changed: bool


class Problem(BaseModel):
    detail: str


class Runner(BaseModel):
    """The runner lease: who runs (or last ran) the service on this ledger."""

    host: str | None
    pid: int | None
    strategy: str | None
    since: str | None
    expires_at: str | None
    released_at: str | None


class Service(BaseModel):
    ledger_key: str
    strategy: str | None
    executor: str | None
    source: str | None
    paused: bool
    pause_reason: str | None
    dry_run: bool
    started_at: str | None
    heartbeat_at: str | None
    running: bool = Field(description="a runner holds the ledger's lease and renewed it in time")
    runner: Runner | None


class CycleInfo(BaseModel):
    id: int
    period: int | None
    observed_at: str | None
    started_at: str | None
    status: str
    note: str | None


class Holding(BaseModel):
    asset: str
    units: float
    price: float | None
    value: float | None
    weight: float | None
    target: float | None
    drift: float | None = Field(description="weight − target")
    band: float | None = Field(description="band half-width around the target, if the strategy has a band")
    outside_band: bool | None


class TargetLine(BaseModel):
    asset: str
    target: float
    band: float | None
    lower: float | None
    upper: float | None


class Runway(BaseModel):
    months: float | None = Field(
        description="months the reserve lasts at the spend rate while earning its "
        "yield (None when the yield covers the spend or nothing is spent)"
    )
    infinite: bool
    reserve_asset: str
    reserve_value: float
    spend_per_month: float = Field(description="the strategy's net scheduled outflow a month, in currency")
    reserve_yield_month: float
    as_of: str | None


class LoanCollateral(BaseModel):
    units: float
    price: float | None
    value: float | None


class LoanOut(BaseModel):
    name: str
    collateral: dict[str, LoanCollateral] = Field(description="units pledged (every unit held), at the last prices")
    collateral_value: float | None
    debt_asset: str
    debt: float = Field(description="units owed now (scaled debt × accrual index)")
    debt_value: float | None
    accrual_index: float
    health_factor: float | None = Field(description="Σ collateral·price·LT / debt value; None: no debt")
    net_value: float | None = Field(description="collateral value − debt value")
    liquidation_price: float | None = Field(description="the collateral price at which HF = 1 (one collateral asset)")
    rule: str | None
    band: dict[str, Any] | None
    warn_at: float | None = Field(description="health_warn is raised while HF is below this")
    repays: int
    boosts: int
    liquidations: int


class LoanHealthPoint(BaseModel):
    observed_at: str
    loan: str
    health_factor: float | None
    collateral_value: float
    debt_value: float


class LoanEventOut(BaseModel):
    id: int
    loan: str
    key: str
    kind: str = Field(description="open | supply | withdraw | borrow | repay | accrue | liquidation")
    period: int | None
    event_at: str
    asset: str | None
    collateral_units: float
    debt_units: float
    accrual_index: float
    order_id: int | None
    detail: dict[str, Any] | None


class LiquidityOut(BaseModel):
    pair: list[str]
    period: int
    lower: float
    upper: float
    in_range: bool
    liquidity: float
    token0: float
    token1: float
    value: float = Field(description="the position's tokens at the last close's prices")
    fees: float = Field(description="fees earned since the first deposit (currency)")
    resets: int
    time_in_range: float | None
    last_reason: str | None = Field(None, description="the reset rule's reasons at the last close")


class RehedgeOut(BaseModel):
    period: int
    reason: str = Field(description="what fired (band, calendar, opening), which side of the band, to where")


class HedgeOut(BaseModel):
    instrument: str = Field(description="the perp's ccxt symbol, e.g. ETH/USDC:USDC")
    period: int
    price: float = Field(description="the perp's mark at the last close: its underlying's observed price")
    delta: float | None = Field(description="the exposure's delta after the last close's planned trades (units)")
    target: float | None = Field(description="the hedge's target size (units of the perp)")
    band: list[float] | None = Field(description="[lower, upper] edges of the no-trade band around the target")
    size: float = Field(description="the perp's signed size now, from its fills (negative: short)")
    planned: float | None = Field(description="the size the last close's re-hedge planned")
    entry_price: float | None
    unrealised_pnl: float = Field(description="size x (mark - entry): PnL since entry, settled daily into the margin")
    margin: float
    leverage: float
    funding_paid: float = Field(description="funding paid (+) or received (-) to date (currency)")
    pnl_settled: float
    liquidation_penalties: float
    realised_pnl: float
    fees: float = Field(description="fees and slippage of the perp's fills to date")
    rehedges: int = Field(description="re-hedge orders that filled (the opening included)")
    last_rehedge: RehedgeOut | None = Field(description="the last close that planned a re-hedge, and why")


class Status(BaseModel):
    service: Service
    last_cycle: CycleInfo | None
    value: float
    max_drift: float | None
    counts: dict[str, Any]
    runway: Runway | None = Field(
        None,
        description="treasury runway from the ledger (None: the strategy has no cash asset or no cycle was recorded)",
    )
    loans: list[LoanOut] = Field(
        default_factory=list, description="loans at the paper lending market (their debt is counted in value)"
    )
    liquidity: LiquidityOut | None = Field(
        None, description="the concentrated-liquidity position in the paper pool (None: the strategy has none)"
    )
    hedge: HedgeOut | None = Field(None, description="the delta hedge's perp leg (None: the strategy has none)")


class DecisionOut(BaseModel):
    id: int
    cycle_id: int
    period: int
    observed_at: str | None
    created_at: str | None
    updated_at: str | None
    reason: str
    state: str
    executor: str
    value_before: float
    notional: float
    expected_cost: float
    weights: dict[str, Any]
    note: str | None


class ProposalOut(BaseModel):
    id: int
    decision_id: int
    state: str
    payload: dict[str, Any]
    created_at: str | None
    decided_at: str | None
    decided_by: str | None
    note: str | None
    executed_at: str | None


class DriftPoint(BaseModel):
    observed_at: str | None
    drift: dict[str, float] = Field(description="pre-trade weight − target, per asset")
    max_abs: float | None


class EquityPoint(BaseModel):
    observed_at: str | None
    value: float


class AlertOut(BaseModel):
    id: int
    created_at: str | None
    level: str
    kind: str
    message: str
    asset: str | None
    cycle_id: int | None
    resolved_at: str | None
    open: bool
