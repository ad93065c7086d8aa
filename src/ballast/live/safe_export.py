"""``ballast proposals export --format safe``: approved proposals → a Safe Transaction Builder file.

Everything is checked before anything is written or marked: the chain, the Safe's address
checksum, every token in the registry, every amount. Only then is the file written and exactly
the proposals it holds marked ``exported`` (a proposal approved meanwhile waits for the next export).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from ballast.errors import InputError
from ballast.live.hedge import is_perp
from ballast.live.ledger import Ledger
from ballast.onchain.batch import SwapSettings, Trade, checked_safe, safe_transaction, trade_calls, tx_builder_file
from ballast.onchain.registry import chain as registry_chain


def onchain_table(path: Path | None) -> dict[str, Any]:
    """The ``[onchain]`` table of a TOML file (e.g. the strategy file), or nothing."""
    if path is None:
        return {}
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f).get("onchain", {})
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: [onchain] must be a table")
    return raw


def proposal_trades(led: Ledger, proposal: dict[str, Any]) -> list[Trade]:
    """A proposal's planned orders with the prices of its observation (the oracle's, with web3)."""
    d = led.decision(proposal["decision_id"]) or {"orders": []}
    return [
        Trade(
            o["asset"],
            o["side"],
            o["quantity"],
            o["quote_asset"],
            o["ref_price"],
            o["quote_price"],
            o["client_order_id"],
        )
        for o in d["orders"]
        if o["status"] == "planned"
    ]


def build(
    led: Ledger,
    proposals: list[dict[str, Any]],
    chain_name: str,
    safe: str,
    table: dict[str, Any],
    source: str,
    nonce: int | None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    ch = registry_chain(chain_name, table, source)
    safe = checked_safe(safe)
    swaps = SwapSettings.from_table(table, source)
    every = [t for p in proposals for t in proposal_trades(led, p)]
    trades = [t for t in every if not is_perp(t.asset)]  # a perp is not a token: no Safe batch carries it
    if not trades:
        raise InputError("no approved proposal with planned trades to export" + by_hand(every))
    calls = trade_calls(ch, safe, trades, swaps)
    ids = ", ".join(str(p["id"]) for p in proposals)
    st = led.state()
    created = max(_ms(p.get("decided_at") or p.get("created_at")) for p in proposals)
    desc = (
        f"ballast {st.get('strategy') or ''} proposals {ids}: {len(trades)} trade(s), exact approvals, "
        f"amountOutMinimum from oracle prices with max slippage {swaps.max_slippage:.2%}"
    ) + by_hand(every)
    batch = tx_builder_file(ch, safe, calls, f"ballast proposals {ids}", desc, created)
    return batch, (None if nonce is None else safe_transaction(ch, safe, calls, nonce))


def by_hand(trades: list[Trade]) -> str:
    """The note on the perp re-hedges left out of a batch: to be made at a derivatives venue by hand
    and recorded with ``ballast proposals settle``."""
    perps = [t for t in trades if is_perp(t.asset)]
    if not perps:
        return ""
    done = ", ".join(f"{t.side} {t.quantity:.8g} {t.asset}" for t in perps)
    return (
        f"; not in the batch (a perpetual future is not a token): {done} — trade it at a derivatives venue by "
        "hand, then record every fill with `ballast proposals settle ID --fill SYMBOL=UNITS@PRICE`"
    )


def _ms(iso: Any) -> int:
    from datetime import UTC, datetime

    t = datetime.fromisoformat(str(iso)) if iso else datetime.now(UTC)
    return int((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp() * 1000)


def export_safe(
    led: Ledger,
    out: Path,
    chain_name: str,
    safe: str,
    config: Path | None = None,
    nonce: int | None = None,
    preview: bool = False,
) -> tuple[int, Path | None]:
    """Write the batch to ``out`` (and, with ``nonce``, the MultiSend Safe transaction next to it
    as ``*.safe-tx.json``); mark its proposals exported unless ``preview``. Returns (proposals, safe-tx path)."""
    table = onchain_table(config)
    pending = led.export_approved(mark=False)["proposals"]
    batch, safe_tx = build(led, pending, chain_name, safe, table, f"{config or ''}[onchain]", nonce)
    out.write_text(json.dumps(batch, indent=2) + "\n", encoding="utf-8")
    tx_path = None
    if safe_tx is not None:
        tx_path = out.with_suffix(".safe-tx.json")
        tx_path.write_text(json.dumps(safe_tx, indent=2) + "\n", encoding="utf-8")
    if not preview:
        led.export_approved(mark=True, ids=[p["id"] for p in pending])
    return len(pending), tx_path
