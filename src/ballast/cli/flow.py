"""``ballast flow add``: a deposit or a withdrawal made by hand, booked in the ledger."""

from __future__ import annotations

from typing import Annotated

import typer

from ballast.cli.errors import user_mistakes
from ballast.cli.ledger_db import DB_HELP, open_ledger
from ballast.cli.output import console

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Record deposits and withdrawals made by hand.")


@app.command("add", context_settings={"ignore_unknown_options": True})  # AMOUNT may be negative
@user_mistakes
def flow_add(
    asset: Annotated[str, typer.Argument(help="The asset that arrived or left, e.g. USDC.")],
    amount: Annotated[str, typer.Argument(help="Units: positive a deposit, negative a withdrawal.")],
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    note: Annotated[str | None, typer.Option(help="Why (recorded with the entry).")] = None,
    at: Annotated[str | None, typer.Option(help="When it happened, UTC (default: now), e.g. 2024-03-01T12:00.")] = None,
) -> None:
    """Record an external flow in the ledger: holdings = start + fills + flows + accruals."""
    from ballast.live.treasury import add_flow, parse_flow_input

    units, when = parse_flow_input(amount, at)
    with open_ledger(db) as led:
        e = add_flow(led, asset, units, note, when)
    console.print(
        f"{e['kind']} of {abs(e['units']):,.8g} {asset} recorded (entry {e['id']}); {asset} now {e['holding']:,.8g}"
    )
