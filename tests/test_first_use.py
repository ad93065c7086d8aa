"""What a new user trips over (issue 19): flags that drop settings, formation, turnover, reasons,
silent acceptance, tracebacks, dates, help and version, PNG up front, the compile notice."""

from __future__ import annotations

import errno
import json
import os
import re
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import ballast
from ballast.cli import app, resolve_strategy
from ballast.config import load_strategy_file
from ballast.errors import InputError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
runner = CliRunner()
TREASURY = """
name = "t"
[data]
prices = "crypto"
assets = ["BTC", "ETH", "USDT"]
end = "2019-12-31"
[target]
kind = "fixed"
weights = { BTC = 0.4, ETH = 0.3, USDT = 0.3 }
[trigger]
band = 0.05
[plan]
kind = "band-edge"
[costs]
fee_bps = 10
[portfolio]
cash = "USDT"
"""


def toml(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def fails(args: list[str], *expected: str) -> str:
    out = runner.invoke(app, args)
    assert out.exit_code == 2, out.output
    assert isinstance(out.exception, SystemExit) and "Traceback" not in out.output
    text = " ".join(out.output.split())  # rich wraps long messages
    for e in expected:
        assert e in text, text
    return text


# 1 ------------------------------------------------------------------ cost flags merge into [costs]
def test_cost_flags_override_only_what_they_name() -> None:
    dex = EXAMPLES / "dex-treasury.toml"
    fee, _ = resolve_strategy(dex, {"fee_bps": 10})
    described = fee.costs.describe()
    assert "10 bps" in described and "constant-product pool" in described and "gas" in described
    fixed, _ = resolve_strategy(EXAMPLES / "band_edge.toml", {"fixed_cost": 7})
    assert fixed.costs.describe() == "10 bps + 7 per trade"
    both, _ = resolve_strategy(EXAMPLES / "band_edge.toml", {"min_trade": 100, "fee_bps": 3})
    assert both.costs.describe() == "3 bps + 5 per trade + min trade 100"
    with pytest.raises(InputError, match="fee_bps"):
        resolve_strategy(EXAMPLES / "band_edge.toml", {"fee_bps": -1})


def test_summary_shows_the_merged_costs(tmp_path: Path) -> None:
    out = runner.invoke(app, ["backtest", str(toml(tmp_path, TREASURY)), "--fixed-cost", "7", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["strategy"]["costs"] == "10 bps + 7 per trade"
    out = runner.invoke(app, ["backtest", str(toml(tmp_path, TREASURY)), "--fixed-cost", "7"])
    assert "10 bps + 7 per trade" in out.output


# 2 ------------------------------------------------------------------ formation goes to the target
@pytest.mark.parametrize("plan", ["band-edge", "cost-aware"])
@pytest.mark.parametrize("engine", ["auto", "python"])
def test_formation_goes_to_the_target_for_every_planner(plan: str, engine: str) -> None:
    r = ballast.backtest(
        "crypto",
        target="BTC=0.4,ETH=0.3,USDT=0.3",
        cash="USDT",
        band=0.05,
        plan=plan,
        rebalance="daily" if plan == "cost-aware" else None,
        fee_bps=10,
        fixed_cost=5,
        end="2018-06-30",
        engine=engine,
    )
    target = np.array([0.4, 0.3, 0.3])
    np.testing.assert_allclose(r.weights.iloc[0].to_numpy(), target, atol=1e-12)
    np.testing.assert_allclose(r.baseline.weights.iloc[0].to_numpy(), target, atol=1e-12)
    # Same costs, same starting point: the first close's value equals buy and hold's.
    assert r.raw.equity[0] == pytest.approx(r.baseline.raw.equity[0], rel=1e-12)
    if plan == "band-edge":  # formed at the target, not at the band's edge: no trades on days 2 to 4
        assert (r.rebalances.time.iloc[1:] > r.market.index[4]).all()


def test_value_floor_holds_at_a_band_edge_formation() -> None:
    from ballast import Band, BandEdge, Fixed, Runway, Strategy

    floor = 50_000 * 12
    s = Strategy(
        Runway(Fixed({"BTC": 0.5, "ETH": 0.3, "USDT": 0.2}), "USDT", 50_000, 12),
        Band(0.05),
        BandEdge(),
        ballast.Proportional(10) + ballast.FixedPerTrade(5),
        cash="USDT",
    )
    r = ballast.backtest("crypto", s, end="2018-06-30")
    usdt = r.weights.iloc[0]["USDT"] * r.raw.equity[0]
    assert usdt >= floor * (1 - 1e-12)
    # the rest at the (floored) target's mix: BTC:ETH = 5:3, not stopped at a band edge
    assert r.weights.iloc[0]["BTC"] / r.weights.iloc[0]["ETH"] == pytest.approx(5 / 3, rel=1e-9)


def test_formation_of_a_user_planner_goes_to_the_target() -> None:
    from ballast import Fixed, Strategy
    from ballast.planning.base import Planner
    from ballast.triggers import Calendar

    class Tilted(Planner):  # ignores the target: always 90/10
        def plan(self, state):
            return np.array([0.9, 0.1])

    s = Strategy(Fixed({"BTC": 0.6, "ETH": 0.4}), Calendar("monthly"), Tilted())
    r = ballast.backtest("crypto", s, end="2018-03-31", assets=["BTC", "ETH"])
    np.testing.assert_allclose(r.weights.iloc[0].to_numpy(), [0.6, 0.4], atol=1e-12)  # formation: target
    first = r.rebalances.time.iloc[1]
    np.testing.assert_allclose(r.weights.loc[first].to_numpy(), [0.9, 0.1], atol=1e-12)  # then the planner


# 3 ------------------------------------------------------------------ backtest --report honours [report]
def test_backtest_report_honours_the_report_section(tmp_path: Path) -> None:
    path = toml(tmp_path, TREASURY + '\n[report]\ntitle = "Board pack"\nvol_window = 17\n')
    page = tmp_path / "r.html"
    out = runner.invoke(app, ["backtest", str(path), "--report", str(page)])
    assert out.exit_code == 0, out.output
    text = page.read_text()
    assert "<h1>Board pack</h1>" in text and "last 17 period returns" in text


# 4 ------------------------------------------------------------------ one turnover definition
def test_turnover_counts_every_leg_including_cash() -> None:
    r = ballast.backtest(
        "crypto", target="BTC=0.4,ETH=0.3,USDT=0.3", cash="USDT", band=0.05, plan="band-edge", fee_bps=10, fixed_cost=5
    )
    # Independent of the engine's accumulator: ½·Σ|post − pre value| / pre value from the paths.
    reb = r.raw.rebalances
    done = (reb.t > 0) & (reb.n_trades > 0)
    t = reb.t[done]
    v_post = r.raw.equity[t]
    v_pre = v_post + reb.cost[done]  # exact accounting: V′ = V − costs
    pre = r.pre_trade_weights.to_numpy()[t] * v_pre[:, None]
    post = r.weights.to_numpy()[t] * v_post[:, None]
    per = 0.5 * np.abs(post - pre).sum(axis=1) / v_pre
    years = (len(r.raw.equity) - 1) / r.market.periods_per_year
    assert r.metrics["turnover"] == pytest.approx(per.sum() / years, rel=1e-9)
    # traded_value is Σ|trade| over all legs, the cash asset's included (the trade log has them all).
    by_t = r.trades.assign(a=r.trades.value.abs()).groupby("time").a.sum()
    np.testing.assert_allclose(r.rebalances.set_index("time").traded_value.loc[by_t.index], by_t, rtol=1e-12)


def test_turnover_is_the_same_named_or_not_and_under_bt() -> None:
    """Without costs the three accountings hold the same weights: one turnover for all."""
    common = dict(target="BTC=0.4,ETH=0.3,USDT=0.3", rebalance="monthly", end="2020-12-31")
    named = ballast.backtest("crypto", cash="USDT", **common).metrics["turnover"]
    unnamed = ballast.backtest("crypto", assets=["BTC", "ETH", "USDT"], **common).metrics["turnover"]
    bt = ballast.backtest("crypto", cash="USDT", convention="bt", **common).metrics["turnover"]
    assert named > 0
    assert unnamed == pytest.approx(named, rel=1e-9)
    assert bt == pytest.approx(named, rel=1e-9)


def test_turnover_limit_caps_the_same_quantity() -> None:
    from ballast import Fixed, Strategy, TurnoverLimit
    from ballast.triggers import Calendar

    s = Strategy(TurnoverLimit(Fixed({"BTC": 0.4, "ETH": 0.3, "USDT": 0.3}), 0.02), Calendar("weekly"), cash="USDT")
    r = ballast.backtest("crypto", s, end="2019-12-31")
    reb = r.rebalances.iloc[1:]
    pre_value = r.equity.loc[reb.time].to_numpy() + reb.cost.to_numpy()
    assert (0.5 * reb.traded_value.to_numpy() / pre_value <= 0.02 + 1e-9).all()
    assert (0.5 * reb.traded_value.to_numpy() / pre_value > 0.0199).any()  # the cap binds


# 5 ------------------------------------------------------------------ say what actually happened
def test_idle_rebalance_reason_says_what_happened() -> None:
    r = ballast.backtest(
        "crypto",
        target="BTC=0.4,ETH=0.3,USDT=0.3",
        cash="USDT",
        band=0.2,
        plan="band-edge",
        rebalance="monthly",
        end="2019-12-31",
    )
    idle = r.rebalances[~r.rebalances.executed]
    assert len(idle) > 0
    assert idle.reason.str.contains("nothing to trade: every asset already inside its band").all()
    assert not r.rebalances.reason.str.contains("minimum size").any()
    m = ballast.backtest(
        "crypto", target="BTC=0.4,ETH=0.3,USDT=0.3", cash="USDT", rebalance="daily", min_trade=50_000, end="2018-03-31"
    )
    skipped = m.rebalances.iloc[1:][~m.rebalances.executed.iloc[1:]]
    assert len(skipped) > 0 and skipped.reason.str.contains("every trade below the minimum size").all()


# 9 ------------------------------------------------------------------ status formatting
def test_status_prints_units_in_full_and_the_whole_heartbeat() -> None:
    from rich.console import Console

    from ballast.live.display import status_view

    beat = "2026-12-03 05:55:48"
    st = {
        "service": {
            "strategy": "a rather long strategy name for the panel",
            "executor": "paper",
            "paused": False,
            "pause_reason": None,
            "heartbeat_at": beat + ".123456",
        },
        "counts": {"cycles": 1, "decisions": 0, "orders": 0, "fills": 0, "proposals": 0, "open_alerts": 0},
        "last_cycle": {"observed_at": "2024-03-01T00:00:00", "status": "hold"},
        "value": 2.6e6,
        "lines": [
            {"asset": "USDT", "units": 2622340.12, "price": 1.0, "value": 2622340.12, "weight": 1.0, "target": 1.0}
        ],
    }
    console = Console(width=80, record=True)
    console.print(status_view(st, [], [], [], []))
    text = console.export_text()
    assert "2,622,340" in text and "e+06" not in text
    assert beat in text and "…" not in text


# 10 ----------------------------------------------------------------- no tracebacks
def test_relatives_on_prices_is_refused() -> None:
    fails(
        ["backtest", "--prices", "crypto", "--relatives", "--target", "BTC=0.5,ETH=0.5"],
        "look like prices, not price relatives",
        "drop --relatives",
    )


def test_start_that_is_not_a_date(tmp_path: Path) -> None:
    fails(
        ["backtest", str(toml(tmp_path, '[data]\nstart = "yesterday"\n[target]\nkind = "equal"\n'))],
        "start = 'yesterday' is not a date",
        "the data runs from 2017-11-09",
    )


def test_report_under_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    fails(
        ["report", str(toml(tmp_path, TREASURY)), "--out", str(tmp_path / "file" / "r.html")],
        "cannot create folder",
        "file",
    )


def test_a_failed_write_leaves_no_half_written_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ballast.report.files import write_text_atomic

    page = tmp_path / "report.html"
    page.write_text("the previous report")

    def full_disk(src: str, dst: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(InputError, match="No space left on device"):
        write_text_atomic(page, "<html>" * 1000)
    assert page.read_text() == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


# 11 ----------------------------------------------------------------- silent acceptance
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[target]\nkind = "fixed"\nweights = { BTC = 1.2, ETH = -0.2 }', "negative weight for ETH"),
        (
            "[target]\nkind = 'equal'\n[trigger]\nband = 5",
            "band = 5 means 500% (bands are fractions); did you mean 0.05?",
        ),
        ("[target]\nkind = 'equal'\n[costs]\nfee_bps = 20000", "[costs] fee_bps: Input should be less than 10000"),
        ('[target]\nkind = "equal"\n[costs]\nfee_bps = "10"', "[costs] fee_bps: Input should be a valid number"),
        ("", "expected at least [target]"),
        ("# only a comment\n", "nothing in"),
    ],
)
def test_silent_mistakes_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    path = toml(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_strategy_file(path)
    assert expected in str(info.value) and str(path) in str(info.value)


def test_shorting_on_purpose(tmp_path: Path) -> None:
    text = '[target]\nkind = "fixed"\nweights = { BTC = 1.2, ETH = -0.2 }\n[portfolio]\nallow_short = true\n'
    assert load_strategy_file(toml(tmp_path, text)).to_strategy().target.weights["ETH"] == -0.2
    fails(["backtest", "--target", "BTC=1.2,ETH=-0.2"], "negative weight for ETH", "allow_short")
    fails(["backtest", "--target", "equal", "--band", "5"], "did you mean 0.05?")
    fails(["backtest", "--target", "equal", "--fee-bps", "20000"], "fee_bps = 20000 is 200 % of every trade")


def test_capital_too_small_to_pay_the_fixed_cost() -> None:
    fails(
        ["backtest", "--target", "BTC=0.5,ETH=0.5", "--capital", "10", "--fixed-cost", "5"],
        "the portfolio was never formed",
        "capital 10.00",
    )


# 12 ----------------------------------------------------------------- dates
def dmy_csv(tmp_path: Path) -> Path:
    dates = pd.date_range("2020-01-01", periods=40, freq="D")
    prices = pd.DataFrame({"date": dates.strftime("%d/%m/%Y"), "A": np.linspace(1, 2, 40), "B": np.linspace(2, 1, 40)})
    path = tmp_path / "dmy.csv"
    prices.to_csv(path, index=False)
    return path


def test_day_first_dates_offer_dayfirst(tmp_path: Path) -> None:
    path = dmy_csv(tmp_path)
    fails(["backtest", "--prices", str(path), "--target", "equal"], "look day-first", "--dayfirst", str(path))
    out = runner.invoke(app, ["backtest", "--prices", str(path), "--target", "equal", "--dayfirst", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["final_wealth"] > 0


def test_ambiguous_day_first_dates_are_caught(tmp_path: Path) -> None:
    """Every field ≤ 12: only the order of the rows tells; read month first they are unsorted."""
    path = tmp_path / "ambiguous.csv"
    path.write_text("date,A\n01/02/2020,1\n02/02/2020,1.1\n03/02/2020,1.2\n01/03/2020,1.3\n")
    with pytest.raises(InputError, match="look day-first"):
        ballast.load_prices(str(path))
    assert ballast.load_prices(str(path), dayfirst=True).index[-1] == pd.Timestamp("2020-03-01")


def test_parquet_without_dates(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pd.DataFrame({"A": [1.0, 1.1, 1.2], "B": [2.0, 2.1, 2.2]}).to_parquet(path)
    with pytest.raises(InputError, match="no dates"):
        ballast.load_prices(str(path))


def test_mixed_time_zones_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tz.csv"
    path.write_text("date,A\n2020-01-01T00:00:00+00:00,1\n2020-01-02T00:00:00+01:00,1.1\n")
    with pytest.raises(InputError, match=re.escape(str(path)) + ": cannot read the dates"):
        ballast.load_prices(str(path))


def test_start_outside_the_data_names_the_range() -> None:
    with pytest.raises(InputError, match=r"start = '2030-01-01'.*the data runs from 2017-11-09.*to 2024-03-01"):
        ballast.load_prices("crypto", start="2030-01-01")


# 13 ----------------------------------------------------------------- help and version
def test_version() -> None:
    out = runner.invoke(app, ["--version"])
    assert out.exit_code == 0 and out.output.strip() == f"ballast {version('ballast')}"


def test_run_help_keeps_section_names() -> None:
    out = runner.invoke(app, ["run", "--help"], terminal_width=120)
    assert out.exit_code == 0
    text = " ".join(out.output.split())
    assert "Strategy TOML with a [live] section." in text and "(default: [live] source)" in text


# 14, 15 ------------------------------------------------------------- PNG export said up front
def test_report_png_without_kaleido_says_so_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ballast.report.png as png

    monkeypatch.setattr(png, "png_unavailable", lambda: "PNG export needs kaleido: pip install 'ballast[png]'")
    page = tmp_path / "r.html"
    out = runner.invoke(
        app, ["report", str(toml(tmp_path, TREASURY)), "--out", str(page), "--png", str(tmp_path / "figs")]
    )
    assert out.exit_code == 2
    text = " ".join(out.output.split())
    warned = text.index("--png: PNG export needs kaleido")
    assert warned < text.index("report:")  # before the backtest's summary and the page
    assert "no PNG written" in text and "the HTML report was written to" in text
    assert page.is_file() and not (tmp_path / "figs").exists()


def test_write_frontier_without_kaleido(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ballast.report.png as png
    from ballast.report.frontier import write_frontier

    monkeypatch.setattr(png, "png_unavailable", lambda: "PNG export needs kaleido")
    frame = pd.DataFrame(
        {
            "band": [0.01, 0.05, 0.1],
            "turnover": [1.0, 0.5, 0.2],
            "tracking_error": [0.01, 0.02, 0.04],
            "sharpe": [1.0, 1.1, 0.9],
        }
    )
    assert write_frontier(frame, tmp_path / "f.html") == [tmp_path / "f.html"]
    with pytest.raises(InputError, match="kaleido"):
        write_frontier(frame, tmp_path / "g.html", png=True)
    assert not (tmp_path / "g.html").exists()  # refused before writing anything


# 16 ----------------------------------------------------------------- messages and tables
def test_missing_sweep_section_message(tmp_path: Path) -> None:
    from ballast.config.sweep import load_sweep

    with pytest.raises(InputError) as info:
        load_sweep(toml(tmp_path, TREASURY))
    assert "band = { start = 0.01, stop = 0.2, num = 20 }" in str(info.value) and "{{" not in str(info.value)


def test_walk_forward_table_fits_100_columns() -> None:
    from rich.console import Console

    from ballast.engine.metrics import METRIC_NAMES
    from ballast.report.terminal import walk_forward_table

    days = pd.date_range("2020-01-01", periods=4, freq="90D")
    frame = pd.DataFrame(
        [
            {
                "window": w,
                "train_start": days[0],
                "train_end": days[w],
                "test_start": days[w],
                "test_end": days[w] + pd.Timedelta(days=89),
                "config": 3,
                "band": 0.05,
                "band_kind": "relative",
                "train_sharpe": 1.23456,
                **dict.fromkeys(METRIC_NAMES, 0.5),
            }
            for w in range(3)
        ]
    )
    console = Console(width=100, record=True)
    console.print(walk_forward_table(frame, ["band", "band_kind"], "sharpe"))
    lines = console.export_text().splitlines()
    assert all(len(line) <= 100 for line in lines)
    assert any("2020-03-31" in line and "relative" in line and "1.235" in line for line in lines)  # one row a line


def test_demo_hint_is_an_absolute_path(tmp_path: Path) -> None:
    from ballast.data.bundled import demo_strategy_path

    out = runner.invoke(app, ["demo", "--out", str(tmp_path / "d"), "--live-days", "3"], terminal_width=400)
    assert out.exit_code == 0, out.output
    shipped = str(demo_strategy_path().resolve())
    assert f"--strategy{shipped}" in "".join(out.output.split()) and Path(shipped).is_file()  # rich wraps


# 17 ----------------------------------------------------------------- the compile notice
def test_compile_notice_once_when_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ballast.cli.output as cli
    from ballast.engine.kernel import simulate

    monkeypatch.setattr(cli.console, "_force_terminal", False)
    monkeypatch.setattr(cli, "_announced", [False])
    monkeypatch.setattr(simulate._cache._cache_file, "_load_index", lambda: {})  # a cold cache
    cli.announce_compile()
    cli.announce_compile()
    assert capsys.readouterr().err.count("compiling the kernel (first run only") == 1
    monkeypatch.setattr(cli, "_announced", [False])
    monkeypatch.setattr(simulate._cache._cache_file, "_load_index", lambda: {"sig": 1})  # warm
    cli.announce_compile()
    assert capsys.readouterr().err == ""
