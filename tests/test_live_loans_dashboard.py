"""The dashboard's Loans panel in a real browser (Chromium via Playwright) against `ballast serve` on
a ledger where the loan replay ran: the table shows the loan's HF, debt and band, the chart one HF
trace per cycle with the liquidation and band lines, and the page raises no error."""

from __future__ import annotations

from pathlib import Path

import pytest

from api_support import LiveServer, loaded_dashboard
from ballast.live.service import RunSettings, open_service
from live_loans_support import BAND, ETH, NAME, loan_strategy

pytestmark = pytest.mark.browser


def test_the_loans_panel_shows_health_debt_and_band(browser: object, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    svc = open_service(str(loan_strategy(tmp_path)), RunSettings(db=url, speed="max"))
    svc.run(until_end=True)
    (loan,) = svc.ledger.status()["loans"]
    svc.ledger.close()
    server = LiveServer(url, tmp_path)
    try:
        page, errors = loaded_dashboard(browser, server)
        assert page.locator("#loans-box").is_visible()
        row = page.locator(f'#loans tr[data-loan="{NAME}"]')
        assert row.locator('td[data-role="hf"]').inner_text() == f"{loan['health_factor']:,.4f}"
        text = row.inner_text()
        assert "USDT" in text and f"repay < {BAND.repay_below:g} → {BAND.repay_to:g}" in text and "2 / 2 / 1" in text
        page.wait_for_selector("#health-chart .main-svg", timeout=10000)
        assert page.evaluate("document.getElementById('health-chart').data[0].x.length") == len(ETH)
        lines = page.evaluate("document.getElementById('health-chart').layout.shapes.map(s => s.y0)")
        assert lines == [1, BAND.repay_below, BAND.boost_above]
        assert errors == []
        page.close()
    finally:
        server.stop()
