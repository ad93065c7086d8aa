"""``ballast proposals list|export|settle``: the proposals the propose executor wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ballast.cli.errors import user_mistakes
from ballast.cli.ledger_db import DB_HELP, open_ledger
from ballast.cli.output import console
from ballast.errors import InputError

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="List and export proposals (the propose executor).")

STATES = "pending|approved|exported|executing|executed|settled|expired|rejected|failed"


@app.command("list")
@user_mistakes
def proposals_list(
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    state: Annotated[str | None, typer.Option(help=STATES)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Proposals, newest first."""
    with open_ledger(db) as led:
        items = led.proposals(state)
    if as_json:
        print(json.dumps(items, default=str))
        return
    from rich.table import Table
    from rich.text import Text

    t = Table("id", "decision", "state", "trades", "notional", "reason", title="proposals", title_justify="left")
    for p in items:
        payload = p["payload"]
        t.add_row(
            str(p["id"]),
            str(p["decision_id"]),
            p["state"],
            str(len(payload.get("trades", []))),
            f"{payload.get('notional', 0):,.2f}",
            Text(str(payload.get("reason", ""))),
        )
    console.print(t)


@app.command("export")
@user_mistakes
def proposals_export(
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    out: Annotated[Path | None, typer.Option(help="Write the batch here instead of stdout.")] = None,
    preview: Annotated[bool, typer.Option("--preview", help="Show the batch without marking it exported.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="json (trades) | safe (Safe Transaction Builder).")] = "json",
    chain: Annotated[str | None, typer.Option(help="safe: mainnet | arbitrum | base | gnosis.")] = None,
    safe: Annotated[str | None, typer.Option(help="safe: the Safe's checksummed address (swap recipient).")] = None,
    config: Annotated[Path | None, typer.Option(help="safe: a TOML whose [onchain] extends the registry.")] = None,
    nonce: Annotated[int | None, typer.Option(help="safe: also write the MultiSend Safe tx with this nonce.")] = None,
    lp_token_id: Annotated[
        int | None, typer.Option(help="safe: token id of the Uniswap v3 position a liquidity reset withdraws.")
    ] = None,
) -> None:
    """Approved proposals as one JSON batch (e.g. for a multisig transaction builder); they become
    exported, so no later export repeats them — record their execution with `proposals settle`.
    ``--format safe`` writes the Safe Transaction Builder's file (docs/onchain.md)."""
    if fmt not in ("json", "safe"):
        raise InputError(f"--format: expected json or safe, got {fmt!r}")
    if fmt == "safe":
        if out is None or chain is None or safe is None:
            raise InputError("--format safe needs --out FILE, --chain and --safe")
        from ballast.live.safe_export import export_safe

        with open_ledger(db) as led:
            n, tx_path = export_safe(led, out, chain, safe, config, nonce, preview, lp_token_id)
        also = f" and the Safe transaction to {tx_path}" if tx_path else ""
        console.print(f"wrote {n} approved proposal(s) to {out}{also}")
        return
    with open_ledger(db) as led:
        batch = led.export_approved(mark=not preview)
    text = json.dumps(batch, indent=2, default=str)
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        console.print(f"wrote {len(batch['proposals'])} approved proposal(s) to {out}")


@app.command("settle")
@user_mistakes
def proposals_settle(
    proposal_id: Annotated[int, typer.Argument(help="An approved or exported proposal.")],
    fill: Annotated[
        list[str] | None, typer.Option(help="ASSET=QUANTITY@PRICE executed, e.g. BTC=0.5@60000 (repeat).")
    ] = None,
    fills: Annotated[Path | None, typer.Option(help="JSON list or CSV of fills: asset, quantity, price, fee.")] = None,
    fee: Annotated[float, typer.Option(help="Total fee in currency, shared over the --fill trades by value.")] = 0.0,
    by: Annotated[str | None, typer.Option(help="Recorded with the settlement.")] = None,
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
) -> None:
    """Record what was executed for a proposal outside ballast (then = "none"); trades without a
    fill are booked as not executed. Until settled, no new proposal overlaps it."""
    from ballast.live.proposals import read_fills, settle_proposal, spread_fee

    if (fill is None) == (fills is None):
        raise InputError("give the fills either as --fill ASSET=QUANTITY@PRICE (repeated) or as --fills FILE")
    if fills is not None:
        if fee:
            raise InputError("--fee goes with --fill; a --fills file carries a fee column")
        booked = read_fills(fills)
    else:
        booked = spread_fee(fill or [], fee)
    with open_ledger(db) as led:
        out = settle_proposal(led, proposal_id, booked, by=by)
    console.print(f"proposal {proposal_id}: settled" + ("" if out.changed else " (already)"))
