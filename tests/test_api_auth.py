"""Who may change what: the bearer token on every mutation, loopback-only reads by default,
409 for a proposal already decided, and one execution however many approvals race."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from api_support import TOKEN, LiveServer, seed_ledger
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ballast.api.app import create_app
from ballast.api.security import Access, allowed_hosts, load_token
from ballast.errors import InputError
from ballast.live.ledger import Ledger

LOCAL = ("127.0.0.1", 50000)


@pytest.fixture
def seeded(tmp_path):
    return seed_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")


@pytest.fixture
def ledger(seeded):
    with Ledger(seeded.url) as led:
        yield led


def client(ledger: Ledger, token: str | None = TOKEN, host: tuple[str, int] = LOCAL, **access) -> TestClient:
    return TestClient(create_app(ledger, Access(token=token, **access)), client=host, base_url="http://127.0.0.1")


def mutations(app) -> list[str]:  # noqa: ANN001
    """Every route that is not a GET, with a real id filled in: new routes cannot escape the checks."""
    return [r.path.replace("{proposal_id}", "2") for r in app.routes
            if isinstance(r, APIRoute) and r.methods - {"GET", "HEAD"}]


def test_every_mutation_refuses_a_missing_or_wrong_token(ledger, seeded):
    c = client(ledger)
    paths = mutations(c.app)
    assert set(paths) == {"/pause", "/resume", "/proposals/2/approve", "/proposals/2/reject"}
    for path in paths:
        r = c.post(path)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == "Bearer"
        for bad in ("Bearer wrong", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN):
            r = c.post(path, headers={"Authorization": bad})
            assert r.status_code in (401, 403), (path, bad)
    # nothing changed
    assert not ledger.is_paused()
    assert [p["state"] for p in ledger.proposals("pending")] == ["pending", "pending"]


def test_without_a_configured_token_the_api_is_read_only(ledger):
    c = client(ledger, token=None)
    for path in mutations(c.app):
        r = c.post(path, headers={"Authorization": "Bearer anything-at-all-long"})
        assert r.status_code == 403 and "no API token configured" in r.json()["detail"]
    assert c.get("/status").status_code == 200


def test_the_right_token_pauses_resumes_and_decides(ledger, seeded):
    c = client(ledger)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = c.post("/pause", headers=auth, json={"reason": "maintenance"})
    assert r.json() == {"id": 1, "state": "paused", "changed": True}
    assert ledger.state()["pause_reason"] == "maintenance"
    assert c.post("/pause", headers=auth).json()["changed"] is False  # idempotent
    assert c.post("/resume", headers=auth).json() == {"id": 1, "state": "running", "changed": True}
    first, second = seeded.pending
    r = c.post(f"/proposals/{first}/approve", headers=auth, json={"by": "alice", "note": "ok"})
    assert r.status_code == 200 and r.json()["state"] == "approved"
    assert ledger.proposal(first)["decided_by"] == "api:alice"
    again = c.post(f"/proposals/{first}/approve", headers=auth)
    assert again.status_code == 409 and "already approved" in again.json()["detail"]
    assert c.post(f"/proposals/{first}/reject", headers=auth).status_code == 409
    assert c.post(f"/proposals/{second}/reject", headers=auth).json()["state"] == "rejected"
    assert c.post(f"/proposals/{second}/approve", headers=auth).status_code == 409
    assert c.post("/proposals/999/approve", headers=auth).status_code == 404
    assert c.post("/proposals/0/approve", headers=auth).status_code == 422
    assert c.post(f"/proposals/{2**40}/approve", headers=auth).status_code == 422
    assert c.post("/pause", headers=auth, json={"reason": "x" * 501}).status_code == 422
    assert c.post("/pause", headers=auth, json={"sql": "DROP TABLE"}).status_code == 422


def test_reads_answer_this_machine_unless_opened_to_the_local_network(ledger):
    for path in ("/status", "/holdings", "/", "/openapi.json", "/assets/plotly.min.js"):
        assert client(ledger).get(path).status_code == 200, path
        assert client(ledger, host=("192.168.1.20", 4000)).get(path).status_code == 403, path
    opened = dict(network_reads=True)
    assert client(ledger, host=("192.168.1.20", 4000), **opened).get("/status").status_code == 200
    assert client(ledger, host=("10.1.2.3", 4000), **opened).get("/holdings").status_code == 200
    assert client(ledger, host=("8.8.8.8", 4000), **opened).get("/status").status_code == 403  # public: never
    assert client(ledger, host=("testclient", 1)).get("/status").status_code == 403  # not an address
    # even from the local network, a mutation still needs the token
    r = client(ledger, host=("192.168.1.20", 4000), **opened).post("/pause")
    assert r.status_code == 401


def test_host_header_must_name_this_machine(ledger):
    """DNS rebinding: a page on evil.example re-pointed at 127.0.0.1 still sends Host: evil.example."""
    app = create_app(ledger, Access(token=TOKEN))
    for base in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"):
        assert TestClient(app, client=LOCAL, base_url=base).get("/status").status_code == 200, base
    evil = TestClient(app, client=LOCAL, base_url="http://evil.example:8000")
    assert evil.get("/status").status_code == 400
    assert evil.post("/pause", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 400
    assert not ledger.is_paused()
    assert allowed_hosts("127.0.0.1", False) == ("127.0.0.1", "localhost", "::1")
    assert allowed_hosts("192.168.1.5", False)[-1] == "192.168.1.5"
    assert allowed_hosts("0.0.0.0", True) is None
    mapped = Access(token=TOKEN)
    assert mapped.may_read("::ffff:127.0.0.1") and mapped.may_read("::1") and not mapped.may_read("::ffff:8.8.8.8")


def test_token_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("BALLAST_API_TOKEN", raising=False)
    monkeypatch.delenv("BALLAST_API_TOKEN_FILE", raising=False)
    assert load_token() is None
    monkeypatch.setenv("BALLAST_API_TOKEN", "short")
    with pytest.raises(InputError, match="at least 16"):
        load_token()
    f = tmp_path / "token"
    f.write_text(f"{TOKEN}\n")
    assert load_token(f) == TOKEN  # the file wins over the variable, trailing newline ignored
    with pytest.raises(InputError, match="cannot read"):
        load_token(tmp_path / "missing")
    assert "0123" not in repr(Access(token=TOKEN))


def test_serve_refuses_a_missing_ledger_file(tmp_path):
    from ballast.cli import app

    res = CliRunner().invoke(app, ["serve", "--db", str(tmp_path / "nope.db")])
    assert res.exit_code == 2
    assert "no ledger at" in " ".join(res.output.split())
    assert not (tmp_path / "nope.db").exists()


def test_concurrent_approvals_execute_exactly_once(db_url, tmp_path):  # noqa: F811
    """Twelve clients approve the same proposal at once through the real server, then four
    executors race to claim it: one approval wins (the rest get 409) and one executor claims it."""
    seeded = seed_ledger(db_url)
    server = LiveServer(db_url, tmp_path)
    try:
        pid = seeded.pending[0]
        barrier = threading.Barrier(12)

        def approve(_: int) -> int:
            with httpx.Client(timeout=30) as h:
                barrier.wait()
                return h.post(f"{server.base}/proposals/{pid}/approve",
                              headers={"Authorization": f"Bearer {TOKEN}"}).status_code

        with ThreadPoolExecutor(12) as pool:
            codes = list(pool.map(approve, range(12)))
        assert sorted(codes) == [200] + [409] * 11
        ledgers = [Ledger(db_url) for _ in range(4)]
        claim_barrier = threading.Barrier(4)

        def claim(led: Ledger) -> list[int]:
            claim_barrier.wait()
            return led.claim_approved()

        with ThreadPoolExecutor(4) as pool:
            won = list(pool.map(claim, ledgers))
        assert sorted(map(len, won)) == [0, 0, 0, 1] and [pid] in won
        for led in ledgers:
            led.close()
        with Ledger(db_url) as led:
            assert led.proposal(pid)["state"] == "executing"
    finally:
        server.stop()


def test_server_binds_to_loopback_by_default(seeded, tmp_path):
    server = LiveServer(seeded.url, tmp_path)
    try:
        assert f"Uvicorn running on http://127.0.0.1:{server.port}" in server.log.read_text()
    finally:
        server.stop()
