"""The dashboard's hedge panel in a real browser (Chromium via Playwright) against `ballast serve` on
a ledger where the hedged replay ran: delta, band, the perp's size, funding and the last re-hedge's
reason, and no page error; a ledger without a hedge keeps the panel hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from api_support import LiveServer, loaded_dashboard
from ballast.live.service import RunSettings, open_service
from live_hedge_support import hedge_strategy
from live_support import write_strategy

pytestmark = pytest.mark.browser


def num(x: float) -> str:
    """As the dashboard writes a number (two decimals, thousands separated)."""
    return f"{x:,.2f}"


def test_the_hedge_panel_shows_delta_band_and_the_perp(browser: object, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    svc = open_service(str(hedge_strategy(tmp_path)), RunSettings(db=url, speed="max"))
    svc.run(until_end=True)
    h = svc.ledger.status()["hedge"]
    svc.ledger.close()
    server = LiveServer(url, tmp_path)
    try:
        page, errors = loaded_dashboard(browser, server)
        assert page.locator("#hedge-box").is_visible()
        row = page.locator("#hedge tbody tr")
        assert "ETH/USDT:USDT" in row.inner_text()
        assert page.locator('#hedge td[data-role="delta"]').inner_text() == num(h["delta"])
        assert page.locator('#hedge td[data-role="band"]').inner_text() == f"{num(h['band'][0])} – {num(h['band'][1])}"
        assert page.locator('#hedge td[data-role="size"]').inner_text() == num(h["size"])
        assert page.locator('#hedge td[data-role="funding"]').inner_text() == num(h["funding_paid"])
        assert h["last_rehedge"]["reason"] in page.locator("#hedge-last").inner_text()
        assert errors == []
        page.close()
    finally:
        server.stop()


def test_without_a_hedge_the_panel_stays_hidden(browser: object, tmp_path: Path) -> None:
    from live_support import synthetic_prices

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    path = write_strategy(tmp_path, synthetic_prices(tmp_path / "p.csv", n=5))
    svc = open_service(str(path), RunSettings(db=url, speed="max"))
    svc.run(until_end=True)
    assert svc.ledger.status()["hedge"] is None
    svc.ledger.close()
    server = LiveServer(url, tmp_path)
    try:
        page, errors = loaded_dashboard(browser, server)
        assert not page.locator("#hedge-box").is_visible() and errors == []
        page.close()
    finally:
        server.stop()
