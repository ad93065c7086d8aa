"""The HTML tearsheet: its numbers agree with the engine, it is self-contained, it renders in a
real browser without console errors, and the PNG export writes real images."""

from __future__ import annotations

import re
import struct

import numpy as np
import pandas as pd
import pytest

from ballast.engine.backtest import backtest
from ballast.report import figures, holdings_figures, plotting
from ballast.report.html import render, write_pngs, write_tearsheet
from ballast.strategy import build_strategy
from ballast.targets.base import Target
from browser_support import require_chromium
from market_support import gbm


@pytest.fixture(scope="module")
def results():
    prices = gbm(n_assets=3, n_periods=400, seed=3)
    band = backtest(
        prices,
        build_strategy(
            target="A0=0.5,A1=0.3,A2=0.2", band=0.04, plan="band-edge", fee_bps=20, fixed_cost=1.0, name="bands"
        ),
    )
    monthly = backtest(
        prices, build_strategy(target="A0=0.5,A1=0.3,A2=0.2", rebalance="monthly", fee_bps=20, name="monthly")
    )
    return band, monthly


def test_cost_and_turnover_curves_end_at_the_engine_metrics(results):
    for r in results:
        assert np.sum(r.raw.rebalances.cost) == pytest.approx(r.metrics["total_costs"], rel=1e-12)
        years = (r.market.n_periods - 1) / r.market.periods_per_year
        turnover = figures.turnover_per_rebalance(r).sum() / years
        assert turnover == pytest.approx(r.metrics["turnover"], rel=1e-9)
        assert turnover > 0


def test_drawdown_and_rolling_volatility_match_independent_formulas(results):
    r = results[0]
    eq = r.raw.equity
    assert -figures.drawdown(eq).min() == pytest.approx(r.metrics["max_drawdown"], rel=1e-12)
    window = 21
    vol = figures.rolling_volatility(eq, window, 252)
    rets = eq[1:] / eq[:-1] - 1
    t = 100
    expected = np.std(rets[t - window : t], ddof=1) * np.sqrt(252)
    assert vol[t] == pytest.approx(expected, rel=1e-10)
    assert np.isnan(vol[window - 1]) and np.isfinite(vol[window])


def test_band_half_widths_follow_the_trigger(results):
    band, monthly = results
    hw = holdings_figures.half_widths(band)
    assert hw.shape == band.targets.shape and np.allclose(hw, 0.04)
    assert holdings_figures.half_widths(monthly) is None


class VolAim(Target):
    """A stand-in for a volatility-targeting wrapper: exposes target_vol, lookback and inner."""

    def __init__(self, inner: Target) -> None:
        self.inner, self.target_vol, self.lookback = inner, 0.25, 40

    def path(self, market):
        return self.inner.path(market)


def test_volatility_target_is_found_through_wrappers(results):
    from dataclasses import replace

    r = results[0]
    assert figures.volatility_target(r) is None
    aimed = backtest(
        pd.DataFrame(r.market.prices, index=r.market.index, columns=list(r.market.assets)),
        replace(r.strategy, target=VolAim(r.strategy.target)),
    )
    assert figures.volatility_target(aimed) == (0.25, 40)
    fig = figures.volatility_figure([aimed])
    assert any(tr.name.startswith("target") and tr.y[0] == 0.25 for tr in fig.figure.data)
    assert "last 40 period" in fig.caption


def test_one_baseline_for_strategies_on_the_same_target(results):
    assert len(plotting.baselines(results)) == 1
    assert plotting.names([results[0], results[0]]) == ["bands", "bands (2)"]


def test_tearsheet_is_self_contained_and_complete(results, tmp_path):
    path = write_tearsheet(list(results), tmp_path / "sub" / "r.html", title="Bands <vs> calendar")
    text = path.read_text(encoding="utf-8")
    assert path.is_absolute() and path.parent.name == "sub"
    assert not re.search(r"<script[^>]+src=", text), "scripts must be inlined, no CDN"
    assert not re.search(r"<link[^>]+href=", text)
    assert len(text) > 3_000_000  # plotly.js itself is inside
    for key in ("equity", "drawdowns", "weights-1", "drift-1", "weights-2", "drift-2", "costs", "volatility"):
        assert f'id="fig-{key}"' in text
    assert "Bands &lt;vs&gt; calendar" in text  # escaped
    band = results[0]
    assert f"{band.metrics['cagr']:.2%}" in text
    assert band.rebalances["reason"].iloc[1].split(" at ")[0] in text  # reasons reach the hover text


def test_empty_results_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="at least one"):
        write_tearsheet([], tmp_path / "x.html")


@pytest.mark.browser
def test_report_renders_in_chromium_without_console_errors(results, tmp_path, browser):
    path = write_tearsheet(list(results), tmp_path / "r.html")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelectorAll('.figure .main-svg').length >= 8", timeout=20000)
    keys = page.eval_on_selector_all(".figure", "els => els.map(e => e.dataset.key)")
    assert len(keys) == 8
    traces = page.evaluate("Array.from(document.querySelectorAll('.figure')).map(e => e.data.length)")
    assert all(n >= 2 for n in traces)
    # the log/linear toggle works
    assert page.evaluate("document.getElementById('fig-equity').layout.yaxis.type") == "log"
    page.locator("#fig-equity .updatemenu-button").nth(1).click()
    page.wait_for_function("document.getElementById('fig-equity').layout.yaxis.type === 'linear'")
    assert errors == []
    assert all(u.startswith(("file:", "data:", "blob:")) for u in requests), requests
    page.close()


@pytest.mark.browser
def test_png_export_writes_every_figure(results, tmp_path):
    require_chromium()
    paths = write_pngs([results[0]], tmp_path / "png", scale=1)
    assert [p.name for p in paths] == [
        "equity.png",
        "drawdowns.png",
        "weights.png",
        "drift.png",
        "costs.png",
        "volatility.png",
    ]
    for p in paths:
        head = p.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", head[16:24])
        assert width == 1100 and height >= 300


def test_edge_cases_render(tmp_path):
    """One asset, integer periods instead of dates, a long history that gets thinned, and a rule
    that never rebalances: the page is still complete and the thinned curves keep the ends."""
    long = gbm(n_assets=2, n_periods=9000, seed=4).reset_index(drop=True)
    never = backtest(
        long, build_strategy(target="A0=0.7,A1=0.3", rebalance="never", name="hold only"), periods_per_year=252
    )
    single = backtest(gbm(n_assets=1, n_periods=50, seed=1), build_strategy(target="A0=1", rebalance="monthly"))
    for results in ([never], [single], [never, single]):
        text = render(results)
        assert text.count('class="figure"') == 4 + 2 * len(results)
    eq = figures.equity_figure([never]).figure.data[0]
    assert len(eq.y) <= plotting.MAX_POINTS + 1
    assert eq.y[0] == never.raw.equity[0] / never.strategy.capital
    assert eq.y[-1] == never.raw.equity[-1] / never.strategy.capital


def test_names_cannot_break_out_of_the_page():
    hostile = "</script><script>alert(1)</script>"
    r = backtest(
        gbm(n_assets=2, n_periods=40), build_strategy(target="A0=0.5,A1=0.5", rebalance="monthly", name=hostile)
    )
    text = render([r])
    assert hostile not in text
    assert "&lt;/script&gt;" in text  # escaped in HTML, \u003c-escaped inside the figure JSON


def test_distinct_baselines_are_named_after_their_own_strategy(results):
    band, monthly = results
    other = backtest(
        gbm(n_assets=3, n_periods=400, seed=3),
        build_strategy(target="A0=0.2,A1=0.3,A2=0.5", rebalance="monthly", name="other target"),
    )
    named = plotting.baselines([band, monthly, other])  # band and monthly share one baseline
    assert [n for n, _ in named] == ["buy & hold (bands)", "buy & hold (other target)"]
    assert named[1][1] is other.baseline
