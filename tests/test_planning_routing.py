"""Execution plans: sells before buys, quote balance never negative, exchange rules respected."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ballast.planning.exchange_rules import AssetRules, ExchangeRules
from ballast.planning.routing import plan_orders

ASSETS = ["BTC", "ETH", "LTC", "XRP", "USDT"]
STEPS = [0.0, 1e-5, 0.001, 0.01, 0.1, 1.0]


@st.composite
def books(draw: st.DrawFn) -> dict:
    n = draw(st.integers(2, 5))
    assets = ASSETS[: n - 1] + ["USDT"]
    prices = {a: draw(st.floats(0.01, 1e5)) for a in assets[:-1]} | {"USDT": draw(st.floats(0.98, 1.02))}
    holdings = {a: draw(st.floats(0.0, 1e6)) / prices[a] for a in assets}
    raw = np.array([draw(st.floats(0.0, 1.0)) for _ in assets])
    if raw.sum() == 0:
        raw[-1] = 1.0
    weights = dict(zip(assets, (raw / raw.sum()).tolist(), strict=True))
    weights["USDT"] = 1.0 - sum(v for k, v in weights.items() if k != "USDT")
    if weights["USDT"] < 0:
        weights["USDT"] = 0.0
    per = {
        a: AssetRules(draw(st.sampled_from(STEPS)), 0.0, draw(st.sampled_from([0.0, 1.0, 10.0, 100.0]))) for a in assets
    }
    return dict(
        prices=prices,
        holdings=holdings,
        weights=weights,
        rules=ExchangeRules(per_asset=per),
        fee=draw(st.floats(0.0, 0.003)),
        max_slippage=draw(st.floats(0.002, 0.05)),
        max_trade=draw(st.none() | st.floats(2e4, 1e6)),
        depth={a: draw(st.floats(1e5, 1e8)) for a in assets[:-1]} if draw(st.booleans()) else None,
    )


@settings(max_examples=200, deadline=None)
@given(b=books())
def test_execution_plan_invariants(b: dict) -> None:
    if sum(b["holdings"][a] * b["prices"][a] for a in b["holdings"]) <= 0 or abs(sum(b["weights"].values()) - 1) > 1e-9:
        return
    plan = plan_orders(
        b["holdings"],
        b["prices"],
        b["weights"],
        "USDT",
        rules=b["rules"],
        fee=b["fee"],
        max_slippage=b["max_slippage"],
        max_trade=b["max_trade"],
        depth=b["depth"],
    )
    sides = [o.side for o in plan.orders]
    assert sides == sorted(sides, key=lambda s: s != "sell")  # every sale before every purchase
    bal = plan.quote_start
    sold: dict[str, float] = {}
    pq = b["prices"]["USDT"]
    for o in plan.orders:
        r = b["rules"].of(o.asset)
        assert o.quantity > 0 and r.on_step(o.quantity)
        if r.step_size:
            assert Decimal(repr(o.quantity)) % Decimal(repr(r.step_size)) == 0
        assert o.quantity * o.price >= r.min_notional
        assert o.price == pytest.approx(b["prices"][o.asset] / pq, rel=1e-15)
        worst = (
            o.quantity
            * o.price
            * (
                (1 - b["max_slippage"]) * (1 - b["fee"])
                if o.side == "sell"
                else -(1 + b["max_slippage"]) * (1 + b["fee"])
            )
        )
        bal += worst
        assert o.quote_after == pytest.approx(bal, rel=1e-12, abs=1e-9)
        assert bal >= 0.0  # never negative, even if every fill hits its limit
        if o.side == "sell":
            sold[o.asset] = sold.get(o.asset, 0.0) + o.quantity
            assert o.limit == pytest.approx(o.price * (1 - b["max_slippage"]))
        else:
            assert o.limit == pytest.approx(o.price * (1 + b["max_slippage"]))
    for a, q in sold.items():
        assert q <= b["holdings"][a] * (1 + 1e-12)
    assert plan.quote_end == pytest.approx(bal, rel=1e-12, abs=1e-9) and plan.quote_end >= 0


def test_tranches_respect_max_trade_and_pool_impact() -> None:
    prices = {"BTC": 50_000.0, "ETH": 2_500.0, "USDT": 1.0}
    holdings = {"BTC": 100.0, "ETH": 0.0, "USDT": 0.0}  # 5 M in BTC
    weights = {"BTC": 0.5, "ETH": 0.5, "USDT": 0.0}
    rules = ExchangeRules(AssetRules(step_size=0.0001, min_notional=10.0))
    plan = plan_orders(
        holdings,
        prices,
        weights,
        "USDT",
        rules=rules,
        fee=0.001,
        max_slippage=0.01,
        max_trade={"BTC": 400_000.0},
        depth={"ETH": 20e6},
        slice_interval=300,
    )
    btc = [o for o in plan.orders if o.asset == "BTC"]
    eth = [o for o in plan.orders if o.asset == "ETH"]
    assert all(o.notional <= 400_000.0 + 1e-6 for o in btc) and len(btc) == 7  # 2.5 M / 400 k
    assert sum(o.quantity for o in btc) == pytest.approx(50.0)
    cap = 20e6 * 0.01 / 1.01  # a slice whose impact on the pool is at most 1 %
    assert all(o.notional <= cap * (1 + 1e-9) for o in eth) and len(eth) == 13
    assert [o.delay for o in btc] == [300.0 * k for k in range(7)]
    assert min(o.delay for o in eth) == 7 * 300.0  # buys start after the last sale slice
    # worst-case budget: what the sales surely bring, less fees and slippage on the buys
    spent = sum(o.quantity * o.price for o in eth) * 1.01 * 1.001
    assert spent <= 2.5e6 * 0.99 * 0.999 + 1e-6
    assert plan.quote_end >= 0 and plan.dropped == []


def test_small_orders_are_dropped_and_reported() -> None:
    prices = {"BTC": 50_000.0, "ETH": 2_500.0, "USDT": 1.0}
    holdings = {"BTC": 1.0, "ETH": 20.0, "USDT": 1.0}
    weights = {"BTC": 0.5, "ETH": 0.5, "USDT": 0.0}
    plan = plan_orders(holdings, prices, weights, "USDT", rules=ExchangeRules(AssetRules(0.001, 0, 50.0)))
    assert plan.orders == [] and sorted(a for a, _ in plan.dropped) == ["BTC", "ETH"]
    assert all("below the exchange minimum" in why for _, why in plan.dropped)


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        plan_orders({"A": 1.0, "USDT": 0.0}, {"A": 1.0, "USDT": 1.0}, {"A": 0.5}, "USDT")
    with pytest.raises(ValueError, match="'B' needs a positive price"):
        plan_orders({"B": 1.0}, {"USDT": 1.0}, {"B": 1.0}, "USDT")
    with pytest.raises(KeyError, match="quote asset 'USDC'"):
        plan_orders({"A": 1.0}, {"A": 1.0}, {"A": 1.0}, "USDC")
    with pytest.raises(ValueError, match="step_size"):
        AssetRules(step_size=-1)
    with pytest.raises(ValueError, match="would need 200,000 tranches"):
        plan_orders({"A": 1e5, "USDT": 0.0}, {"A": 1.0, "USDT": 1.0}, {"A": 0.0, "USDT": 1.0}, "USDT", max_trade=0.5)


def test_floor_never_rounds_up() -> None:
    r = AssetRules(step_size=0.001)
    assert r.floor(1.0009999) == 1.0 and r.floor(0.0029999999) == 0.002 and r.floor(0.003) == 0.003
    assert repr(r.floor(12.3456789)) == "12.345"
