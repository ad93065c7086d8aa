"""From planned weights to an ordered list of orders an exchange or a Safe batch can execute.

Every trade goes through one quote asset (as Set's GeneralIndexModule does through WETH): all
sales first, then the purchases they pay for. The quote balance is tracked in the worst case —
every sale filled at its limit price (``max_slippage`` below the reference) and charged ``fee``,
every purchase at its limit above — and purchases are scaled down if needed, so the balance never
goes negative at any point of the plan, whatever the fills. Quantities are rounded down to each
market's step; orders below the minimum quantity or notional are dropped (and reported). An order
worth more than ``max_trade`` (per asset) or whose price impact in a pool of the given depth would
exceed ``max_slippage`` is split into equal tranches, executed as TWAP slices ``slice_interval``
seconds apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ballast.enums import POOL_CONSTANT_PRODUCT
from ballast.planning.exchange_rules import AssetRules, ExchangeRules


@dataclass(frozen=True)
class Order:
    """One order. ``quantity`` in asset units; prices, ``notional`` and balances in quote units."""

    asset: str
    side: str  # "sell" or "buy"
    quantity: float
    price: float  # reference price
    limit: float  # worst acceptable price: the minimum for a sale, the maximum for a purchase
    notional: float  # quantity · price
    tranche: int  # 1-based
    n_tranches: int
    delay: float  # seconds after the start of the plan
    quote_after: float  # worst-case quote balance once this order has filled


@dataclass(frozen=True)
class ExecutionPlan:
    orders: list[Order]
    quote_start: float
    quote_end: float  # worst case
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (asset, why)

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame([o.__dict__ for o in self.orders])


def _per_asset(value: float | Mapping[str, float] | None, asset: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, Mapping):
        return float(value.get(asset, default))
    return float(value)


def _tranche_cap(
    asset: str, max_trade: float | Mapping[str, float] | None, depth: Mapping[str, float] | None, max_slippage: float
) -> float:
    """Largest single order (quote units): max_trade, and the pool's impact limit when a depth is known."""
    from ballast.costs.pools import slice_fraction

    cap = _per_asset(max_trade, asset, math.inf)
    if not cap > 0:
        raise ValueError(f"plan_orders: max_trade of {asset!r} must be positive, got {cap!r}")
    d = _per_asset(depth, asset, math.inf)
    if math.isfinite(d):
        cap = min(cap, d * slice_fraction(POOL_CONSTANT_PRODUCT, 0.0, 0.0, max_slippage))
    return cap


MAX_TRANCHES = 10_000


def _tranches(asset: str, qty: float, price: float, cap: float, rules: AssetRules) -> list[float]:
    """Split ``qty`` into equal tranches of at most ``cap`` notional, each on the step and above
    the minimums; the last one takes the remainder."""
    notional = qty * price
    n = max(1, math.ceil(notional / cap)) if math.isfinite(cap) else 1
    if n > MAX_TRANCHES:
        raise ValueError(
            f"plan_orders: the order in {asset!r} ({notional:,.2f} quote) would need {n:,} tranches "
            f"of at most {cap:,.2f}; allow more slippage, a larger max_trade, or trade it over "
            "several rebalances"
        )
    if rules.min_notional > 0:
        n = max(1, min(n, math.floor(notional / rules.min_notional)))
    while n > 1:
        base = rules.floor(qty / n)
        last = rules.floor(qty - base * (n - 1))
        if base > 0 and rules.allows(base, price) and rules.allows(last, price):
            return [base] * (n - 1) + [last]
        n -= 1
    return [qty]


def plan_orders(
    holdings: Mapping[str, float],
    prices: Mapping[str, float],
    weights: Mapping[str, float],
    quote: str,
    *,
    rules: ExchangeRules | None = None,
    fee: float | Mapping[str, float] = 0.0,
    max_slippage: float = 0.01,
    max_trade: float | Mapping[str, float] | None = None,
    depth: Mapping[str, float] | None = None,
    slice_interval: float = 600.0,
) -> ExecutionPlan:
    """Orders taking ``holdings`` (units) to ``weights`` at ``prices`` (one currency) through ``quote``.

    ``fee`` and ``max_trade`` may be per asset; ``depth`` (quote units per pool side) per asset.
    """
    rules = rules or ExchangeRules()
    if quote not in prices:
        raise KeyError(f"plan_orders: no price for the quote asset {quote!r}")
    assets = sorted(set(holdings) | set(weights))
    for a in assets:
        if a not in prices or not (prices[a] > 0 and math.isfinite(prices[a])):
            raise ValueError(f"plan_orders: asset {a!r} needs a positive price, got {prices.get(a)!r}")
        if holdings.get(a, 0.0) < 0:
            raise ValueError(
                f"plan_orders: holding of {a!r} is negative ({holdings[a]!r}); short positions are not planned"
            )
    total_w = sum(weights.values())
    if abs(total_w - 1.0) > 1e-9 or any(w < 0 for w in weights.values()):
        raise ValueError(f"plan_orders: weights must be non-negative and sum to 1, got sum {total_w!r}")
    if not (0 <= max_slippage < 1):
        raise ValueError(f"plan_orders: max_slippage must be in [0, 1), got {max_slippage!r}")
    if depth is not None and max_slippage == 0:
        raise ValueError("plan_orders: with pool depths, max_slippage must be positive (every swap moves the pool)")
    pq = float(prices[quote])
    value = sum(holdings.get(a, 0.0) * prices[a] for a in assets) / pq  # in quote units
    quote_bal = float(holdings.get(quote, 0.0))
    start = quote_bal
    dropped: list[tuple[str, str]] = []
    sells: list[tuple[str, float, float]] = []
    buys: list[tuple[str, float, float]] = []
    for a in assets:
        if a == quote:
            continue
        px = prices[a] / pq
        delta = (weights.get(a, 0.0) * value - holdings.get(a, 0.0) * px) / px
        r = rules.of(a)
        if delta < 0:
            qty = r.floor(min(-delta, holdings.get(a, 0.0)))
            if r.allows(qty, px):
                sells.append((a, qty, px))
            else:
                dropped.append((a, f"sale of {-delta:.8g} below the exchange minimum"))
        elif delta > 0:
            buys.append((a, delta, px))
    orders: list[Order] = []
    rounds = 0
    for a, qty, px in sells:
        f = _per_asset(fee, a, 0.0)
        parts = _tranches(a, qty, px, _tranche_cap(a, max_trade, depth, max_slippage), rules.of(a))
        for k, q in enumerate(parts):
            quote_bal += q * px * (1 - max_slippage) * (1 - f)
            orders.append(
                Order(
                    a, "sell", q, px, px * (1 - max_slippage), q * px, k + 1, len(parts), k * slice_interval, quote_bal
                )
            )
        rounds = max(rounds, len(parts))
    # Purchases at their worst case must fit in what the sales surely bring in.
    need = sum(q * px * (1 + max_slippage) * (1 + _per_asset(fee, a, 0.0)) for a, q, px in buys)
    scale = min(1.0, quote_bal / need * (1 - 1e-12)) if need > 0 else 1.0  # margin for float rounding
    for a, want, px in buys:
        r = rules.of(a)
        f = _per_asset(fee, a, 0.0)
        qty = r.floor(want * scale)
        if not r.allows(qty, px):
            dropped.append((a, f"purchase of {want * scale:.8g} below the exchange minimum"))
            continue
        parts = _tranches(a, qty, px, _tranche_cap(a, max_trade, depth, max_slippage), r)
        for k, q in enumerate(parts):
            quote_bal -= q * px * (1 + max_slippage) * (1 + f)
            orders.append(
                Order(
                    a,
                    "buy",
                    q,
                    px,
                    px * (1 + max_slippage),
                    q * px,
                    k + 1,
                    len(parts),
                    (rounds + k) * slice_interval,
                    quote_bal,
                )
            )
    orders.sort(key=lambda o: (o.side != "sell", o.delay, o.asset))
    bal = start
    for i, o in enumerate(orders):  # running balance in execution order (sorting moved tranches)
        f = _per_asset(fee, o.asset, 0.0)
        per_unit = (1 - max_slippage) * (1 - f) if o.side == "sell" else -(1 + max_slippage) * (1 + f)
        bal += o.quantity * o.price * per_unit
        orders[i] = Order(**{**o.__dict__, "quote_after": bal})
    return ExecutionPlan(orders, start, bal, dropped)
