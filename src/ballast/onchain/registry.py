"""Which address and how many decimals a token has on a chain.

The registry ships as ``tokens.toml`` next to this module; a strategy file may add tokens or
contracts (``[onchain.tokens.CHAIN] SYMBOL = {address, decimals}``,
``[onchain.contracts.CHAIN] swap_router02 = "0x…"``). A token that is not listed is an error:
an address is never guessed from a symbol.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ballast.errors import InputError

DATA = Path(__file__).with_name("tokens.toml")
KEYS = {"tokens", "contracts", "max_slippage", "fee", "fees", "paths"}  # the [onchain] table


def needs_onchain() -> InputError:
    return InputError("on-chain features need the onchain extra: pip install 'ballast[onchain]'")


def checked_address(value: Any, where: str) -> str:
    """An EIP-55 checksummed address, or an error naming ``where``. A mixed-case address whose
    checksum fails is refused (a typo in one character would send funds elsewhere); an all-lower
    or all-upper address carries no checksum and is refused too, so every address is verified."""
    try:
        from eth_utils.address import is_checksum_address, is_hex_address, to_checksum_address
    except ImportError:
        raise needs_onchain() from None
    if not isinstance(value, str) or not is_hex_address(value):
        raise InputError(f"{where}: {value!r} is not an address (0x and 40 hex digits)")
    if not is_checksum_address(value):
        raise InputError(
            f"{where}: {value} fails its EIP-55 checksum (expected {to_checksum_address(value)} "
            "if the hex digits are right — check them against the source)"
        )
    return value


@dataclass(frozen=True)
class Token:
    symbol: str
    address: str
    decimals: int


@dataclass(frozen=True)
class Chain:
    name: str
    chain_id: int
    tokens: dict[str, Token]
    contracts: dict[str, str]

    def token(self, symbol: str) -> Token:
        t = self.tokens.get(symbol)
        if t is None:
            raise InputError(
                f"no token {symbol!r} on {self.name} in the registry (known: "
                f"{', '.join(sorted(self.tokens))}); add it under [onchain.tokens.{self.name}] "
                f'{symbol} = {{ address = "0x…", decimals = N }}'
            )
        return t

    def contract(self, name: str) -> str:
        a = self.contracts.get(name)
        if a is None:
            raise InputError(
                f"no {name} contract on {self.name} in the registry; "
                f'add it under [onchain.contracts.{self.name}] {name} = "0x…"'
            )
        return a


def _token(symbol: str, raw: Any, where: str) -> Token:
    if not isinstance(raw, dict) or set(raw) != {"address", "decimals"}:
        raise InputError(f'{where}: expected {{ address = "0x…", decimals = N }}, got {raw!r}')
    d = raw["decimals"]
    if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 36:
        raise InputError(f"{where}: decimals must be an integer 0–36, got {d!r}")
    return Token(symbol, checked_address(raw["address"], f"{where} address"), d)


def load_registry(extra: dict[str, Any] | None = None, source: str = "[onchain]") -> dict[str, Chain]:
    """The shipped registry, extended (entries added or replaced) by a strategy's ``[onchain]``."""
    with DATA.open("rb") as f:
        shipped = tomllib.load(f)["chains"]
    extra = extra or {}
    unknown = set(extra) - KEYS
    if unknown:
        raise InputError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(KEYS))}")
    for table in ("tokens", "contracts"):
        for chain in extra.get(table, {}):
            if chain not in shipped:
                raise InputError(f"{source}.{table}.{chain}: unknown chain; known: {', '.join(shipped)}")
    out = {}
    for name, raw in shipped.items():
        tokens = {**raw["tokens"], **extra.get("tokens", {}).get(name, {})}
        contracts = {**raw["contracts"], **extra.get("contracts", {}).get(name, {})}
        out[name] = Chain(
            name,
            int(raw["chain_id"]),
            {s: _token(s, t, f"{source}.tokens.{name}.{s}") for s, t in tokens.items()},
            {k: checked_address(v, f"{source}.contracts.{name}.{k}") for k, v in contracts.items()},
        )
    return out


def chain(name: str, extra: dict[str, Any] | None = None, source: str = "[onchain]") -> Chain:
    chains = load_registry(extra, source)
    if name not in chains:
        raise InputError(f"unknown chain {name!r}; known: {', '.join(chains)}")
    return chains[name]
