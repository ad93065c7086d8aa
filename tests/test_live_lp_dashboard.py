"""The dashboard's liquidity panel in a real browser (Chromium via Playwright) against `ballast serve`
on a ledger where the liquidity replay ran: range, in-range flag, fees and resets, no page error."""

from __future__ import annotations

from pathlib import Path

import pytest

from api_support import LiveServer, loaded_dashboard
from ballast.live.service import RunSettings, open_service
from test_live_lp import lp_strategy

pytestmark = pytest.mark.browser


def test_the_liquidity_panel_shows_range_in_range_and_fees(browser: object, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    svc = open_service(str(lp_strategy(tmp_path)), RunSettings(db=url, speed="max"))
    svc.run(until_end=True)
    lp = svc.ledger.status()["liquidity"]
    svc.ledger.close()
    server = LiveServer(url, tmp_path)
    try:
        page, errors = loaded_dashboard(browser, server)
        assert page.locator("#liquidity-box").is_visible()
        text = page.locator("#liquidity tbody tr").inner_text()
        assert "ETH/USDT" in text and f"{lp['lower']:,.2f}" in text and f"{lp['fees']:,.2f}" in text
        flag = page.locator('#liquidity td[data-role="in-range"]').inner_text()
        assert flag == ("yes" if lp["in_range"] else "no")
        assert errors == []
        page.close()
    finally:
        server.stop()
