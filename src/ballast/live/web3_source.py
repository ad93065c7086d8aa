"""Prices and balances read from a chain: the ``web3`` source of ``ballast run``.

Prices come from Chainlink-style aggregators (``latestRoundData``: the answer with the feed's
``decimals``, and ``updatedAt`` as the price time, so a feed that stopped updating trips the
``stale_price`` guard); the quote asset (``[portfolio] cash``) is priced 1. Balances are the
Safe's ERC-20 ``balanceOf``, compared with the ledger on start (a difference is a
``holdings_mismatch`` alert, never an edit of the ledger). The RPC URL comes only from an
environment variable. web3.py is imported here, lazily, and nowhere in the pure domain.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime
from typing import Any

from ballast.errors import InputError
from ballast.live.sources import Observation, Source, SourceUnavailable, quoted_observation
from ballast.onchain.oracle import from_answer
from ballast.onchain.registry import Chain, checked_address, needs_onchain

AGGREGATOR_ABI = [
    {
        "name": "decimals",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "uint8"}],
    },
    {
        "name": "latestRoundData",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [
            {"name": "roundId", "type": "uint80"},
            {"name": "answer", "type": "int256"},
            {"name": "startedAt", "type": "uint256"},
            {"name": "updatedAt", "type": "uint256"},
            {"name": "answeredInRound", "type": "uint80"},
        ],
    },
]
ERC20_ABI = [
    {
        "name": "balanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    }
]


def web3_from_env(env: str) -> Any:
    """A Web3 client on the URL in ``$env``; a missing variable is a configuration error."""
    url = os.environ.get(env, "").strip()
    if not url:
        raise InputError(
            f"the web3 source reads the RPC URL from ${env}, which is not set "
            "(the URL is never read from the strategy file)"
        )
    try:
        from web3 import Web3
    except ImportError:
        raise needs_onchain() from None
    if not url.startswith(("http://", "https://")):
        raise InputError(f"${env}: expected an http(s):// RPC URL")
    return Web3(Web3.HTTPProvider(url))


class Web3Source(Source):
    """Oracle prices for ``assets`` (the quote asset at 1) and the Safe's token balances."""

    def __init__(
        self,
        w3: Any,
        chain: Chain,
        safe: str,
        oracles: dict[str, tuple[str, int]],
        assets: list[str],
        quote: str | None,
    ) -> None:
        self.w3, self.chain, self.assets, self.quote = w3, chain, assets, quote
        self.safe = checked_address(safe, "[live.web3] safe")
        missing = [a for a in assets if a != quote and a not in oracles]
        if missing:
            raise InputError(
                f"[live.web3] oracles: no feed for {', '.join(missing)} "
                f"(every asset but the cash asset {quote!r} needs one)"
            )
        self.feeds = {
            a: (
                w3.eth.contract(address=checked_address(addr, f"[live.web3] oracles.{a}.address"), abi=AGGREGATOR_ABI),
                dec,
            )
            for a, (addr, dec) in oracles.items()
        }
        self.name = f"web3 {chain.name}"

    def check(self) -> None:
        """At start: every feed answers and has the decimals the file declares (a feed with other
        decimals would misprice by powers of ten), every asset is a registry token."""
        for a in self.assets:
            self.chain.token(a)
        for a, (feed, declared) in self.feeds.items():
            try:
                actual = int(feed.functions.decimals().call())
            except Exception as exc:
                raise InputError(
                    f"[live.web3] oracles.{a}: {feed.address} does not answer decimals(): "
                    f"{type(exc).__name__}: {str(exc)[:200]}"
                ) from None
            if actual != declared:
                raise InputError(
                    f"[live.web3] oracles.{a}: the feed {feed.address} has {actual} decimals, "
                    f"the file declares {declared}"
                )

    def next(self, after: datetime | None) -> Observation | None:
        return quoted_observation(self.assets, self.quote, self._read)

    def _read(self, asset: str, now: datetime) -> tuple[float, datetime]:
        feed, dec = self.feeds[asset]
        try:
            _, answer, _, updated, _ = feed.functions.latestRoundData().call()
        except Exception as exc:  # a node down or a timeout: skip this cycle (SourceUnavailable)
            raise SourceUnavailable(f"{self.name}: {asset} feed: {type(exc).__name__}: {str(exc)[:200]}") from None
        price = from_answer(int(answer), dec) if answer > 0 else math.nan  # the guards judge it
        return price, datetime.fromtimestamp(int(updated), UTC).replace(tzinfo=None)

    def balances(self, assets: list[str]) -> dict[str, float]:
        """The Safe's units of each token (``balanceOf`` / 10^decimals)."""
        out = {}
        for a in assets:
            t = self.chain.token(a)
            erc20 = self.w3.eth.contract(address=t.address, abi=ERC20_ABI)
            out[a] = int(erc20.functions.balanceOf(self.safe).call()) / 10**t.decimals
        return out


def make_web3_source(
    section: Any, onchain: dict[str, Any] | None, assets: list[str], quote: str | None, path: Any, w3: Any = None
) -> Web3Source:
    """The web3 source from ``[live.web3]`` (+ the file's ``[onchain]`` registry additions), checked."""
    from ballast.onchain.registry import chain

    if section is None:
        raise InputError(f"{path}: [live.web3]: the web3 source needs chain, safe and oracles")
    ch = chain(section.chain, onchain, f"{path}: [onchain]")
    client = w3 if w3 is not None else web3_from_env(section.rpc_url_env)
    src = Web3Source(
        client, ch, section.safe, {a: (o.address, o.decimals) for a, o in section.oracles.items()}, assets, quote
    )
    src.check()
    return src
