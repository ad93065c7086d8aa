"""Run the API with uvicorn: 127.0.0.1 by default; opening it wider is an explicit choice."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ballast.api.security import Access, allowed_hosts, is_loopback_host, load_token
from ballast.errors import InputError

if TYPE_CHECKING:
    from fastapi import FastAPI


def build(
    db: str,
    token_file: Path | None = None,
    network_reads: bool = False,
    strategy_file: Path | None = None,
    refresh_seconds: float = 5.0,
    bind: str = "127.0.0.1",
) -> "FastAPI":
    """The app for ``ballast serve``: an existing ledger, the token, the optional strategy (bands)."""
    from ballast.api.app import create_app
    from ballast.live.ledger import Ledger, normalise_url

    url = normalise_url(db)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///")).expanduser()
        if not path.is_file():
            raise InputError(
                f"no ledger at {path}: start the live service first (ballast run ...) "
                "or pass --db with the ledger's URL"
            )
    strategy = None
    if strategy_file is not None:
        from ballast.config import load_strategy

        strategy = load_strategy(strategy_file)
    access = Access(token=load_token(token_file), network_reads=network_reads, hosts=allowed_hosts(bind, network_reads))
    return create_app(Ledger(url), access, strategy, refresh_seconds)


def serve(app: "FastAPI", host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


def bind_warning(host: str, network_reads: bool) -> str | None:
    """What to tell the operator when the bind address is wider than this machine."""
    if is_loopback_host(host):
        return None
    if not network_reads:
        return (
            f"listening on {host}, but reads answer this machine only; add --allow-network-reads "
            "to open them to the local network"
        )
    return f"listening on {host}: reads are open to the local network; mutations still need the token"
