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
from ballast.onchain.encoding import Call
from ballast.onchain.lp_calls import reset_calls
from ballast.onchain.registry import Chain
from ballast.onchain.registry import chain as registry_chain

DEADLINE_SECONDS = 86_400  # a liquidity reset's calls revert if executed later than this after the export


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
    lp_token_id: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    ch = registry_chain(chain_name, table, source)
    safe = checked_safe(safe)
    swaps = SwapSettings.from_table(table, source)
    every = [t for p in proposals for t in proposal_trades(led, p)]
    trades = [t for t in every if not is_perp(t.asset)]  # a perp is not a token: no Safe batch carries it
    lp, trades = liquidity_calls(led, proposals, ch, safe, swaps, trades, lp_token_id)
    if not trades and not lp:
        raise InputError("no approved proposal with planned trades to export" + by_hand(every))
    calls = lp + (trade_calls(ch, safe, trades, swaps) if trades else [])
    ids = ", ".join(str(p["id"]) for p in proposals)
    st = led.state()
    created = max(_ms(p.get("decided_at") or p.get("created_at")) for p in proposals)
    desc = (
        f"ballast {st.get('strategy') or ''} proposals {ids}: {len(trades)} trade(s)"
        + (", a liquidity range reset" if lp else "")
        + f", exact approvals, amountOutMinimum from oracle prices with max slippage {swaps.max_slippage:.2%}"
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


def liquidity_calls(
    led: Ledger,
    proposals: list[dict[str, Any]],
    ch: Chain,
    safe: str,
    swaps: SwapSettings,
    trades: list[Trade],
    token_id: int | None,
) -> tuple[list[Call], list[Trade]]:
    """A proposed liquidity reset's calls (withdraw, collect, its swap, mint) — first, as the backtest
    resets before it rebalances — and the other trades. One reset per batch: the next one withdraws
    the position this one mints, whose token id is known only once it executed."""
    from ballast.live import lp_ledger

    with led.session() as s:
        resets = [(p["id"], r) for p in proposals if (r := lp_ledger.reset_plan(s, p["decision_id"])) is not None]
    if not resets:
        return [], trades
    if len(resets) > 1:
        raise InputError(
            f"proposals {', '.join(str(i) for i, _ in resets)} each reset the liquidity position: export them "
            "one at a time (--preview the others), each with the token id the previous one minted"
        )
    pid, (reset, swap_id) = resets[0]
    if token_id is None:
        raise InputError(
            f"--lp-token-id: proposal {pid} resets the liquidity position {'/'.join(reset.pair)}; give the "
            "NonfungiblePositionManager token id of the position the Safe holds now"
        )
    swap = [t for t in trades if t.ref == swap_id]
    rest = [t for t in trades if t.ref != swap_id]
    import time

    deadline = int(time.time()) + DEADLINE_SECONDS
    calls = reset_calls(ch, safe, reset, token_id, trade_calls(ch, safe, swap, swaps) if swap else [],
                        swaps.max_slippage, deadline)  # fmt: skip
    return calls, rest


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
    lp_token_id: int | None = None,
) -> tuple[int, Path | None]:
    """Write the batch to ``out`` (and, with ``nonce``, the MultiSend Safe transaction next to it
    as ``*.safe-tx.json``); mark its proposals exported unless ``preview``. Returns (proposals, safe-tx path)."""
    table = onchain_table(config)
    pending = led.export_approved(mark=False)["proposals"]
    batch, safe_tx = build(led, pending, chain_name, safe, table, f"{config or ''}[onchain]", nonce, lp_token_id)
    out.write_text(json.dumps(batch, indent=2) + "\n", encoding="utf-8")
    tx_path = None
    if safe_tx is not None:
        tx_path = out.with_suffix(".safe-tx.json")
        tx_path.write_text(json.dumps(safe_tx, indent=2) + "\n", encoding="utf-8")
    if not preview:
        led.export_approved(mark=True, ids=[p["id"] for p in pending])
    return len(pending), tx_path
