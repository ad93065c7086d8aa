"""Every integer code the compiled kernels share with Python, defined once (vectorbt's enums.py).

Plain ``int`` constants rather than ``IntEnum`` members: numba folds a global int into the code
it compiles, while enum members are a type of their own in every signature that takes them.
Neutral ground: the domain (targets, triggers, planning, costs) and the runners import from here,
and this module imports nothing of ballast.
"""

from __future__ import annotations

# Accounting conventions (Strategy.convention; docs/conventions.md).
CONV_EXACT = 0  # exact self-financing: V′ = V − Σᵢ cᵢ(|w′ᵢ·V′ − xᵢ|)
CONV_BT = 1  # bt's accounting: each trade moves (w′ᵢ − wᵢ)·V of cash and carries its own fee
CONVENTION_CODES = {"exact": CONV_EXACT, "bt": CONV_BT}

# Planner kinds (PlanSpec.kind; planning/kernel.py).
PLAN_FULL = 0
PLAN_BAND_EDGE = 1
PLAN_COST_AWARE = 2

# Status of a plan, recorded per rebalance (RebalanceLog.status).
PLAN_EXECUTED = 0
PLAN_SKIPPED = 1  # the "worth it" gate: expected cost above the benefit, nothing traded

# Trigger leaf kinds (TriggerProgram.kind; triggers/kernel.py).
LEAF_NEVER = 0
LEAF_MASK = 1
LEAF_BAND = 2
LEAF_VOL_REGIME = 3
LEAF_TRACKING_ERROR = 4

# Trigger program opcodes (column 0 of TriggerProgram.program; column 1 is the argument).
OP_LEAF = 0
OP_ANY = 1
OP_ALL = 2
OP_COOLDOWN = 3

MAX_LEAVES = 63  # leaves of one trigger: their truth values travel as the bits of an int64

# AMM pool kinds per asset (CostArrays.pool_kind; costs/kernel.py).
POOL_NONE = 0
POOL_CONSTANT_PRODUCT = 1
POOL_STABLESWAP = 2

# Indices into the accumulator vector the walk returns (engine/walk.py; metrics read them).
ACC_COSTS = 0
ACC_TURNOVER = 1  # Σ over rebalances after formation of ½·Σ|trade value| / pre-trade value
ACC_REBALANCES = 2
ACC_TRADES = 3
ACC_DRIFT_SUM = 4  # Σₜ maxᵢ |w_pre − target| over t ≥ 1
ACC_DRIFT_MAX = 5
ACC_ACTIVE_SUM = 6  # Σ (r_portfolio − r_target_portfolio), t ≥ 1
ACC_ACTIVE_SUMSQ = 7
ACC_FIRED = 8  # trigger firings, including those whose trades were all skipped
N_ACC = 9

# The metrics, in the order of a metrics vector (engine/metrics.py) and of a sweep's columns.
METRIC_NAMES = (
    "final_wealth",
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "turnover",
    "total_costs",
    "n_rebalances",
    "n_trades",
    "mean_abs_drift",
    "max_abs_drift",
    "tracking_error",
)
# Metrics where smaller is better (choosing parameters, a frontier's best point); the rest are maximised.
MINIMISED_METRICS = frozenset(
    {
        "volatility",
        "max_drawdown",
        "turnover",
        "total_costs",
        "n_rebalances",
        "n_trades",
        "mean_abs_drift",
        "max_abs_drift",
        "tracking_error",
    }
)
(
    M_FINAL_WEALTH,
    M_TOTAL_RETURN,
    M_CAGR,
    M_VOLATILITY,
    M_SHARPE,
    M_SORTINO,
    M_MAX_DRAWDOWN,
    M_CALMAR,
    M_TURNOVER,
    M_TOTAL_COSTS,
    M_N_REBALANCES,
    M_N_TRADES,
    M_MEAN_ABS_DRIFT,
    M_MAX_ABS_DRIFT,
    M_TRACKING_ERROR,
) = range(len(METRIC_NAMES))
N_METRICS = len(METRIC_NAMES)

# Covariance shrinkage (targets/risk_kernel.py).
SHRINK_NONE = 0
SHRINK_LEDOIT_WOLF = 1
SHRINK_CONSTANT_CORRELATION = 2

# Routing of scheduled flows (FlowSchedule.routing; flows/kernel.py).
ROUTE_CASH = 0  # the flow's own asset only
ROUTE_PRO_RATA = 1  # every holding in proportion
ROUTE_REBALANCE = 2  # cash-flow rebalancing: most overweight sold first, most underweight bought first

# Columns of the per-close flow record (TreasuryBook.closes; flows/kernel.py writes them).
FLOW_PAID = 0  # value paid in (+) or out (−), as far as it could be paid
FLOW_SHORTFALL = 1  # value of scheduled withdrawals that could not be paid
FLOW_COST = 2  # trading costs of routing the flows
N_FLOW_COLUMNS = 3

# Liquidation rules of a loan (LoanArrays.rule; positions/kernel.py), and their parameters' columns.
RULE_AAVE_V3 = 0  # params: close factor, HF at or below which all debt may go, small-position threshold
RULE_EULER_V2 = 1  # params: max discount
RULE_MORPHO_BLUE = 2  # params: incentive factor
RULE_MAKER = 3  # params: penalty
N_RULE_PARAMS = 3

# Columns of a loan's band (LoanArrays.band; NaN boost fields: no boost).
BAND_REPAY_BELOW = 0
BAND_REPAY_TO = 1
BAND_BOOST_ABOVE = 2
BAND_BOOST_TO = 3
BAND_MIN_CHANGE = 4  # the smallest debt change worth making, in currency
BAND_OPEN = 5  # HF the loan is opened at (borrow and buy collateral) at close 1; NaN: not opened
N_BAND_COLUMNS = 6

# Loan events (LoanBook.events rows; engine/loans.py) and their columns.
EVENT_LIQUIDATION = 0
EVENT_REPAY = 1
EVENT_BOOST = 2
EV_T = 0
EV_LOAN = 1
EV_KIND = 2
EV_ASSET = 3  # the collateral asset traded or seized (market index)
EV_COLLATERAL = 4  # collateral units: − sold or seized, + bought
EV_DEBT = 5  # debt units: − repaid, + borrowed
EV_VALUE = 6  # value of the collateral moved, at the prices used
EV_PENALTY = 7  # liquidation penalty, or the swap fee of a repay/boost (currency)
EV_GAS = 8
EV_WRITTEN_OFF = 9  # debt units written off as bad debt
EV_HF_BEFORE = 10
EV_HF_AFTER = 11
N_EVENT_COLUMNS = 12

# Loan totals (LoanBook.totals): the loan metrics read them.
LT_LIQUIDATIONS = 0
LT_PENALTY = 1
LT_REPAYS = 2
LT_BOOSTS = 3
LT_MIN_HF = 4
LT_BORROW_PAID = 5  # value of interest accrued on the debt
LT_COSTS = 6  # swap fees and gas of repays and boosts
LT_WRITTEN_OFF = 7  # value of debt written off
LT_EVENTS = 8  # events that happened (the table keeps the first rows that fit)
N_LOAN_TOTALS = 9

# Delta hedges (hedging/kernel.py): reason bits of a re-hedge, the perp's state, per-close columns.
HEDGE_OPEN = 1  # the first close with a target opens the hedge at it
HEDGE_BAND = 2  # the hedge left its band: traded to the band's edge
HEDGE_CALENDAR = 4  # the time-based trigger fired: traded to the target
HEDGE_LIQUIDATED = 8  # the margin fell below maintenance: the perp was closed
(PERP_SIZE, PERP_ENTRY, PERP_MARGIN, PERP_OPEN) = range(4)  # HedgeBook.state
N_PERP_STATE = 4
(
    HC_SIZE,  # units held after the close (negative = short)
    HC_TARGET,  # target units
    HC_HALF_WIDTH,  # band half-width, units
    HC_DELTA,  # exposure delta, units of the exposure's asset
    HC_MARGIN,  # isolated margin after the close
    HC_PNL,  # mark-to-market over (t−1, t]
    HC_FUNDING,  # funding paid (+) or received (−) over (t−1, t]
    HC_FEES,  # fees of the close's re-hedge (proportional and fixed costs)
    HC_SLIPPAGE,  # price impact of the close's re-hedge (pools)
    HC_LIQUIDATION,  # liquidation penalty paid
    HC_TRADE,  # units traded
    HC_REASON,  # reason bits (HEDGE_*)
) = range(12)
N_HEDGE_COLUMNS = 12
# Where a hedge's exposure delta comes from (HedgeArrays.source).
EXPOSURE_HOLDINGS = 0  # the units held of the exposure's asset
EXPOSURE_PATH = 1  # a delta path from the price (hedging/exposures.py PriceExposure)
EXPOSURE_POSITION = 2  # the strategy's liquidity position (its token0 and gamma, read from its book)
