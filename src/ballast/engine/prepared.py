"""A strategy prepared for one market: the arrays the kernel reads, built once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ballast.costs.base import CostArrays, compile_costs
from ballast.errors import InputError
from ballast.flows import FlowSchedule
from ballast.hedging import HedgeArrays
from ballast.market import Market
from ballast.planning.base import PlanSpec
from ballast.positions.encode import LoanArrays
from ballast.positions.provision import LiquidityArrays
from ballast.strategy import Strategy
from ballast.targets.base import check_weight_path
from ballast.targets.constraints import with_constraints
from ballast.triggers.base import TriggerProgram, compile_trigger
from ballast.yields import YieldArrays

if TYPE_CHECKING:
    from ballast.engine.treasury import ScaledWalk


@dataclass(frozen=True)
class Prepared:
    """Everything the kernel needs for one strategy on one market."""

    strategy: Strategy
    market: Market
    targets: np.ndarray
    program: TriggerProgram | None
    plan: PlanSpec | None
    costs: CostArrays
    quote: int
    yields: YieldArrays | None = None  # None: no yields, no borrowing costs (nothing compiled)
    flows: FlowSchedule | None = None  # None: no scheduled flows
    loans: LoanArrays | None = None  # None: no loans (nothing compiled)
    hedge: HedgeArrays | None = None  # None: no delta hedge (nothing compiled)
    liquidity: LiquidityArrays | None = None  # None: no concentrated-liquidity position
    scaled: "ScaledWalk | None" = None  # compounding-only yields: the walk's prices and flows (engine/treasury.py)

    @property
    def compiled(self) -> bool:
        return self.program is not None and self.plan is not None

    @property
    def plain(self) -> bool:
        """No yields, flows, loans, hedge or liquidity position: the walk runs without any of them."""
        return (
            self.yields is None
            and self.flows is None
            and self.loans is None
            and self.hedge is None
            and self.liquidity is None
        )

    @property
    def treasury(self) -> bool:
        """Whether yields or flows take part (the walk then writes a TreasuryBook)."""
        return self.yields is not None or self.flows is not None


def prepare(strategy: Strategy, market: Market) -> Prepared:
    """Check the target path and compile the trigger, plan and costs for ``market``."""
    targets = check_weight_path(strategy.target.path(market), market, f"target {strategy.target.describe()}")
    quote = market.asset_index(strategy.cash) if strategy.cash else -1
    plan = with_constraints(strategy.planner.encode(market.assets), strategy.target, market)
    yields = strategy.yields.encode(market, strategy.cash) if strategy.yields else None
    flows = strategy.flows.encode(market, strategy.cash) if strategy.flows else None
    costs = compile_costs(strategy.costs, market)
    loans = prepare_loans(strategy, market, costs)
    hedge = (
        strategy.hedge.for_position(strategy.liquidity.pair if strategy.liquidity else None).encode(
            market, quote, (targets != 0.0).any(axis=0), strategy.costs
        )
        if strategy.hedge is not None
        else None
    )
    from ballast.engine.treasury import scaled_walk  # numba: not at `import ballast`

    yields = signed_yields(yields, targets, strategy)
    return Prepared(
        strategy,
        market,
        targets,
        compile_trigger(strategy.trigger, market),
        plan,
        costs,
        quote,
        yields,
        flows,
        loans,
        hedge,
        strategy.liquidity.encode(market) if strategy.liquidity is not None else None,
        scaled_walk(market.prices, yields, flows),
    )


def signed_yields(yields: YieldArrays | None, targets: np.ndarray, strategy: Strategy) -> YieldArrays | None:
    """``yields`` marked unsigned (no borrow rate can apply: the accrual's fast loop) when no
    holding can go negative: no target weight below zero, and no loan, hedge or liquidity position
    (flows and rebalances to non-negative weights never leave a negative holding)."""
    if yields is None:
        return None
    moves = strategy.loans is not None or strategy.hedge is not None or strategy.liquidity is not None
    signed = int(moves or (targets.size > 0 and float(targets.min()) < 0.0))  # min: no T × N temporary
    return yields if yields.signed == signed else yields._replace(signed=signed)


def prepare_loans(strategy: Strategy, market: Market, costs: CostArrays) -> LoanArrays | None:
    """The loans' arrays, checked against the costs and the yields (the loan's own rate accrues its debt)."""
    if strategy.loans is None:
        return None
    from ballast.engine.loans import check_loans

    both = [a for a in strategy.loans.debt_assets() if strategy.yields and a in strategy.yields.sources]
    if both:
        raise InputError(
            f"loans: {both[0]} is a loan's debt and has a [yield] source too; the loan's borrow_rate accrues "
            "its debt, so drop it from the yields (it would be charged twice)"
        )
    arrays = strategy.loans.encode(market)
    check_loans(strategy.loans, arrays, costs, market)
    return arrays
