"""Issue 18: calldata decodes back to the planned trade, approvals are exact, selectors are the
published ones, min-out honours the slippage bound against the oracle, the Transaction Builder
checksum is the app's own, and bad input is a clear error."""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction

import pytest
from eth_abi import decode
from hypothesis import given
from hypothesis import strategies as st

from ballast.errors import InputError
from ballast.onchain import encoding
from ballast.onchain.batch import (
    SwapSettings,
    Trade,
    _serialize,
    checksum,
    safe_transaction,
    trade_calls,
    tx_builder_file,
)
from ballast.onchain.oracle import min_out, to_units
from ballast.onchain.registry import chain, load_registry

SAFE = "0x5aFE3855358E112B5647B952709E6165e1c1eEEe"
MAINNET = chain("mainnet")
TRADES = [
    Trade("WETH", "buy", 2.5, "USDC", 3000.0, 1.0002, "bl-x-1-0"),
    Trade("WBTC", "sell", 0.4, "USDC", 60000.0, 1.0002, "bl-x-1-1"),
]


def test_selectors_are_the_published_ones() -> None:
    """keccak256 of the signatures against the 4-byte selectors in the contracts' published ABIs."""
    known = {
        encoding.APPROVE: "095ea7b3",
        encoding.EXACT_INPUT_SINGLE: "04e45aaf",
        encoding.EXACT_INPUT: "b858183f",
        encoding.MULTI_SEND: "8d80ff0a",
        "balanceOf(address)": "70a08231",
        "latestRoundData()": "feaf968c",
        "decimals()": "313ce567",
    }
    for sig, sel in known.items():
        assert encoding.selector(sig).hex() == sel, sig


def test_every_call_decodes_back_to_the_planned_trade() -> None:
    swaps = SwapSettings(max_slippage=0.01)
    calls = trade_calls(MAINNET, SAFE, TRADES, swaps)
    router = MAINNET.contract("swap_router02")
    assert [c.note["kind"] for c in calls] == ["approve", "swap", "approve", "swap"]
    assert [c.note["side"] for c in calls[::2]] == ["sell", "buy"]  # sells first: they raise the quote
    for appr, swap in zip(calls[::2], calls[1::2], strict=True):
        assert appr.data[:4] == encoding.selector(encoding.APPROVE) and swap.data[:4] == bytes.fromhex("04e45aaf")
        spender, amount = decode(["address", "uint256"], appr.data[4:])
        assert spender.lower() == router.lower() and appr.to == MAINNET.token(appr.note["token_in"]).address
        ((t_in, t_out, fee, recipient, amount_in, least, limit),) = decode(
            ["(address,address,uint24,address,uint256,uint256,uint160)"], swap.data[4:]
        )
        assert amount == amount_in  # exact approval: what the swap takes, never unlimited
        assert recipient.lower() == SAFE.lower() and fee == 3000 and limit == 0
        src, dst = MAINNET.token(appr.note["token_in"]), MAINNET.token(appr.note["token_out"])
        assert (t_in.lower(), t_out.lower()) == (src.address.lower(), dst.address.lower())
        p_in, p_out = (Fraction(repr(appr.note[k])) for k in ("oracle_price_in", "oracle_price_out"))
        bound = Fraction(amount_in, 10**src.decimals) * p_in / p_out * Fraction(99, 100) * 10**dst.decimals
        assert least <= bound < least + 1
    wbtc_in = decode(["uint256"], calls[0].data[36:68])[0]
    assert wbtc_in == 40_000_000  # 0.4 WBTC in 8 decimals
    usdc_in = decode(["uint256"], calls[2].data[36:68])[0]
    assert usdc_in == to_units(2.5 * 3000.0 / 1.0002, 6)


def test_exact_input_path_encodes_each_hop() -> None:
    swaps = SwapSettings(paths={"WBTC>USDC": ["WBTC", 3000, "WETH", 500, "USDC"]})
    swap = trade_calls(MAINNET, SAFE, TRADES[1:], swaps)[1]
    assert swap.data[:4].hex() == "b858183f"
    ((path, recipient, amount_in, least),) = decode(["(bytes,address,uint256,uint256)"], swap.data[4:])
    tok = [MAINNET.token(s).address.lower()[2:] for s in ("WBTC", "WETH", "USDC")]
    assert path.hex() == tok[0] + "000bb8" + tok[1] + "0001f4" + tok[2]
    assert recipient.lower() == SAFE.lower() and amount_in == 40_000_000 and least > 0


@given(
    st.integers(1, 10**30),
    st.integers(0, 18),
    st.integers(0, 18),
    st.floats(1e-6, 1e6),
    st.floats(1e-6, 1e6),
    st.floats(0, 0.2),
)
def test_min_out_is_the_slippage_bound_rounded_down(
    amount: int, d_in: int, d_out: int, p_in: float, p_out: float, slip: float
) -> None:
    least = min_out(amount, d_in, p_in, d_out, p_out, slip)
    exact = (
        Fraction(amount, 10**d_in)
        * Fraction(repr(p_in))
        / Fraction(repr(p_out))
        * (1 - Fraction(repr(slip)))
        * 10**d_out
    )
    assert least <= exact < least + 1


def test_checksum_is_the_transaction_builders() -> None:
    """The app's checksum.ts run by node on the same file (its serializer, verbatim in behaviour);
    the keccak of the serialized string is compared here."""
    calls = trade_calls(MAINNET, SAFE, TRADES, SwapSettings())
    batch = tx_builder_file(MAINNET, SAFE, calls, "réb — «batch»", 'a\nb "quoted"', 1733212800000)
    renamed = {**batch, "meta": {**batch["meta"], "name": "another name"}}
    assert checksum(renamed) == batch["meta"]["checksum"]  # the name is not part of it
    assert checksum({**batch, "createdAt": 1}) != batch["meta"]["checksum"]
    node = shutil.which("node")
    if node is None:  # the serializer is also pinned by test_serializer_matches_a_pinned_string
        return
    js = """
const stringifyReplacer = (_, value) => (value === undefined ? null : value)
const ser = json => {
  if (Array.isArray(json)) return `[${json.map(el => ser(el)).join(',')}]`
  if (typeof json === 'object' && json !== null) {
    let acc = ''; const keys = Object.keys(json).sort()
    acc += `{${JSON.stringify(keys, stringifyReplacer)}`
    for (let i = 0; i < keys.length; i++) acc += `${ser(json[keys[i]])},`
    return `${acc}}`
  }
  return `${JSON.stringify(json, stringifyReplacer)}`
}
const b = JSON.parse(require('fs').readFileSync(0, 'utf8')); delete b.meta.checksum
process.stdout.write(ser({...b, meta: {...b.meta, name: null}}))
"""
    out = subprocess.run([node, "-e", js], input=json.dumps(batch), capture_output=True, text=True, check=True).stdout
    meta = {k: v for k, v in batch["meta"].items() if k != "checksum"}
    assert out == _serialize({**batch, "meta": {**meta, "name": None}})


def test_serializer_matches_a_pinned_string() -> None:
    assert _serialize({"b": [1, "x"], "a": {"z": None, "y": True}}) == '{["a","b"]{["y","z"]true,null,},[1,"x"],}'


def test_safe_transaction_hash_is_the_eip712_hash() -> None:
    """safeTxHash recomputed from the EIP-712 definition of Safe v1.4.1, independently of safe-eth-py."""
    from eth_abi import encode
    from eth_utils import keccak

    calls = trade_calls(MAINNET, SAFE, TRADES, SwapSettings())
    tx = safe_transaction(MAINNET, SAFE, calls, nonce=7)
    domain = keccak(
        encode(
            ["bytes32", "uint256", "address"],
            [keccak(text="EIP712Domain(uint256 chainId,address verifyingContract)"), 1, SAFE],
        )
    )
    type_hash = keccak(
        text="SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,"
        "uint256 baseGas,uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)"
    )
    data = bytes.fromhex(tx["data"][2:])
    struct = keccak(
        encode(
            [
                "bytes32",
                "address",
                "uint256",
                "bytes32",
                "uint8",
                "uint256",
                "uint256",
                "uint256",
                "address",
                "address",
                "uint256",
            ],
            [type_hash, tx["to"], 0, keccak(data), 1, 0, 0, 0, tx["gasToken"], tx["refundReceiver"], 7],
        )
    )
    assert tx["safeTxHash"] == "0x" + keccak(b"\x19\x01" + domain + struct).hex()
    assert tx["to"] == "0x9641d764fc13c8B624c04430C7356C1C7C8102e2" and tx["operation"] == 1
    (packed,) = decode(["bytes"], data[4:])
    assert len(packed) == sum(1 + 20 + 32 + 32 + len(c.data) for c in calls)


def test_registry_addresses_are_checksummed_and_chains_distinct() -> None:
    reg = load_registry()
    assert {c.chain_id for c in reg.values()} == {1, 42161, 8453, 100}
    assert reg["mainnet"].token("USDC").decimals == 6 and reg["base"].token("cbBTC").decimals == 8


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: chain("optimism"), "unknown chain 'optimism'"),
        (lambda: MAINNET.token("PEPE"), "no token 'PEPE' on mainnet"),
        (lambda: chain("gnosis").contract("swap_router02"), "no swap_router02 contract on gnosis"),
        (
            lambda: trade_calls(MAINNET, SAFE, [Trade("WETH", "buy", 1.0, "_cash", 3000.0, 1.0)], SwapSettings()),
            "settles in _cash",
        ),
        (
            lambda: chain(
                "mainnet",
                {
                    "tokens": {
                        "mainnet": {"X": {"address": "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2", "decimals": 18}}
                    }
                },
            ),
            "fails its EIP-55 checksum",
        ),
        (
            lambda: chain("mainnet", {"tokens": {"mainnet": {"X": {"address": SAFE, "decimals": "18"}}}}),
            "decimals must be",
        ),
        (lambda: chain("mainnet", {"routers": {}}), "unknown key(s) routers"),
        (lambda: SwapSettings.from_table({"fee": 250}), "fee tier"),
    ],
)
def test_bad_input_is_a_clear_error(call, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_the_walkthrough_shows_the_files_the_code_writes() -> None:
    """docs/onchain.md's example batch and Safe transaction are exactly what the builder writes
    for the example treasury's first proposal (buy 0.5 WBTC and 10 WETH with USDC)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    blocks = re.findall(r"```json\n(.*?)```", (root / "docs" / "onchain.md").read_text(), re.S)
    trades = [
        Trade("WBTC", "buy", 0.5, "USDC", 60000.0, 1.0, "bl-treasury-1-0"),
        Trade("WETH", "buy", 10.0, "USDC", 3000.0, 1.0, "bl-treasury-1-1"),
    ]
    calls = trade_calls(MAINNET, SAFE, trades, SwapSettings(max_slippage=0.005))
    batch = tx_builder_file(
        MAINNET,
        SAFE,
        calls,
        "ballast proposals 1",
        "ballast safe-treasury proposals 1: 2 trade(s), exact approvals, amountOutMinimum from "
        "oracle prices with max slippage 0.50%",
        1764748800000,
    )
    assert json.loads(blocks[0]) == batch and json.loads(blocks[1]) == safe_transaction(MAINNET, SAFE, calls, 42)
    assert checksum(json.loads(blocks[0])) == batch["meta"]["checksum"]


def test_the_example_treasury_loads_and_needs_its_rpc_url(tmp_path, monkeypatch) -> None:
    from pathlib import Path

    from ballast.live.service import RunSettings, open_service

    monkeypatch.delenv("BALLAST_RPC_URL", raising=False)
    example = Path(__file__).resolve().parents[1] / "examples" / "safe-treasury.toml"
    with pytest.raises(InputError, match=r"\$BALLAST_RPC_URL, which is not set"):
        open_service(str(example), RunSettings(db=f"sqlite:///{tmp_path / 'x.db'}"))
    assert not (tmp_path / "x.db").exists()
