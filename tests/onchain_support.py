"""An in-process chain (eth-tester on py-evm, no network) with the contracts the on-chain tests
need: ERC-20 tokens, Chainlink-style aggregators and a SwapRouter02 stand-in with the same
``exactInputSingle`` / ``exactInput`` ABI (tests/onchain_contracts/*.vy, compiled with vyper
0.4.3; the bytecode is shipped so the tests need no compiler)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COMPILED = json.loads((Path(__file__).parent / "onchain_contracts" / "compiled.json").read_text())


@dataclass
class LocalChain:
    w3: Any
    safe: str  # an account standing in for the treasury's Safe (it sends the batch's calls)
    tokens: dict[str, Any] = field(default_factory=dict)
    feeds: dict[str, Any] = field(default_factory=dict)
    router: Any = None

    def deploy(self, name: str, *args: Any) -> Any:
        spec = COMPILED[name]
        c = self.w3.eth.contract(abi=spec["abi"], bytecode=spec["bytecode"])
        tx = c.constructor(*args).transact({"from": self.w3.eth.accounts[0]})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx)
        return self.w3.eth.contract(address=receipt.contractAddress, abi=spec["abi"])

    def send(self, fn: Any, sender: str | None = None) -> Any:
        return self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender or self.w3.eth.accounts[0]}))

    def balance(self, symbol: str, who: str | None = None) -> int:
        return self.tokens[symbol].functions.balanceOf(who or self.safe).call()

    def registry_toml(self) -> str:
        """[onchain] entries pointing the mainnet registry at the local contracts."""
        lines = ["[onchain.tokens.mainnet]"]
        for s, t in self.tokens.items():
            lines.append(f'{s} = {{ address = "{t.address}", decimals = {t.functions.decimals().call()} }}')
        lines += ["[onchain.contracts.mainnet]", f'swap_router02 = "{self.router.address}"']
        return "\n".join(lines) + "\n"


def local_chain(decimals: dict[str, int]) -> LocalChain:
    from web3 import EthereumTesterProvider, Web3

    provider = EthereumTesterProvider()
    provider.ethereum_tester.backend.chain.chain_id = 1  # mainnet's id: Safe hashes include it (EIP-712)
    provider.api_endpoints["eth"]["chainId"] = lambda *_: 1  # web3's tester endpoint returns a constant
    w3 = Web3(provider)
    assert w3.eth.chain_id == 1
    ch = LocalChain(w3, w3.eth.accounts[1])
    for s, d in decimals.items():
        ch.tokens[s] = ch.deploy("Token", d)
    ch.router = ch.deploy("SwapRouterStandIn")
    return ch


def add_feed(ch: LocalChain, asset: str, decimals: int, answer: int, updated_at: int) -> Any:
    feed = ch.deploy("Aggregator", decimals)
    ch.send(feed.functions.set(answer, updated_at))
    ch.feeds[asset] = feed
    return feed


def fund_router(ch: LocalChain, amount: int = 10**40) -> None:
    for t in ch.tokens.values():
        ch.send(t.functions.mint(ch.router.address, amount))


def deploy_safe(ch: LocalChain, owner: str) -> tuple[Any, str]:
    """A real Safe v1.4.1 (singleton + proxy, bytecode shipped by safe-eth-py) with one owner and
    threshold 1, and a MultiSendCallOnly v1.4.1. Returns (the Safe contract, MultiSend address)."""
    from safe_eth.eth.contracts import (
        get_multi_send_call_only_V1_4_1_contract,
        get_proxy_factory_V1_4_1_contract,
        get_safe_V1_4_1_contract,
    )
    from web3.logs import DISCARD

    w3, sender = ch.w3, {"from": ch.w3.eth.accounts[0]}

    def deploy(factory: Any) -> str:
        return w3.eth.wait_for_transaction_receipt(factory.constructor().transact(sender)).contractAddress

    singleton = deploy(get_safe_V1_4_1_contract(w3))
    factory = get_proxy_factory_V1_4_1_contract(w3, deploy(get_proxy_factory_V1_4_1_contract(w3)))
    multisend = deploy(get_multi_send_call_only_V1_4_1_contract(w3))
    zero = "0x" + "00" * 20
    setup = get_safe_V1_4_1_contract(w3, singleton).encode_abi("setup", [[owner], 1, zero, b"", zero, zero, 0, zero])
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.functions.createProxyWithNonce(singleton, setup, 0).transact(sender)
    )
    proxy = factory.events.ProxyCreation().process_receipt(receipt, errors=DISCARD)[0]["args"]["proxy"]
    return get_safe_V1_4_1_contract(w3, proxy), multisend


def serve_rpc(w3: Any) -> tuple[str, Any]:
    """The in-process chain behind a JSON-RPC endpoint on localhost, so a `ballast run` reads it
    through an RPC URL like a real node's. Returns (url, server); call ``server.shutdown()``."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from web3._utils.encoding import Web3JsonEncoder

    provider, sender = w3.provider, w3.eth.accounts[0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            params = req.get("params", [])
            if req["method"] in ("eth_call", "eth_estimateGas") and "from" not in params[0]:
                params[0]["from"] = sender  # eth-tester wants one; a node does not
            with lock:
                resp = provider.make_request(req["method"], params)
            body = json.dumps({"jsonrpc": "2.0", "id": req["id"], **dict(resp)}, cls=Web3JsonEncoder).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server
