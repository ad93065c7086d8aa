"""The dashboard in a real browser (Debian's Chromium via Playwright) against `ballast serve` on a
seeded ledger: it renders the holdings and charts, approves a proposal with the token and shows
the new state, and shows a wrong token being refused."""
from __future__ import annotations

import re

import pytest
from api_support import TOKEN, LiveServer, seed_ledger
from live_support import expire_lease
from playwright.sync_api import expect

from ballast.live.ledger import Ledger

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dash")
    seeded = seed_ledger(f"sqlite:///{tmp / 'ledger.db'}")
    srv = LiveServer(seeded.url, tmp)
    srv.seeded = seeded
    yield srv
    srv.stop()


@pytest.fixture
def page(browser, server):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.external = []
    page.on("request", lambda r: None if r.url.startswith(server.base) or r.url.startswith("data:")
            else page.external.append(r.url))
    page.goto(server.base + "/")
    page.wait_for_selector("body[data-loaded=true]", timeout=20000)
    yield page
    page.close()


def test_dashboard_renders_holdings_and_charts(page, server):
    rows = page.locator("#holdings tbody tr")
    assert rows.count() == 3
    assert page.locator('#holdings tr[data-asset="BTC"] td').first.inner_text() == "BTC"
    btc_band = page.locator('#holdings tr[data-asset="BTC"] td').nth(6).inner_text()
    assert btc_band == "± 5.00%"
    for chart in ("#weights-chart", "#equity-chart", "#drift-chart"):
        page.wait_for_selector(f"{chart} .main-svg", timeout=10000)
    assert page.evaluate("document.getElementById('equity-chart').data[0].x.length") == 60
    assert page.evaluate("document.getElementById('drift-chart').data.length") == 3
    assert page.evaluate("document.getElementById('drift-chart').layout.shapes[0].y1") == pytest.approx(0.05)
    assert page.evaluate("document.getElementById('weights-chart').data[1].error_x.array[0]") == pytest.approx(0.05)
    assert page.locator("#decisions tbody tr").count() == 3
    assert "band: ETH" in page.locator("#decisions tbody").inner_text()
    assert page.locator("#alerts li").count() == 2
    assert page.locator("#state-badge").inner_text() == "running"
    assert page.errors == [] and page.external == []  # no CSP violation either (they are console errors)


def test_the_page_is_served_under_the_csp_and_a_stopped_runner_shows(page, server):
    csp = page.evaluate("fetch('/').then(r => r.headers.get('content-security-policy'))")
    assert "script-src 'self'" in csp
    expire_lease(server.seeded.url)  # the runner died and its lease ran out
    try:
        expect(page.locator("#state-badge")).to_have_text(re.compile("^stopped · last seen"), timeout=10000)
    finally:
        expire_lease(server.seeded.url, "2999-01-01 00:00:00.000000")
    expect(page.locator("#state-badge")).to_have_text("running", timeout=10000)
    assert page.errors == []


def test_wrong_token_is_refused_on_screen(page, server):
    pid = server.seeded.pending[1]
    card = page.locator(f'[data-proposal="{pid}"]')
    card.locator('[data-action="approve"]').click()
    page.fill("#token-input", "not-the-token-at-all")
    page.click("#token-ok")
    page.wait_for_selector("#message.error", timeout=10000)
    assert "refused (403)" in page.locator("#message").inner_text()
    assert "wrong token" in page.locator("#message").inner_text()
    with Ledger(server.seeded.url) as led:
        assert led.proposal(pid)["state"] == "pending"
    assert card.locator('[data-role="state"]').inner_text() == "pending"


def test_approve_with_the_token_changes_the_state(page, server):
    pid = server.seeded.pending[0]
    card = page.locator(f'[data-proposal="{pid}"]')
    assert card.locator('[data-role="state"]').inner_text() == "pending"
    card.locator('[data-action="approve"]').click()
    page.fill("#token-input", TOKEN)
    page.click("#token-ok")
    expect(card.locator('[data-role="state"]')).to_have_text("approved", timeout=10000)
    assert f"proposal #{pid} approved" in page.locator("#message.ok").inner_text()
    assert card.locator('[data-action="approve"]').count() == 0  # decided: no more buttons
    with Ledger(server.seeded.url) as led:
        assert led.proposal(pid)["state"] == "approved"
    assert page.errors == []


def test_pause_and_resume_from_the_page(page, server):
    page.click("#pause")
    page.fill("#token-input", TOKEN)
    page.click("#token-ok")
    expect(page.locator("#state-badge")).to_have_text(re.compile("^paused"), timeout=10000)
    with Ledger(server.seeded.url) as led:
        assert led.is_paused()
    page.click("#resume")
    page.fill("#token-input", TOKEN)
    page.click("#token-ok")
    expect(page.locator("#state-badge")).to_have_text("running", timeout=10000)
    with Ledger(server.seeded.url) as led:
        assert not led.is_paused()
