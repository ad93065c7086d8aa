"""The API refuses a mutation without the token BEFORE reading its body, caps request bodies with a
clear 413, and sends CSP, X-Frame-Options and nosniff headers with every response."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_support import TOKEN, seed_ledger
from fastapi.testclient import TestClient

from ballast.api.app import create_app
from ballast.api.security import MAX_BODY, Access
from ballast.live.ledger import Ledger

MB = 1024 * 1024


@pytest.fixture
def ledger(tmp_path) -> Iterator[Ledger]:
    seeded = seed_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with Ledger(seeded.url) as led:
        yield led


def client(ledger: Ledger, token: str | None = TOKEN) -> TestClient:
    return TestClient(create_app(ledger, Access(token=token)), client=("127.0.0.1", 50000),
                      base_url="http://127.0.0.1")


class Stream:
    """A request body of ``total`` bytes produced lazily, counting how much the server pulled."""

    def __init__(self, total: int, chunk: int = MB) -> None:
        self.total, self.chunk, self.consumed = total, chunk, 0

    def __iter__(self) -> Iterator[bytes]:
        while self.consumed < self.total:
            self.consumed += self.chunk
            yield b"x" * self.chunk


@pytest.mark.parametrize("token", [TOKEN, None])
@pytest.mark.parametrize("auth", [None, "Bearer wrong-token-wrong-token"])
def test_a_large_post_without_the_token_is_refused_unread(ledger, token, auth) -> None:
    body = Stream(64 * MB)
    headers = {"Content-Type": "application/json", **({"Authorization": auth} if auth else {})}
    r = client(ledger, token).post("/pause", content=body, headers=headers)
    assert r.status_code in (401, 403)
    assert body.consumed == 0, f"the server read {body.consumed} bytes of an unauthenticated body"
    assert not ledger.is_paused()


def test_a_body_over_the_cap_is_a_clear_413(ledger) -> None:
    c = client(ledger)
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    big = b'{"reason": "' + b"x" * (MAX_BODY + 10) + b'"}'
    r = c.post("/pause", content=big, headers=auth)  # with Content-Length: refused before reading
    assert r.status_code == 413 and "at most" in r.json()["detail"]
    # chunked, no Content-Length: cut off once past the cap (the test client itself buffers the
    # whole body before the app runs, so only the answer is checked here)
    r = c.post("/pause", content=Stream(MB, chunk=4096), headers=auth)
    assert r.status_code == 413 and "at most" in r.json()["detail"]
    assert not ledger.is_paused()
    ok = c.post("/pause", json={"reason": "maintenance"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ledger.is_paused()


@pytest.mark.parametrize("path", ["/", "/status", "/assets/dashboard.js", "/openapi.json", "/nope"])
def test_security_headers_on_every_response(ledger, path) -> None:
    r = client(ledger).get(path)
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_refusals_carry_the_headers_too(ledger) -> None:
    r = client(ledger).post("/pause")
    assert r.status_code == 401 and r.headers["x-frame-options"] == "DENY"
