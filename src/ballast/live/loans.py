"""Loans in the live cycle, as in the backtest (positions/kernel.py): every unit held of a loan's
collateral assets is pledged and the debt counts as a negative holding of the debt asset. At each
accepted close, before the decision, every loan accrues its borrow rate, is liquidated under its
rule while its health factor is below 1 at the close's prices (the seized collateral leaves the
wallet), is marked and raises ``health_warn`` / ``health_liquidation`` alerts; then the loan is
opened at ``open_health`` (the second close, as the backtest does) or its `HealthBand` calls for a
repay or a boost — an order (or a proposal) whose fills carry the loan legs (``live/lending.py``).

The moves use the pure domain as it is: `Loan.debt_growth`, `LiquidationRule.liquidate`,
`HealthBand.plan` and `band.boost_to`, with the venue's cost as the band's fee and gas. The paper
venue charges a proportional fee f on the traded value plus a fixed cost G, so

- a repay sells x units at p for γ·p·x − G with γ = 1 − f: exactly the band's swap;
- a boost that spends Δ buys (Δ − G)/(1 + f) of value: the band's swap with fee f/(1 + f) and
  gas G/(1 + f);

and both land exactly on the band's target HF at the decision's price (f and G are read off the
strategy's cost model at two trade sizes; a cost that is not linear in the value lands near it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from ballast.errors import InputError
from ballast.live import lending
from ballast.live.lending import LoanClose, Position
from ballast.live.records import PlannedDecision, PlannedOrder, add_orders
from ballast.market import Market
from ballast.positions import AaveV3, HealthBand, Liquidation, LiquidationRule, Loan, LoanState, Move
from ballast.positions.band import boost_to
from ballast.positions.encode import Loans
from ballast.yields import period_years

MAX_LIQUIDATIONS = 20  # calls of the rule per close (Aave/Euler seize one asset per call)
CostFn = Callable[[str, float], float]


@dataclass(frozen=True)
class LiveLoan:
    """A loan the service keeps: its terms, liquidation rule and band (optional); ``open_health``:
    borrow and buy the first collateral asset to this HF at the second close (as the backtest);
    ``debt``: units it already owes when the ledger first sees it. ``warn_margin``: ``health_warn``
    is raised while HF < repay_below + warn_margin (1 + warn_margin without a band)."""

    name: str
    loan: Loan
    rule: LiquidationRule = field(default_factory=AaveV3)
    band: HealthBand | None = None
    open_health: float | None = None
    debt: float = 0.0
    warn_margin: float = 0.1
    day_count: float = 365.0

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 64:
            raise InputError(f"loan: a name of 1 to 64 characters is needed, got {self.name!r}")
        if not (math.isfinite(self.warn_margin) and self.warn_margin >= 0.0):
            raise InputError(f"loan {self.name}: warn_margin must be a number ≥ 0, got {self.warn_margin!r}")
        if self.band is not None and self.band.repay_from != "collateral":
            raise InputError(
                f"loan {self.name}: repay_from = {self.band.repay_from!r} is not supported live yet; "
                'the service repays by selling collateral (repay_from = "collateral")'
            )
        if not (math.isfinite(self.debt) and self.debt >= 0.0):
            raise InputError(f"loan {self.name}: debt must be a number of units ≥ 0, got {self.debt!r}")

    @property
    def warn_at(self) -> float:
        return (self.band.repay_below if self.band is not None else 1.0) + self.warn_margin

    def terms(self) -> dict[str, Any]:
        """What the ledger keeps to show the loan (and compute its HF) without the strategy."""
        band = self.band
        return {
            "ltv": dict(self.loan.ltvs),
            "liquidation_threshold": dict(self.loan.thresholds),
            "liquidation_bonus": dict(self.loan.bonuses),
            "close_factor": self.loan.close_factor,
            "rule": type(self.rule).__name__,
            "band": None
            if band is None
            else {
                "repay_below": band.repay_below,
                "repay_to": band.repay_to,
                "boost_above": band.boost_above,
                "boost_to": band.boost_to,
                "min_debt_change": band.min_debt_change,
            },
            "warn_at": self.warn_at,
            "open_health": self.open_health,
        }


@dataclass(frozen=True)
class LoanMove:
    """A band's repay or boost for one loan, as the order that carries it."""

    name: str
    move: Move
    order: PlannedOrder
    reason: str


@dataclass(frozen=True)
class LoanCycle:
    """One close of every loan: what to book with the cycle, and the moves to make."""

    closes: list[LoanClose]
    moves: list[LoanMove]
    owed: dict[str, float] = field(default_factory=dict)  # units owed by debt asset after the close
    seized: dict[str, float] = field(default_factory=dict)  # collateral units liquidated at the close

    def net_holdings(self, wallet: Mapping[str, float]) -> dict[str, float]:
        """The holdings the decision sees, as the backtest's: the wallet less the seized collateral,
        the debt as a negative holding of its asset."""
        out = dict(wallet)
        for a, u in self.seized.items():
            out[a] = out.get(a, 0.0) - u
        for a, u in self.owed.items():
            out[a] = out.get(a, 0.0) - u
        return out

    def links(self, planned: Sequence[PlannedOrder], order_ids: Sequence[int]) -> list[tuple[int, str, str]]:
        """(order id, loan, kind) for the planned orders that are these moves."""
        by_order = {id(m.order): m for m in self.moves}
        return [
            (oid, by_order[id(o)].name, by_order[id(o)].move.kind)
            for o, oid in zip(planned, order_ids, strict=True)
            if id(o) in by_order
        ]


class LoanDesk:
    """The strategy's loans in the service (falsy without loans: nothing runs)."""

    def __init__(
        self,
        loans: Sequence[LiveLoan],
        assets: tuple[str, ...],
        quote: str | None,
        mode: str,
        slippage: float | None = None,
    ) -> None:
        names = [ln.name for ln in loans]
        if len(set(names)) != len(names):
            raise InputError(f"loans: two loans are named the same ({', '.join(names)})")
        for ln in loans:
            for a in (*ln.loan.collateral, ln.loan.debt):
                if a not in assets:
                    raise InputError(
                        f"loan {ln.name}: no price for {a!r}: the service observes {', '.join(assets)}; "
                        "add it to the strategy's assets"
                    )
            if mode == "ccxt" and ln.loan.debt != quote:
                raise InputError(
                    f"loan {ln.name}: with the ccxt executor the debt asset must be the quote asset "
                    f"{quote!r} (repays and boosts trade collateral against it), got {ln.loan.debt!r}"
                )
        self.loans = list(loans)
        self.slippage = slippage  # limit prices at this distance from the observed price (None: none)

    def __bool__(self) -> bool:
        return bool(self.loans)

    def register(self, ledger: Any, at: datetime) -> None:
        """Create the loans (and book their opening positions) the first time; refresh terms."""
        with ledger.session() as s:
            lending.open_loans(s, [(ln.name, ln.loan, ln.terms(), ln.debt) for ln in self.loans], at)

    def close(
        self,
        ledger: Any,
        wallet: Mapping[str, float],
        recent: Market,
        k: int,
        t: int,
        prices: Mapping[str, float],
        cost: CostFn,
        moves: bool,
    ) -> LoanCycle:
        """Accrue over (k−1, k] (``recent``, ``k``: see `History.recent`), liquidate while HF < 1,
        mark; then, when ``moves``, plan the openings (close ``t`` = 1) and the bands' repays and
        boosts (``cost``: the venue's cost of a trade). ``wallet``: the ledger's holdings."""
        with ledger.session() as s:
            held = lending.positions(s, wallet)
        closes, planned = [], []
        owed: dict[str, float] = {}
        seized: dict[str, float] = {}
        for ln in self.loans:
            pos = held[ln.name]
            close, state = self._close(ln, pos, recent, k, prices)
            closes.append(close)
            move = self._move(ln, state, prices, cost, t) if moves else None
            if move is not None:
                planned.append(move)
            owed[ln.loan.debt] = owed.get(ln.loan.debt, 0.0) + state.debt
            for ev, assets, _ in close.liquidations:
                for a, u in zip(assets, ev.seized, strict=True):
                    seized[a] = seized.get(a, 0.0) + u
        return LoanCycle(closes, planned, owed, seized)

    def _close(
        self, ln: LiveLoan, pos: Position, recent: Market, k: int, prices: Mapping[str, float]
    ) -> tuple[LoanClose, LoanState]:
        loan = ln.loan
        growth = 1.0
        if k > 0:
            growth = float(loan.debt_growth(recent, period_years(recent, ln.day_count))[k])
        state = pos.state()
        debt_before = state.debt
        state = state.accrue(growth)
        events: list[tuple[Liquidation, tuple[str, ...], dict[str, float]]] = []
        alerts: list[lending.AlertRow] = []
        while len(events) < MAX_LIQUIDATIONS:
            out = ln.rule.liquidate(loan, state, prices)
            if out is None:
                break
            state, ev = out
            events.append((ev, tuple(loan.collateral), dict(prices)))
            seized = ", ".join(f"{u:.6g} {a}" for a, u in zip(loan.collateral, ev.seized, strict=True) if u > 0)
            alerts.append(
                (
                    "error",
                    "health_liquidation",
                    f"loan {ln.name} liquidated ({type(ln.rule).__name__}) at HF {ev.hf_before:.4f}: "
                    f"{ev.repaid:,.6g} {loan.debt} repaid, {seized or 'nothing'} seized, "
                    f"penalty {ev.penalty:,.2f}" + (f", {ev.written_off:,.6g} written off" if ev.written_off else ""),
                    ln.name,
                )
            )
            if ev.repaid <= 0.0 and ev.written_off <= 0.0:
                break
        hf = state.health_factor(loan, prices)
        close = LoanClose(
            ln.name,
            growth,
            pos.index * growth,
            debt_before,
            events,
            hf,
            float(state.collateral_values(loan, prices).sum()),
            state.debt_value(loan, prices),
            ln.warn_at,
            alerts,
        )
        return close, state

    def _move(
        self, ln: LiveLoan, state: LoanState, prices: Mapping[str, float], cost: CostFn, t: int
    ) -> LoanMove | None:
        loan, band = ln.loan, ln.band
        hf = state.health_factor(loan, prices)
        values = state.collateral_values(loan, prices)
        opening = t == 1 and state.debt == 0.0 and ln.open_health is not None
        if opening:
            kind, asset = "boost", loan.collateral[0]
        elif band is not None and hf < band.repay_below:
            kind, asset = "repay", loan.collateral[int(np.argmax(values))]
        elif band is not None and band.boost_above is not None and hf > band.boost_above:
            kind, asset = "boost", loan.collateral[0]
        else:
            return None
        f, gas = linear_cost(cost, asset, max(state.debt_value(loan, prices), float(values.sum()), 1.0))
        if kind == "boost":  # the venue's fee is on the value bought, the band's on the swap's output
            f, gas = f / (1.0 + f), gas / (1.0 + f)
        if opening:
            assert ln.open_health is not None
            k = loan.collateral.index(asset)
            move = boost_to(loan, state, prices, ln.open_health, f, gas, k)
            target = ln.open_health
        else:
            assert band is not None
            move = band.plan(loan, state, prices, fee=f, gas=gas, asset=asset)
            target = band.repay_to if kind == "repay" else band.boost_to or math.nan
        if move is None:
            return None
        p, dp = float(prices[asset]), float(prices[loan.debt])
        units = abs(move.collateral_change)
        value = units * p
        side = "sell" if kind == "repay" else "buy"
        limit = None if self.slippage is None else p * (1 - self.slippage if side == "sell" else 1 + self.slippage)
        order = PlannedOrder(asset, loan.debt, side, units, p, dp, limit, value, float(cost(asset, value)))
        what = f"open at HF {target:g}" if opening else f"HF {hf:.4f} → {kind} to {target:g}"
        reason = f"health: loan {ln.name} {what}"
        return LoanMove(ln.name, move, order, reason)

    @staticmethod
    def with_moves(
        plan: PlannedDecision | str | None,
        cycle: LoanCycle,
        value: float,
        weights: dict[str, Any],
        executor: str,
    ) -> PlannedDecision | str | None:
        """The cycle's decision with the loans' moves added to its orders (a decision of the moves
        alone when the trigger did not fire or planned nothing: its note says why)."""
        if not cycle.moves:
            return plan
        reason = "; ".join(m.reason for m in cycle.moves)
        return add_orders(plan, [m.order for m in cycle.moves], reason, value, weights, executor)


def from_strategy(loans: Loans | None) -> list[LiveLoan]:
    """The strategy file's ``[[loans]]`` (with ``[trigger] health``) as live loans, named as the
    backtest names them (``Result.loans``): by their assets, "ETH/USDC", numbered "ETH/USDC #2"
    when two loans share assets."""
    if loans is None:
        return []
    names = [f"{'+'.join(p.loan.collateral)}/{p.loan.debt}" for p in loans.positions]
    if len(set(names)) < len(names):
        names = [f"{n} #{k + 1}" for k, n in enumerate(names)]
    return [
        LiveLoan(name, p.loan, p.rule, p.band, p.open_health, day_count=loans.day_count)
        for name, p in zip(names, loans.positions, strict=True)
    ]


def unchanged_weights(assets: Sequence[str], before: np.ndarray, target: np.ndarray) -> dict[str, Any]:
    """A loan move's decision weights: a repay or boost leaves the wallet's units as they were."""
    w = dict(zip(assets, map(float, before), strict=True))
    return {"before": w, "target": dict(zip(assets, map(float, target), strict=True)), "planned": dict(w)}


def linear_cost(cost: CostFn, asset: str, size: float) -> tuple[float, float]:
    """(proportional fee, fixed cost) of trading ``asset``, read off the cost at two sizes."""
    c1, c2 = cost(asset, size), cost(asset, 2.0 * size)
    f = min(max((c2 - c1) / size, 0.0), 0.999)
    return f, max(c1 - f * size, 0.0)
