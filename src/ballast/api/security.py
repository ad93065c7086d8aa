"""Who may read and who may change: a bearer token for every mutation, loopback-only reads by default.

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
