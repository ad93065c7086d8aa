"""Calldata for the calls a treasury batch makes, with eth-abi: ERC-20 ``approve``, Uniswap v3
SwapRouter02 ``exactInputSingle`` / ``exactInput`` (SwapRouter02 has no deadline field, unlike
the first SwapRouter), and the Safe ``MultiSendCallOnly.multiSend`` wrapping (safe-eth-py's
packed encoding). Each call carries the Transaction Builder's description of its method."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ballast.onchain.registry import needs_onchain

APPROVE = "approve(address,uint256)"
EXACT_INPUT_SINGLE = "exactInputSingle((address,address,uint24,address,uint256,uint256,uint160))"
EXACT_INPUT = "exactInput((bytes,address,uint256,uint256))"
MULTI_SEND = "multiSend(bytes)"

_SINGLE_FIELDS = [
    ("tokenIn", "address"),
    ("tokenOut", "address"),
    ("fee", "uint24"),
    ("recipient", "address"),
    ("amountIn", "uint256"),
    ("amountOutMinimum", "uint256"),
    ("sqrtPriceLimitX96", "uint160"),
]
_PATH_FIELDS = [("path", "bytes"), ("recipient", "address"), ("amountIn", "uint256"), ("amountOutMinimum", "uint256")]


def _abi() -> tuple[Any, Any]:
    try:
        from eth_abi.abi import encode
        from eth_utils.abi import function_signature_to_4byte_selector
    except ImportError:
        raise needs_onchain() from None
    return encode, function_signature_to_4byte_selector


def selector(signature: str) -> bytes:
    """The 4-byte selector: the first bytes of keccak256 of the canonical signature."""
    return bytes(_abi()[1](signature))


def _args(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1 : -1]
    return [inner] if inner.startswith("(") else inner.split(",")


def calldata(signature: str, values: list[Any]) -> bytes:
    encode, sel = _abi()
    return bytes(sel(signature) + encode(_args(signature), values))


@dataclass(frozen=True)
class Call:
    """One call of a batch: target, calldata, and the Transaction Builder's view of it."""

    to: str
    data: bytes
    method: dict[str, Any]
    inputs: dict[str, str]
    value: int = 0
    note: dict[str, Any] = field(default_factory=dict)  # what it does, for people and tests


def _inp(name: str, typ: str, components: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"internalType": typ, "name": name, "type": typ}
    if components:
        out["internalType"] = "struct IV3SwapRouter." + (
            "ExactInputSingleParams" if len(components) == 7 else "ExactInputParams"
        )
        out["components"] = [_inp(n, t) for n, t in components]
    return out


def approve(token: str, spender: str, amount: int, note: dict[str, Any] | None = None) -> Call:
    return Call(
        token,
        calldata(APPROVE, [spender, amount]),
        {"inputs": [_inp("spender", "address"), _inp("amount", "uint256")], "name": "approve", "payable": False},
        {"spender": spender, "amount": str(amount)},
        note=note or {},
    )


def _tuple_text(values: list[Any]) -> str:
    """A tuple as the Transaction Builder's input field takes it: a JSON array of strings."""
    import json

    return json.dumps([v if isinstance(v, str) else str(v) for v in values], separators=(",", ":"))


def exact_input_single(
    router: str,
    token_in: str,
    token_out: str,
    fee: int,
    recipient: str,
    amount_in: int,
    min_out: int,
    note: dict[str, Any] | None = None,
) -> Call:
    values = [token_in, token_out, fee, recipient, amount_in, min_out, 0]
    return Call(
        router,
        calldata(EXACT_INPUT_SINGLE, [tuple(values)]),
        {"inputs": [_inp("params", "tuple", _SINGLE_FIELDS)], "name": "exactInputSingle", "payable": True},
        {"params": _tuple_text(values)},
        note=note or {},
    )


def encode_path(tokens: list[str], fees: list[int]) -> bytes:
    """Uniswap v3's packed path: token (20 bytes), fee (3 bytes), token, …"""
    if len(tokens) != len(fees) + 1 or len(tokens) < 2:
        raise ValueError("a path has one more token than fees, and at least two tokens")
    out = bytes.fromhex(tokens[0][2:])
    for fee, tok in zip(fees, tokens[1:], strict=True):
        out += fee.to_bytes(3, "big") + bytes.fromhex(tok[2:])
    return out


def exact_input(
    router: str, path: bytes, recipient: str, amount_in: int, min_out: int, note: dict[str, Any] | None = None
) -> Call:
    values = [path, recipient, amount_in, min_out]
    return Call(
        router,
        calldata(EXACT_INPUT, [tuple(values)]),
        {"inputs": [_inp("params", "tuple", _PATH_FIELDS)], "name": "exactInput", "payable": True},
        {"params": _tuple_text(["0x" + path.hex(), recipient, amount_in, min_out])},
        note=note or {},
    )


def multisend(multisend_address: str, calls: list[Call]) -> Call:
    """All calls as one ``multiSend(bytes)`` to MultiSendCallOnly, to be sent by the Safe as a
    DELEGATECALL (operation 1): atomic — one failing call reverts them all."""
    try:
        from eth_utils.address import to_checksum_address
        from safe_eth.safe.multi_send import MultiSendOperation, MultiSendTx
    except ImportError:
        raise needs_onchain() from None
    packed = b"".join(
        MultiSendTx(MultiSendOperation.CALL, to_checksum_address(c.to), c.value, c.data).encoded_data for c in calls
    )
    return Call(
        multisend_address,
        calldata(MULTI_SEND, [packed]),
        {"inputs": [_inp("transactions", "bytes")], "name": "multiSend", "payable": True},
        {"transactions": "0x" + packed.hex()},
        note={"kind": "multisend", "calls": len(calls)},
    )
