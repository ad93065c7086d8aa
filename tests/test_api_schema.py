"""Property-based tests of the API against its own published OpenAPI schema (schemathesis):
no 500s, responses match the schema, for reads and token-bearing mutations alike."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from api_support import TOKEN, seed_ledger
from ballast.api.app import create_app
from ballast.api.security import Access
from ballast.live.ledger import Ledger

# Operation labels from the published schema itself (building it needs no database).
OPERATIONS = [
    f"{method.upper()} {path}"
    for path, item in create_app(None, Access()).openapi()["paths"].items()
    for method in item
]


def from_loopback(app):
    """The in-process client has no IP address and a made-up host name; present it as a browser on
    this machine would be (client 127.0.0.1, Host 127.0.0.1)."""

    async def wrapped(scope, receive, send):
        if scope["type"] == "http":
            headers = [(k, v) for k, v in scope["headers"] if k != b"host"] + [(b"host", b"127.0.0.1:8000")]
            scope = {**scope, "client": ("127.0.0.1", 50000), "headers": headers}
        await app(scope, receive, send)

    return wrapped


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    url = seed_ledger(f"sqlite:///{tmp_path_factory.mktemp('schema') / 'ledger.db'}").url
    ledger = Ledger(url)
    yield schemathesis.openapi.from_asgi("/openapi.json", from_loopback(create_app(ledger, Access(token=TOKEN))))
    ledger.close()


def test_every_route_is_published():
    assert set(OPERATIONS) == {
        "GET /status",
        "GET /holdings",
        "GET /targets",
        "GET /decisions",
        "GET /proposals",
        "GET /equity",
        "GET /drift",
        "GET /alerts",
        "GET /loans",
        "GET /loans/health",
        "GET /loans/events",
        "POST /pause",
        "POST /resume",
        "POST /proposals/{proposal_id}/approve",
        "POST /proposals/{proposal_id}/reject",
    }


@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_conforms_to_the_schema(api_schema, label):
    operation = api_schema.find_operation_by_label(label)

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def with_token(case):
        case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})

    @given(case=operation.as_strategy())
    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def any_or_no_token(case):  # schemathesis invents bearer values too: never the right one
        response = case.call()
        assert response.status_code < 500
        if case.method == "POST":
            assert response.status_code in (401, 403, 422)

    with_token()
    any_or_no_token()
