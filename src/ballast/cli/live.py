"""The live service's commands: ``run``, ``status``, ``approve``, ``reject``, ``pause``, ``resume``
and ``serve`` (the API and dashboard over the ledger)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ballast.cli.errors import user_mistakes
from ballast.cli.ledger_db import DB_HELP, open_ledger
from ballast.cli.output import console, err, fail
from ballast.live.location import DB_ENV, DEFAULT_LEDGER, ledger_location


@user_mistakes
def run(
    strategy_file: Annotated[Path, typer.Argument(help="Strategy TOML with a [live] section.")],
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    source: Annotated[str | None, typer.Option(help="replay|ccxt|json|web3 (default: [live] source).")] = None,
    executor: Annotated[str | None, typer.Option(help="paper|ccxt|propose (default: [live] executor).")] = None,
    speed: Annotated[str | None, typer.Option(help="Replay speed: cycles per second, or 'max'.")] = None,
    until_end: Annotated[bool, typer.Option("--until-end", help="Exit when the replayed file ends.")] = False,
    prices: Annotated[str | None, typer.Option(help="Replay this price file instead of [live.replay] file.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide and record, send nothing.")] = False,
    cycles: Annotated[int | None, typer.Option(help="Stop after this many cycles.")] = None,
    log_json: Annotated[bool, typer.Option("--log-json", help="Structured JSON logs on stderr.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No live status panel (logs only).")] = False,
) -> None:
    """Run a strategy live: observe, decide, execute or propose — every step in the ledger."""
    import signal

    from ballast.live.service import RunSettings, open_service, setup_logging

    setup_logging(log_json)
    # `kill` / `systemctl stop` is a clean exit too: the runner lease is released, not left to expire
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Without --db or $BALLAST_DB the file's [live] db decides (then the default ledger).
    settings = RunSettings(
        db=db or os.environ.get(DB_ENV),
        source=source,
        executor=executor,
        speed=speed,
        dry_run=dry_run,
        replay_file=prices,
    )
    svc = open_service(str(strategy_file), settings)
    if quiet or log_json or not console.is_terminal:
        svc.run(until_end=until_end, max_cycles=cycles)
        return
    import time

    from rich.live import Live

    from ballast.live.display import running_view

    last = [0.0]
    with Live(running_view(svc), console=console, refresh_per_second=8, redirect_stderr=True) as live:

        def show(s: Any) -> None:
            now = time.monotonic()
            if now - last[0] > 0.1:
                live.update(running_view(s))
                last[0] = now

        svc.start()
        svc.run(until_end=until_end, max_cycles=cycles, on_cycle=show)
        live.update(running_view(svc))


@user_mistakes
def status(
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object for scripts.")] = False,
    limit: Annotated[int, typer.Option(help="How many recent decisions to show.")] = 10,
) -> None:
    """Holdings vs target, drift, recent decisions, open orders, proposals and alerts."""
    with open_ledger(db) as led:
        st = led.status()
        if as_json:
            print(json.dumps(st, default=str))
            return
        from ballast.live.display import status_view

        view = status_view(
            st,
            led.recent_decisions(limit),
            led.open_orders(),
            led.alerts(open_only=True, limit=20),
            led.proposals("pending", limit=20),
        )
        console.print(view)


@user_mistakes
def approve(
    proposal_id: Annotated[int, typer.Argument(help="Proposal id (see `ballast proposals list`).")],
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    by: Annotated[str | None, typer.Option(help="Who approves (recorded).")] = None,
) -> None:
    """Approve a pending proposal; the running service executes it once (approving twice is harmless)."""
    with open_ledger(db) as led:
        out = led.approve_proposal(proposal_id, by=by)
    console.print(f"proposal {proposal_id}: {out.state}" + ("" if out.changed else " (already)"))


@user_mistakes
def reject(
    proposal_id: Annotated[int, typer.Argument(help="Proposal id.")],
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    by: Annotated[str | None, typer.Option(help="Who rejects (recorded).")] = None,
    note: Annotated[str | None, typer.Option(help="Why.")] = None,
) -> None:
    """Reject a pending proposal (its decision is cancelled)."""
    with open_ledger(db) as led:
        out = led.reject_proposal(proposal_id, by=by, note=note)
    console.print(f"proposal {proposal_id}: {out.state}" + ("" if out.changed else " (already)"))


@user_mistakes
def pause(
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    reason: Annotated[str | None, typer.Option(help="Recorded with the pause.")] = None,
) -> None:
    """Stop trading from the next cycle on (prices are still observed and recorded)."""
    with open_ledger(db) as led:
        out = led.pause(reason)
    console.print("paused" if out.changed else "already paused")


@user_mistakes
def resume(db: Annotated[str | None, typer.Option(help=DB_HELP)] = None) -> None:
    """Resume trading after `ballast pause`."""
    with open_ledger(db) as led:
        out = led.resume()
    console.print("resumed" if out.changed else "already running")


@user_mistakes
def serve(
    db: Annotated[
        str | None,
        typer.Option(
            help=f"The live ledger: a SQLite file or postgresql://... (default: ${DB_ENV} or {DEFAULT_LEDGER})."
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Bind address (default: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    token_file: Annotated[Path | None, typer.Option(help="File with the API token (else BALLAST_API_TOKEN).")] = None,
    allow_network_reads: Annotated[
        bool, typer.Option("--allow-network-reads", help="Answer reads from the local network too.")
    ] = False,
    strategy: Annotated[Path | None, typer.Option(help="Strategy TOML, to show its bands.")] = None,
    refresh: Annotated[float, typer.Option(min=1.0, help="Dashboard refresh interval, seconds.")] = 5.0,
) -> None:
    """The HTTP API and dashboard over the live ledger (needs the 'server' extra)."""
    try:
        from ballast.api.server import bind_warning, build
        from ballast.api.server import serve as run_server
    except ImportError as exc:
        fail(f"ballast serve needs the server extra: pip install 'ballast[server]' ({exc.name} missing)")
    api = build(ledger_location(db), token_file, allow_network_reads, strategy, refresh, bind=host)
    from ballast.api.security import TOKEN_ENV

    if api.state.access.token is None:
        err.print(f"[yellow]no API token ({TOKEN_ENV} or --token-file): the API is read-only[/]")
    warning = bind_warning(host, allow_network_reads)
    if warning:
        err.print(f"[yellow]{warning}[/]")
    console.print(f"dashboard: http://{host}:{port}/   API schema: http://{host}:{port}/openapi.json")
    run_server(api, host, port)
