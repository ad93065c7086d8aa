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
        receipt = self.w3.eth.wait_for_transaction_receipt(c.constructor(*args).transact({"from": self.w3.eth.accounts[0]}))
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

    w3 = Web3(EthereumTesterProvider())
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
