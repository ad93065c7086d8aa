"""Pictures a person reads (issue 19): log-axis tick labels read in a real browser, the comparison
page (header, grouped holdings, table width, baseline styles, notes, buttons, currency), and the
dashboard (drift axis, pause/resume, open proposals)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import expect

from api_support import LiveServer, seed_ledger
from ballast.engine.backtest import backtest
from ballast.live.ledger import Ledger
from ballast.report import figures, holdings_figures, plotting
from ballast.report.html import render, write_tearsheet
from ballast.report.png import without_buttons
from ballast.strategy import build_strategy


def falls_then_rises() -> pd.DataFrame:
    """Asset A falls to ~0.35 and rises to ~25: growth of 1 spans 0.5 … 20 on a log axis."""
    days = pd.date_range("2020-01-01", periods=400, freq="D")
    path = np.concatenate([np.geomspace(1.0, 0.35, 150), np.geomspace(0.35, 25.0, 250)])
    return pd.DataFrame({"A": path, "B": np.full(400, 1.0)}, index=days)


@pytest.fixture(scope="module")
def wide_range():
    return backtest(falls_then_rises(), build_strategy(target="A=1.0", rebalance="never", name="all in A"))


@pytest.fixture(scope="module")
def comparison():
    """A 3-asset strategy next to a 12-asset one on different targets (two buy-and-hold lines)."""
    rng = np.random.default_rng(5)
    days = pd.date_range("2021-01-01", periods=300, freq="D")
    names = [f"C{k:02d}" for k in range(12)]
    prices = pd.DataFrame(np.exp(np.cumsum(rng.normal(0, 0.03, (300, 12)), axis=0)), index=days, columns=names)
    prices["USDT"] = 1.0
    small = backtest(
        prices[["C00", "C01", "USDT"]],
        build_strategy(
            target="C00=0.4,C01=0.3,USDT=0.3", cash="USDT", band=0.05, plan="band-edge", fee_bps=10, name="three"
        ),
    )
    many = backtest(
        prices, build_strategy(target="equal", rebalance="monthly", cash="USDT", fee_bps=10, name="thirteen")
    )
    return small, many


# 6 -------------------------------------------------------------------- log ticks are their values
def test_log_ticks_label_every_value():
    values, text = figures.log_ticks(0.45, 21.3)
    assert [float(t) for t in text] == values  # each label is its own value
    assert {0.5, 1.0, 2.0, 5.0, 10.0, 20.0} <= set(values)
    narrow, _ = figures.log_ticks(0.9, 1.3)
    assert sum(0.9 <= v <= 1.3 for v in narrow) >= 3


def y_ticks(page, figure_id: str) -> list[tuple[float, str]]:
    """(screen y, text) of every rendered y tick label, top to bottom."""
    return page.evaluate(f"""Array.from(document.querySelectorAll('#{figure_id} .ytick text'))
        .map(t => [t.getBoundingClientRect().y, t.textContent]).sort((a, b) => a[0] - b[0])""")


@pytest.mark.browser
def test_log_axis_ticks_read_as_their_values(wide_range, comparison, tmp_path, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    for results in ([wide_range], list(comparison)):
        page.goto(write_tearsheet(results, tmp_path / f"r{len(results)}.html").as_uri())
        page.wait_for_function("document.querySelectorAll('#fig-equity .ytick text').length >= 3", timeout=20000)
        ticks = y_ticks(page, "fig-equity")
        values = [float(t.replace("−", "-")) for _, t in ticks]
        # Read top to bottom, a log axis's labels fall strictly: "5" under "1" would break this.
        assert all(a > b for a, b in zip(values, values[1:], strict=False)), ticks
        if len(results) == 1:
            assert {"0.5", "1", "2", "5", "10", "20"} <= {t for _, t in ticks}
            # Each label sits where its value is: equal ratios are equal distances.
            y = dict((t, pos) for pos, t in ticks)
            assert (y["1"] - y["10"]) == pytest.approx(y["2"] - y["20"], abs=1.5)
    # 7: the metrics table stays inside its card at 1400 px
    fits = page.evaluate("""Array.from(document.querySelectorAll('section')).every(
        s => s.scrollWidth <= s.clientWidth + 1)""")
    assert fits
    # the toggle sits above the plotting area, not on it
    button = page.locator("#fig-equity .updatemenu-button").first.bounding_box()
    plot = page.locator("#fig-equity .nsewdrag").first.bounding_box()
    assert button["y"] + button["height"] <= plot["y"] + 1
    page.close()


# 7 -------------------------------------------------------------------- the comparison page
def test_comparison_page_counts_every_asset(comparison):
    text = render(list(comparison))
    assert "13 assets" in text and "3 assets (" not in text
    small, _ = comparison
    assert "3 assets (C00, C01, USDT)" in render([small])


def test_many_holdings_are_grouped(comparison):
    _, many = comparison
    names, w, tw = holdings_figures.grouped_holdings(many)
    assert len(names) == plotting.MAX_ASSET_PANELS and names[-1] == "other (6)"
    np.testing.assert_allclose(w.sum(axis=1), many.weights.to_numpy().sum(axis=1), atol=1e-12)
    np.testing.assert_allclose(tw.sum(axis=1), many.targets.sum(axis=1), atol=1e-12)
    fig = holdings_figures.weights_figure(many, "weights", "thirteen").figure
    assert [t.name for t in fig.data if t.stackgroup == "held"] == names


def test_baselines_notes_buttons_and_currency(comparison):
    results = list(comparison)
    eq = figures.equity_figure(results).figure
    dashes = [t.line.dash for t in eq.data if t.name.startswith("buy & hold")]
    assert len(dashes) == 2 and len(set(dashes)) == 2
    drift = holdings_figures.drift_figure(comparison[1], "drift", "thirteen")
    assert "in the CSV" not in drift.caption and "--out DIR" in drift.caption
    assert "updatemenus" not in without_buttons(eq.to_dict())["layout"]
    costs = figures.costs_figure(results).figure
    assert "USDT" in costs.layout.yaxis.title.text


# 8 -------------------------------------------------------------------- the dashboard
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dash19")
    seeded = seed_ledger(f"sqlite:///{tmp / 'ledger.db'}")
    srv = LiveServer(seeded.url, tmp)
    srv.seeded = seeded
    yield srv
    srv.stop()


def test_drift_history_leaves_out_the_unformed_start(tmp_path):
    from ballast.api.queries import drift_history

    with Ledger(f"sqlite:///{tmp_path / 'l.db'}") as led:
        led.start_service({"BTC": 0.0, "USDT": 0.0}, "s", "paper", "replay", dry_run=False)
        t0 = datetime(2024, 1, 1)
        cash = [
            {"asset": "BTC", "units": 0.0, "price": 50_000.0, "value": 0.0, "weight": 0.0, "target": 0.4},
            {"asset": "USDT", "units": 0.0, "price": 1.0, "value": 0.0, "weight": 0.0, "target": 0.6},
        ]
        formed = [{**cash[0], "weight": 0.41}, {**cash[1], "weight": 0.59}]
        led.record_cycle(t0, 0, "hold", None, {"BTC": 50_000.0, "USDT": 1.0}, 1e6, cash)
        led.record_cycle(t0 + timedelta(days=1), 1, "hold", None, {"BTC": 50_000.0, "USDT": 1.0}, 1e6, formed)
        points = drift_history(led, 100)
    assert len(points) == 1 and points[0]["max_abs"] == pytest.approx(0.01)


@pytest.mark.browser
def test_dashboard_shows_only_the_actions_that_apply(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(server.base + "/")
    page.wait_for_selector("body[data-loaded=true]", timeout=20000)
    assert page.locator("#pause").is_visible() and not page.locator("#resume").is_visible()
    with Ledger(server.seeded.url) as led:
        led.pause("test")
    expect(page.locator("#resume")).to_be_visible(timeout=10000)  # (string waits would break the CSP)
    assert not page.locator("#pause").is_visible()
    with Ledger(server.seeded.url) as led:
        led.resume()
    expect(page.locator("#pause")).to_be_visible(timeout=10000)
    page.close()


@pytest.mark.browser
def test_open_proposals_lists_only_open_ones(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(server.base + "/")
    page.wait_for_selector("body[data-loaded=true]", timeout=20000)
    with Ledger(server.seeded.url) as led:
        executed = [p["id"] for p in led.proposals("executed")]
        pid = server.seeded.pending[-1]
        led.reject_proposal(pid, by="test")
    expect(page.locator(f'[data-proposal="{pid}"]')).to_have_count(0, timeout=10000)
    states = page.eval_on_selector_all("#proposals [data-role=state]", "els => els.map(e => e.textContent)")
    assert set(states) <= {"pending", "approved", "executing", "exported"}
    for e in executed:
        assert page.locator(f'[data-proposal="{e}"]').count() == 0
    page.close()
