"""Approved trades → Safe Transaction Builder batch.

Each trade becomes two calls from the Safe: an ERC-20 ``approve`` of exactly the amount the swap
takes (never unlimited: a router bug or a compromised router can take no more), and a SwapRouter02
``exactInputSingle`` (or ``exactInput`` along a configured path) whose recipient is the Safe and whose
``amountOutMinimum`` comes from the oracle prices of the plan (see `oracle`). Sells come before buys,
so the quote asset they raise pays for the buys. The file is the Transaction Builder's import
format with its checksum; optionally the calls are also wrapped into one MultiSendCallOnly
DELEGATECALL with its Safe transaction hash (what the owners sign).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ballast.errors import InputError
from ballast.onchain.encoding import Call, approve, encode_path, exact_input, exact_input_single, multisend
from ballast.onchain.oracle import min_out, to_units
from ballast.onchain.registry import Chain, checked_address, needs_onchain

TX_BUILDER_VERSION = "1.18.0"
SAFE_VERSION = "1.4.1"
ZERO = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True)
class Trade:
    """One planned trade, in units and oracle prices (both legs in the portfolio's currency)."""

    asset: str
    side: str  # buy | sell
    quantity: float
    quote_asset: str
    price: float
    quote_price: float
    ref: str = ""  # the client order id it came from


@dataclass(frozen=True)
class SwapSettings:
    """``[onchain]`` swap settings: slippage bound, default pool fee, and multi-hop paths
    (``paths = { "WBTC>USDC" = ["WBTC", 3000, "WETH", 500, "USDC"] }``)."""

    max_slippage: float = 0.005
    fee: int = 3000
    fees: dict[str, int] = field(default_factory=dict)  # "IN>OUT" → pool fee
    paths: dict[str, list[Any]] = field(default_factory=dict)

    @classmethod
    def from_table(cls, raw: dict[str, Any], source: str = "[onchain]") -> SwapSettings:
        s = cls(**{k: raw[k] for k in ("max_slippage", "fee", "fees", "paths") if k in raw})
        if not 0 <= s.max_slippage < 0.5:
            raise InputError(f"{source} max_slippage: expected a fraction in [0, 0.5), got {s.max_slippage!r}")
        for k, f in {"fee": s.fee, **{f"fees.{p}": v for p, v in s.fees.items()}}.items():
            if f not in (100, 500, 3000, 10000):
                raise InputError(f"{source} {k}: a Uniswap v3 fee tier is 100, 500, 3000 or 10000; got {f!r}")
        return s


def trade_calls(chain: Chain, safe: str, trades: list[Trade], swaps: SwapSettings) -> list[Call]:
    """Approve + swap per trade, sells first; amounts from the registry's decimals."""
    router = chain.contract("swap_router02")
    ordered = [t for t in trades if t.side == "sell"] + [t for t in trades if t.side == "buy"]
    calls = []
    for t in ordered:
        if t.quote_asset.startswith("_"):
            raise InputError(
                f"trade {t.ref or t.asset}: settles in {t.quote_asset}, not a token; on-chain "
                "export needs [portfolio] cash = a token (e.g. USDC) and exact accounting"
            )
        base, quote = chain.token(t.asset), chain.token(t.quote_asset)
        src, dst = (base, quote) if t.side == "sell" else (quote, base)
        p_src, p_dst = (t.price, t.quote_price) if t.side == "sell" else (t.quote_price, t.price)
        qty_src = t.quantity if t.side == "sell" else t.quantity * t.price / t.quote_price
        amount_in = to_units(qty_src, src.decimals, f"trade {t.ref or t.asset} quantity")
        if amount_in <= 0:
            raise InputError(f"trade {t.ref or t.asset}: {qty_src!r} {src.symbol} is below one unit of the token")
        least = min_out(amount_in, src.decimals, p_src, dst.decimals, p_dst, swaps.max_slippage)
        note = {
            "trade": t.ref,
            "asset": t.asset,
            "side": t.side,
            "token_in": src.symbol,
            "token_out": dst.symbol,
            "amount_in": amount_in,
            "amount_out_minimum": least,
            "oracle_price_in": p_src,
            "oracle_price_out": p_dst,
            "max_slippage": swaps.max_slippage,
        }
        calls.append(approve(src.address, router, amount_in, {**note, "kind": "approve"}))
        key = f"{src.symbol}>{dst.symbol}"
        if key in swaps.paths:
            hops = swaps.paths[key]
            tokens = [chain.token(s).address for s in hops[0::2]]
            path = encode_path(tokens, [int(f) for f in hops[1::2]])
            calls.append(exact_input(router, path, safe, amount_in, least, {**note, "kind": "swap", "path": hops}))
        else:
            fee = swaps.fees.get(key, swaps.fee)
            calls.append(
                exact_input_single(
                    router, src.address, dst.address, fee, safe, amount_in, least, {**note, "kind": "swap", "fee": fee}
                )
            )
    return calls


# ---------------------------------------------------------------- the Transaction Builder file
def _serialize(value: Any) -> str:
    """The Transaction Builder's own serialization for its checksum (apps/tx-builder
    src/lib/checksum.ts): objects as their sorted key list followed by each value and a comma,
    arrays and scalars as JSON.stringify writes them (undefined → null)."""
    if isinstance(value, list):
        return "[" + ",".join(_serialize(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value)
        return "{" + _js(keys) + "".join(_serialize(value[k]) + "," for k in keys) + "}"
    return _js(value)


def _js(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def checksum(batch: dict[str, Any]) -> str:
    """keccak256 of the serialized batch with ``meta.name`` set to null and no checksum, as the
    Transaction Builder computes it on import (so renaming a batch keeps it valid)."""
    try:
        from eth_utils.crypto import keccak
    except ImportError:
        raise needs_onchain() from None
    meta = {k: v for k, v in batch["meta"].items() if k != "checksum"}
    return "0x" + keccak(text=_serialize({**batch, "meta": {**meta, "name": None}})).hex()


def _transaction(c: Call) -> dict[str, Any]:
    tx: dict[str, Any] = {"to": c.to, "value": str(c.value), "data": "0x" + c.data.hex()}
    if c.method["name"] == "approve":  # simple inputs: the builder re-encodes them to the same bytes
        tx["contractMethod"] = c.method
        tx["contractInputsValues"] = c.inputs
    return tx


def tx_builder_file(
    chain: Chain, safe: str, calls: list[Call], name: str, description: str, created_at_ms: int
) -> dict[str, Any]:
    """The JSON the Safe Transaction Builder imports, checksum included."""
    meta: dict[str, Any] = {
        "name": name,
        "description": description,
        "txBuilderVersion": TX_BUILDER_VERSION,
        "createdFromSafeAddress": safe,
        "createdFromOwnerAddress": "",
    }
    batch = {
        "version": "1.0",
        "chainId": str(chain.chain_id),
        "createdAt": created_at_ms,
        "meta": meta,
        "transactions": [_transaction(c) for c in calls],
    }
    meta["checksum"] = checksum(batch)
    return batch


def safe_transaction(chain: Chain, safe: str, calls: list[Call], nonce: int) -> dict[str, Any]:
    """All calls as one Safe transaction: a DELEGATECALL to MultiSendCallOnly, with the EIP-712
    ``safeTxHash`` the owners sign (safe-eth-py's SafeTx, Safe v1.4.1 domain with the chain id)."""
    try:
        from eth_utils.address import to_checksum_address as cs
        from safe_eth.safe.safe_tx import SafeTx
    except ImportError:
        raise needs_onchain() from None
    if isinstance(nonce, bool) or not isinstance(nonce, int) or nonce < 0:
        raise InputError(f"--nonce: the Safe's next nonce, a non-negative integer; got {nonce!r}")
    wrapped = multisend(chain.contract("multisend_call_only"), calls)
    no_client: Any = None  # the hash needs no node: nonce, version and chain id are given
    tx = SafeTx(
        no_client,
        cs(safe),
        cs(wrapped.to),
        0,
        wrapped.data,
        1,
        0,
        0,
        0,
        cs(ZERO),
        cs(ZERO),
        safe_nonce=nonce,
        safe_version=SAFE_VERSION,
        chain_id=chain.chain_id,
    )
    return {
        "safe": safe,
        "chainId": chain.chain_id,
        "to": wrapped.to,
        "value": "0",
        "data": "0x" + wrapped.data.hex(),
        "operation": 1,
        "safeTxGas": 0,
        "baseGas": 0,
        "gasPrice": 0,
        "gasToken": ZERO,
        "refundReceiver": ZERO,
        "nonce": nonce,
        "safeTxHash": "0x" + bytes(tx.safe_tx_hash).hex(),
    }


def checked_safe(address: str) -> str:
    return checked_address(address, "--safe")
