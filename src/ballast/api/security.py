"""Who may read and who may change: a bearer token for every mutation, loopback-only reads by default.

`RequestGuard` applies all of it before the application sees a request: a mutation without the
right token is refused before its body is read, and no body may exceed `MAX_BODY`.

The token comes from ``BALLAST_API_TOKEN`` or a file (``--token-file`` / ``BALLAST_API_TOKEN_FILE``)
and is compared in constant time. Without a token the API is read-only: a mutation is refused,
never allowed. Reads (and the dashboard) answer loopback clients only, unless the operator opens
them to the *local* network (private addresses) explicitly — public addresses are always refused.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ballast.errors import InputError

TOKEN_ENV = "BALLAST_API_TOKEN"
TOKEN_FILE_ENV = "BALLAST_API_TOKEN_FILE"
MIN_TOKEN_LENGTH = 16
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Access:
    """The server's access policy."""

    token: str | None = None
    network_reads: bool = False  # also answer reads from private (local-network) addresses
    # Names the Host header may carry: a page on another site cannot reach this server through a
    # DNS name it re-points at 127.0.0.1 (DNS rebinding). None = any name (network reads opened).
    hosts: tuple[str, ...] | None = LOOPBACK_NAMES

    def __repr__(self) -> str:  # never print the token
        return f"Access(token={'set' if self.token else 'unset'}, network_reads={self.network_reads})"

    def token_ok(self, presented: str | None) -> bool:
        if not self.token or presented is None:
            return False
        return hmac.compare_digest(presented.encode("utf-8"), self.token.encode("utf-8"))

    def host_ok(self, host_header_name: str | None) -> bool:
        return self.hosts is None or (host_header_name or "").lower() in self.hosts

    def may_read(self, client_host: str | None) -> bool:
        try:
            ip = ipaddress.ip_address(client_host or "")
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 from a dual-stack socket is still this machine
        if ip.is_loopback:
            return True
        return self.network_reads and ip.is_private and not ip.is_global


def load_token(token_file: Path | None = None) -> str | None:
    """The API token from ``token_file``, else ``BALLAST_API_TOKEN_FILE``, else ``BALLAST_API_TOKEN``."""
    path = token_file or (Path(os.environ[TOKEN_FILE_ENV]) if os.environ.get(TOKEN_FILE_ENV) else None)
    if path is not None:
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(f"API token file {path}: cannot read it ({exc.strerror or exc})") from None
        source = f"token file {path}"
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            return None
        source = TOKEN_ENV
    if len(token) < MIN_TOKEN_LENGTH:
        raise InputError(f"{source}: the API token must be at least {MIN_TOKEN_LENGTH} characters "
                         "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return token


def allowed_hosts(bind: str, network_reads: bool) -> tuple[str, ...] | None:
    """Host-header names to accept for a server bound to ``bind``."""
    if network_reads:
        return None
    return LOOPBACK_NAMES if is_loopback_host(bind) or bind in ("0.0.0.0", "::") else (*LOOPBACK_NAMES, bind)


def is_loopback_host(host: str) -> bool:
    """Whether a bind address only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------- request guard (ASGI)
MAX_BODY = 16 * 1024  # bytes: every request body of this API is a few hundred bytes of JSON
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
SECURITY_HEADERS = [
    # scripts and styles come from this server only (plotly.js is served from the package); plotly
    # sets inline styles on its SVG, hence 'unsafe-inline' for styles (never for scripts)
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                 b"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
                                 b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def token_problem(access: Access, authorization: str | None) -> tuple[int, str] | None:
    """(status, message) refusing a mutation, or None when the bearer token is right."""
    if access.token is None:
        return 403, ("this server has no API token configured: mutations are disabled "
                     "(set BALLAST_API_TOKEN or --token-file)")
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return 401, "missing bearer token"
    if not access.token_ok(credentials.strip()):
        return 403, "wrong token"
    return None


class RequestGuard:
    """Outermost ASGI layer: Host and client checks, then — for a mutation — the bearer token and
    the body-size cap, all before a single byte of the body is read; security headers on every
    response. A refused request is answered here, so its body is never consumed."""

    def __init__(self, app: Any, access: Access, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.access = access
        self.max_body = max_body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        problem = self.refusal(scope)
        if problem is not None:
            status, detail, extra = problem
            await _json(send_secured, status, detail, extra)
            return
        seen = 0

        async def receive_capped() -> dict[str, Any]:
            """A chunked body (no Content-Length) is cut off as soon as it passes the cap."""
            from starlette.exceptions import HTTPException

            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise HTTPException(413, self.too_large())
            return message

        await self.app(scope, receive_capped, send_secured)

    def refusal(self, scope: dict[str, Any]) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        from starlette.datastructures import URL

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        name = URL(scope=scope).hostname
        if not self.access.host_ok(name):
            return 400, (f"unexpected Host {name!r}: open the dashboard as http://127.0.0.1:PORT/ "
                         "(or start with --allow-network-reads)"), []
        client = scope.get("client")
        if not self.access.may_read(client[0] if client else None):
            return 403, ("this server answers this machine only; start it with --allow-network-reads to open "
                         "it to the local network"), []
        if scope.get("method", "GET") not in UNSAFE_METHODS:
            return None
        bad = token_problem(self.access, headers.get("authorization"))
        if bad is not None:
            return bad[0], bad[1], [(b"www-authenticate", b"Bearer")] if bad[0] == 401 else []
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return 413, self.too_large(), []
        return None

    def too_large(self) -> str:
        return f"request body too large: this API accepts at most {self.max_body} bytes"


async def _json(send: Any, status: int, detail: str, extra: list[tuple[bytes, bytes]]) -> None:
    import json

    body = json.dumps({"detail": detail}).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})
