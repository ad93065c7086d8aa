"""The read endpoints show the ledger as it is: holdings = start + fills, targets with bands from
the strategy, equity per cycle, newest decisions first, filters validated."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api_support import START, TOKEN, seed_ledger
from ballast.api.app import band_widths, create_app
from ballast.api.security import Access
from ballast.live.ledger import Ledger
from ballast.strategy import build_strategy


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    seeded = seed_ledger(f"sqlite:///{tmp_path_factory.mktemp('reads') / 'ledger.db'}")
    strategy = build_strategy(
        target="BTC=0.4,ETH=0.3,USDT=0.3", band=0.05, band_kind="relative", band_per_asset={"BTC": 0.1, "SOL": 0.2}
    )
    with Ledger(seeded.url) as led:
        yield (
            TestClient(
                create_app(led, Access(token=TOKEN), strategy),
                client=("127.0.0.1", 1),
                base_url="http://localhost:8000",
            ),
            led,
            seeded,
        )


def test_holdings_are_the_ledgers_with_bands(api):
    c, led, _ = api
    rows = {r["asset"]: r for r in c.get("/holdings").json()}
    fills = led.fills()
    assert len(fills) == 2
    for asset in ("BTC", "ETH"):
        moved = sum(f["quantity"] for f in fills if f["asset"] == asset)
        assert rows[asset]["units"] == pytest.approx(START[asset] + moved, rel=1e-12)
    # relative band: 0.1 × 40 % for BTC (per-asset), 0.05 × 30 % for ETH and USDT
    assert rows["BTC"]["band"] == pytest.approx(0.04)
    assert rows["ETH"]["band"] == pytest.approx(0.015)
    for r in rows.values():
        assert r["outside_band"] == (abs(r["drift"]) > r["band"])
    assert sum(r["weight"] for r in rows.values()) == pytest.approx(1.0)
    targets = {t["asset"]: t for t in c.get("/targets").json()}
    assert targets["BTC"]["lower"] == pytest.approx(0.36) and targets["BTC"]["upper"] == pytest.approx(0.44)


def test_drift_history_is_pre_trade_weight_minus_target_per_cycle(api):
    c, led, _ = api
    points = c.get("/drift").json()
    assert len(points) == 60 and points == sorted(points, key=lambda p: p["observed_at"])
    last = points[-1]
    snap = led.latest_snapshot()
    for line in snap["lines"]:
        assert last["drift"][line["asset"]] == pytest.approx(line["weight"] - line["target"], abs=1e-15)
    assert last["max_abs"] == pytest.approx(max(abs(v) for v in last["drift"].values()))
    assert len(c.get("/drift?limit=7").json()) == 7
    assert c.get("/drift?limit=0").status_code == 422


def test_band_widths_without_a_band_or_strategy():
    rows = [{"asset": "A", "target": 0.5}, {"asset": "B", "target": 0.5}]
    assert band_widths(None, rows) == {}
    assert band_widths(build_strategy(target="A=0.5,B=0.5", rebalance="monthly"), rows) == {}
    assert band_widths(build_strategy(target="A=0.5,B=0.5", band=0.02), rows) == {"A": 0.02, "B": 0.02}


def test_status_equity_decisions_proposals_alerts(api):
    c, led, seeded = api
    s = c.get("/status").json()
    assert s["service"]["strategy"] == "treasury 40/30/30" and s["service"]["paused"] is False
    assert s["counts"]["cycles"] == 60 and s["last_cycle"]["period"] == 59
    eq = c.get("/equity").json()
    assert len(eq) == 60 and eq == sorted(eq, key=lambda p: p["observed_at"])
    assert len(c.get("/equity?limit=5").json()) == 5
    ds = c.get("/decisions").json()
    assert [d["id"] for d in ds] == sorted((d["id"] for d in ds), reverse=True)
    assert all(d["reason"].startswith("band: ETH") for d in ds)
    pending = c.get("/proposals?state=pending").json()
    assert sorted(p["id"] for p in pending) == sorted(seeded.pending)
    assert c.get("/proposals?state=bogus").status_code == 422
    assert c.get("/decisions?limit=0").status_code == 422
    assert c.get("/decisions?limit=1001").status_code == 422
    alerts = c.get("/alerts?open_only=true").json()
    assert {a["kind"] for a in alerts} == {"price_jump", "stale_price"}


def test_dashboard_and_assets_are_served_locally(api):
    c, _, _ = api
    page = c.get("/").text
    assert 'src="/assets/plotly.min.js"' in page and "http" not in page.split("<body")[0]
    js = c.get("/assets/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert c.get("/assets/../app.py").status_code == 404
    assert c.get("/assets/secret.txt").status_code == 404
    assert c.get("/docs").status_code == 404  # Swagger UI would load from a CDN
    assert c.get("/openapi.json").json()["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_a_lost_database_is_a_503_with_the_reason(tmp_path):
    """The ledger file vanishes under a running server: a clear 503, not a 500 with a traceback."""
    import shutil

    (tmp_path / "db").mkdir()
    seeded = seed_ledger(f"sqlite:///{tmp_path / 'db' / 'ledger.db'}")
    led = Ledger(seeded.url)
    c = TestClient(create_app(led, Access(token=TOKEN)), client=("127.0.0.1", 1), base_url="http://127.0.0.1")
    assert c.get("/decisions").status_code == 200
    led.engine.dispose()
    shutil.rmtree(tmp_path / "db")
    r = c.get("/decisions")
    assert r.status_code == 503 and "unavailable" in r.json()["detail"]
    led.close()


def test_an_empty_ledger_answers_every_read(tmp_path):
    with Ledger(f"sqlite:///{tmp_path / 'empty.db'}") as led:
        c = TestClient(create_app(led, Access()), client=("127.0.0.1", 1), base_url="http://127.0.0.1")
        paths = ("/status", "/holdings", "/targets", "/decisions", "/proposals", "/equity", "/drift", "/alerts", "/")
        for path in paths:
            assert c.get(path).status_code == 200, path
        assert c.get("/status").json()["last_cycle"] is None
        assert c.get("/holdings").json() == []
