"""Stress scenarios: shapes by hand, only the named cells change, bad input, PSM and pool costs,
and `ballast stress` on the three-stable example."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ballast.cli import app
from ballast.costs import StableSwapPool
from ballast.costs.base import compile_costs
from ballast.costs.kernel import trade_cost
from ballast.costs.psm import PSM
from ballast.market import Market
from ballast.scenarios.builtins import BUILTINS, builtin
from ballast.scenarios.config import parse_scenarios
from ballast.scenarios.costs import ShockedCosts
from ballast.scenarios.shocks import Bleed, Crash, DepegShape, GasSpike, Liquidity, Scenario

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stable-reserve.toml"


def flat(n: int = 20) -> pd.DataFrame:
    idx = pd.date_range("2023-03-01", periods=n, freq="D")
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "ETH": 1500 * np.exp(np.cumsum(rng.normal(0, 0.02, n))),
            "USDC": 1.0 + rng.normal(0, 1e-4, n),
            "DAI": np.ones(n),
        },
        index=idx,
    )


def test_depeg_shape_by_hand() -> None:
    df = flat()
    sc = Scenario("t", (DepegShape("2023-03-05", "USDC", to=0.88, days=2, hold=1, recover=4),))
    out = sc.apply(df).prices.USDC.to_numpy()
    base, orig = df.USDC.iloc[3], df.USDC.to_numpy()
    np.testing.assert_allclose(out[4:7], [base + (0.88 - base) / 2, 0.88, 0.88])
    np.testing.assert_allclose(out[7:11], [0.88 * (1 - k / 4) + orig[7 + k - 1] * k / 4 for k in range(1, 5)])


def test_crash_and_bleed_by_hand() -> None:
    df = flat()
    out = Scenario("t", (Crash("2023-03-05", "ETH", drop=0.42),)).apply(df).prices.ETH
    assert out.iloc[4] / out.iloc[3] - 1 == pytest.approx(-0.42)
    np.testing.assert_allclose(
        out.iloc[5:] / out.iloc[4:-1].to_numpy(), (df.ETH.iloc[5:] / df.ETH.iloc[4:-1].to_numpy())
    )
    out = Scenario("t", (Bleed("2023-03-05", "ETH", total=0.2, days=4),)).apply(df).prices.ETH
    ratio = (out / df.ETH).to_numpy()
    np.testing.assert_allclose(ratio[4:8], 0.8 ** (np.arange(1, 5) / 4))
    np.testing.assert_allclose(ratio[8:], 0.8)


@pytest.mark.parametrize("name", list(BUILTINS))
def test_a_scenario_shocks_only_the_dates_and_assets_it_names(crypto: pd.DataFrame, name: str) -> None:
    sc = builtin(name).renamed({"USDC": "USDT", "DAI": "XRP", "UST": "USDT"})
    shocked = sc.apply(crypto)
    original = crypto.to_numpy()
    got = shocked.prices.to_numpy()
    named = np.isin(crypto.columns, sc.assets())
    assert (got[:, ~named].view(np.int64) == original[:, ~named].view(np.int64)).all()  # bit-identical
    first = crypto.index.searchsorted(min(pd.Timestamp(s.start) for s in sc.shocks))
    assert (got[:first].view(np.int64) == original[:first].view(np.int64)).all()
    assert shocked.changed[:, named].any()
    if name == "usdc-2023":  # the shape recovers: after it, bit-identical again
        end = crypto.index.get_loc(pd.Timestamp("2023-03-15"))
        assert (got[end:].view(np.int64) == original[end:].view(np.int64)).all()


def test_bad_scenarios_name_the_field(crypto: pd.DataFrame) -> None:
    with pytest.raises(KeyError, match=r"scenario usdc-2023.shocks\[0\].asset: 'USDC' is not in the prices"):
        builtin("usdc-2023").apply(crypto)
    sc = Scenario("t", (Crash("2030-01-01", "ETH", drop=0.3),), where="scenarios[0]")
    with pytest.raises(ValueError, match=r"scenarios\[0\].shocks\[0\].start: 2030-01-01 is outside the prices"):
        sc.apply(crypto)
    with pytest.raises(ValueError, match=r"scenarios\[1\].shocks\[0\].drop: expected a number"):
        parse_scenarios(
            [
                {"name": "a", "shocks": [{"shape": "gas", "start": "2020-01-01", "cost": 5}]},
                {"name": "b", "shocks": [{"shape": "crash", "asset": "ETH", "start": "2020-01-01", "drop": 1.5}]},
            ]
        )
    with pytest.raises(ValueError, match=r"scenarios\[0\].shocks\[0\].shape: expected one of"):
        parse_scenarios([{"name": "a", "shocks": [{"shape": "meteor", "start": "2020-01-01"}]}])
    with pytest.raises(ValueError, match=r"unknown scenario 'usdc-2024'"):
        builtin("usdc-2024")


def test_psm_round_trip_costs_exactly_tin_plus_tout_and_respects_the_ceiling() -> None:
    psm = PSM(tin=0.001, tout=0.002, ceiling=1_000_000)
    sold = psm.sell_gem(400_000)
    assert sold.received == 400_000 * (1 - 0.001) and sold.inventory == 400_000
    bought = psm.buy_gem(400_000, sold.inventory)
    assert bought.paid == 400_000 * (1 + 0.002)
    assert (bought.paid - sold.received) / 400_000 == pytest.approx(0.001 + 0.002, rel=1e-12)
    assert psm.room(sold.inventory) == 600_000
    with pytest.raises(ValueError, match="above its ceiling of 1,000,000.00"):
        psm.sell_gem(600_001, sold.inventory)
    with pytest.raises(ValueError, match="holds only 400,000.00"):
        psm.buy_gem(400_001, sold.inventory)
    # In a backtest: each leg pays the mean fee, so a round trip pays tin + tout of its value.
    m = Market.from_frame(flat())
    c = compile_costs(PSM(0.001, 0.002, assets=["USDC"]), m)
    i = m.asset_index("USDC")
    assert trade_cost(c, i, 0, 1e5) + trade_cost(c, i, 0, -1e5) == pytest.approx(1e5 * 0.003, rel=1e-12)
    with pytest.raises(ValueError, match="PSM: tin must be a fee fraction"):
        PSM(tin=1.5)


def test_stableswap_with_collapsing_depth_prices_a_trade_worse() -> None:
    df = flat()
    m = Market.from_frame(df)
    pool = StableSwapPool(A=100, fee=0.0004, depth=20e6, assets=["USDC"], max_slippage=None)
    shocked = Scenario("t", (Liquidity("2023-03-05", ("USDC",), days=3, factor=0.05),)).apply(df)
    full = compile_costs(pool, m)
    thin = compile_costs(ShockedCosts(pool, shocked.depth_factor, shocked.gas), m)
    i = m.asset_index("USDC")
    assert trade_cost(thin, i, 5, 5e6) > trade_cost(full, i, 5, 5e6) > 0
    assert trade_cost(thin, i, 10, 5e6) == trade_cost(full, i, 10, 5e6)  # after the window: as before
    gas = Scenario("t", (GasSpike("2023-03-05", days=2, cost=50.0),)).apply(df)
    spiked = compile_costs(ShockedCosts(pool, gas.depth_factor, gas.gas), m)
    assert trade_cost(spiked, i, 4, 1e5) == pytest.approx(trade_cost(full, i, 4, 1e5) + 50.0)


@pytest.fixture(scope="module")
def usdc_report() -> object:
    from ballast.config import load_strategy_file
    from ballast.report.stress import stress

    cfg = load_strategy_file(EXAMPLE)
    return stress(
        cfg.to_strategy(), cfg.prices_path(), builtin("usdc-2023"), assets=cfg.data.assets, start=cfg.data.start
    )


def test_usdc_2023_exit_loses_less_than_no_reaction_at_the_worst_point_not_at_the_end(usdc_report: object) -> None:
    exit_, none, hold = (usdc_report.outcome(n) for n in ("strategy", "no reaction", "buy & hold"))  # type: ignore[attr-defined]
    # At the worst close of the episode the exit has lost less, and its drawdown is shallower.
    assert exit_.worst_shortfall > none.worst_shortfall > hold.worst_shortfall
    assert exit_.worst_drawdown > none.worst_drawdown
    # It sold the broken stables on 2023-03-10 and came back after the recovery, saying why.
    first = exit_.trades[exit_.trades.asset == "USDC"].iloc[0]
    assert first.time == pd.Timestamp("2023-03-10") and first.value < 0
    assert "USDC depegged at" in first.reason and "DAI depegged at" in first.reason
    back = exit_.trades[(exit_.trades.asset == "USDC") & (exit_.trades.value > 0)].iloc[0]
    assert back.time == pd.Timestamp("2023-03-16") and "USDC recovered" in back.reason
    assert none.trades.empty or not none.trades.reason.str.contains("depeg").any()
    # The peg came back: doing nothing lost nothing at the end, and the exit — which sold at 0.94
    # and bought back at par — lost more (docs/pegs.md publishes and explains the numbers).
    assert none.value_lost == pytest.approx(0.0, abs=1e-6) and none.runway_lost == pytest.approx(0.0, abs=1e-9)
    assert 0.0 < exit_.value_lost < 0.005 * float(exit_.unshocked.iloc[-1])


def test_a_stable_that_never_recovers_costs_the_exit_far_less(usdc_report: object) -> None:
    from ballast.config import load_strategy_file
    from ballast.report.stress import stress

    cfg = load_strategy_file(EXAMPLE)
    r = stress(
        cfg.to_strategy(),
        cfg.prices_path(),
        builtin("ust-2022"),
        at="2023-03-10",
        rename={"UST": "USDC"},
        assets=cfg.data.assets,
        start=cfg.data.start,
    )
    exit_, none = r.outcome("strategy"), r.outcome("no reaction")
    assert exit_.value_lost < 0.1 * none.value_lost
    assert exit_.worst_shortfall > none.worst_shortfall and exit_.worst_drawdown > none.worst_drawdown
    # The runway: the reserve (USDT, and USDC and DAI at min(price, peg)) over the 150,000 a month.
    assert exit_.runway_lost is not None and none.runway_lost is not None
    assert exit_.runway_lost < 0.1 * none.runway_lost and exit_.worst_runway_lost < none.worst_runway_lost


def test_stress_command_prints_the_comparison_writes_a_figure_and_json(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["stress", str(EXAMPLE), "--scenario", "usdc-2023", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "no reaction" in res.output and "buy & hold" in res.output and "USDC depegged" in res.output
    assert "runway lost" in res.output
    assert (tmp_path / "stress-usdc-2023.html").stat().st_size > 10_000
    res = runner.invoke(app, ["stress", str(EXAMPLE), "--scenario", "usdc-2023", "--out", str(tmp_path), "--json"])
    data = json.loads(res.stdout[res.stdout.index("{") :])
    assert [v["name"] for v in data["variants"]] == ["strategy", "no reaction", "buy & hold"]
    assert all(v["runway_months_before"] > 24 and v["worst_runway_lost"] > 0 for v in data["variants"])
    res = runner.invoke(app, ["stress", str(EXAMPLE), "--scenario", "eth-2020-03-12", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "outside the prices" in res.output
    res = runner.invoke(app, ["stress", str(EXAMPLE), "--scenario", "nope", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "unknown scenario 'nope'" in res.output


def test_runway_months_lost_by_hand() -> None:
    """Two dollar stables held half and half, 10,000 a month paid from A; B breaks to 0.80 for good.
    The reserve (both stables, B at min(price, peg)) loses 0.2 × 500,000 = 100,000, which is
    10 months of spend, for every variant (the exit sells B at 0.80 into A: no cost, same value)."""
    from ballast.report.stress import stress
    from ballast.strategy import build_strategy

    idx = pd.date_range("2021-01-01", periods=800, freq="D")  # no leap year: 12 spends in any 365 days
    prices = pd.DataFrame({"A": 1.0, "B": 1.0}, index=idx)
    kw = dict(target="A=0.5,B=0.5", cash="A", rebalance="never", pegs={"A": 1.0, "B": 1.0})
    strategy = build_strategy(**kw, depeg={"act": 0.05, "react": "exit"}, spend="10000/month")
    shock = Scenario("B breaks", (DepegShape("2021-09-15", "B", to=0.8, days=1),))
    report = stress(strategy, prices, shock)
    for o in report.outcomes:
        assert o.runway_lost == pytest.approx(10.0, rel=1e-12), o.name
        assert o.worst_runway_lost == pytest.approx(10.0, rel=1e-12), o.name
        assert o.value_lost == pytest.approx(100_000.0, rel=1e-12), o.name
        assert o.runway is not None and o.runway.iloc[0] == pytest.approx((1e6 - 8 * 10_000) / 10_000)
    assert report.outcome("strategy").trades.asset.tolist() == ["A", "B"]  # the exit sold B
    data = report.outcome("strategy").as_dict()
    assert data["runway_lost"] == pytest.approx(10.0) and data["runway_months_before"] == pytest.approx(92.0)
    # Nothing spent: an infinite runway, none of it lost.
    quiet = stress(build_strategy(**kw), prices, shock).outcome("buy & hold")
    assert quiet.runway_lost is None and quiet.as_dict()["runway_lost"] is None
