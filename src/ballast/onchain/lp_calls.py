"""A concentrated-liquidity reset as Safe calls to Uniswap v3's NonfungiblePositionManager.

In order: ``decreaseLiquidity`` of all the position's liquidity, ``collect`` of everything owed
(the withdrawn tokens and the fees) to the Safe, the swap of the surplus (the caller's calls:
`batch.trade_calls`, oracle minimum output), exact ``approve``s of the deposit, and ``mint`` of a
new position on the new range. Signatures are those of v3-periphery's
INonfungiblePositionManager (DecreaseLiquidityParams, CollectParams, MintParams).

The pool orders its tokens by address, so token0 on chain may be the pair's second token: its
price is then the inverse. Ticks are of the pool's raw price (decimals included) and snapped
outward to the fee tier's spacing (`positions/uniswap_v3.py`), so the range minted contains the
range planned. The withdrawal's minimums are the tokens it holds at the oracle prices less
``max_slippage``; the mint deposits the planned tokens less ``max_slippage`` (so a swap that
delivered within its bound can still pay it; the rest stays in the Safe), at least that less
``max_slippage`` again. Amounts are rounded down to the token's unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ballast.errors import InputError
from ballast.onchain.encoding import Call, approve, calldata
from ballast.onchain.registry import Chain, Token
from ballast.positions import uniswap_v3 as v3

DECREASE = "decreaseLiquidity((uint256,uint128,uint256,uint256,uint256))"
COLLECT = "collect((uint256,address,uint128,uint128))"
MINT = "mint((address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,uint256))"
UINT128_MAX = 2**128 - 1

_FIELDS = {
    "decreaseLiquidity": ("DecreaseLiquidityParams", [("tokenId", "uint256"), ("liquidity", "uint128"),
        ("amount0Min", "uint256"), ("amount1Min", "uint256"), ("deadline", "uint256")]),
    "collect": ("CollectParams", [("tokenId", "uint256"), ("recipient", "address"), ("amount0Max", "uint128"),
        ("amount1Max", "uint128")]),
    "mint": ("MintParams", [("token0", "address"), ("token1", "address"), ("fee", "uint24"), ("tickLower", "int24"),
        ("tickUpper", "int24"), ("amount0Desired", "uint256"), ("amount1Desired", "uint256"),
        ("amount0Min", "uint256"), ("amount1Min", "uint256"), ("recipient", "address"), ("deadline", "uint256")]),
}  # fmt: skip


@dataclass(frozen=True)
class RangeReset:
    """A reset in whole tokens of the pair (price = token1 per token0, as `positions/` has it):
    the liquidity withdrawn and the tokens it holds at the oracle prices, the new range and the
    tokens deposited on it; ``prices``: the oracle prices of token0 and token1 (currency)."""

    pair: tuple[str, str]
    fee_tier: int
    liquidity: float
    withdrawn: tuple[float, float]
    lower: float
    upper: float
    deposit: tuple[float, float]
    prices: tuple[float, float]


def _call(to: str, name: str, values: list[Any], note: dict[str, Any]) -> Call:
    struct, fields = _FIELDS[name]
    signature = {"decreaseLiquidity": DECREASE, "collect": COLLECT, "mint": MINT}[name]
    inputs = [{"internalType": t, "name": n, "type": t} for n, t in fields]
    param = {"internalType": f"struct INonfungiblePositionManager.{struct}", "name": "params", "type": "tuple",
             "components": inputs}  # fmt: skip
    return Call(
        to,
        calldata(signature, [tuple(values)]),
        {"inputs": [param], "name": name, "payable": True},
        {n: str(v) for (n, _), v in zip(fields, values, strict=True)},
        note={**note, "kind": name},
    )


def chain_ticks(
    lower: float, upper: float, tokens: tuple[Token, Token], flipped: bool, fee_tier: int
) -> tuple[int, int]:
    """The pool's (tickLower, tickUpper) around [lower, upper] (token1 per token0 of the pair):
    in raw units of the pool's own token order, widened outward to the tier's tick spacing."""
    d0, d1 = tokens[0].decimals, tokens[1].decimals
    if flipped:  # the pool's token0 is the pair's token1: its price is 1/P
        lo, hi = 10.0 ** (d0 - d1) / upper, 10.0 ** (d0 - d1) / lower
    else:
        lo, hi = lower * 10.0 ** (d1 - d0), upper * 10.0 ** (d1 - d0)
    spacing = v3.tick_spacing(fee_tier)
    tick_lo = v3.snap_down(v3.tick_at_price(lo), spacing)
    top = v3.tick_at_price(hi)  # the greatest tick at or below hi: one more unless it is hi itself
    tick_hi = v3.snap_up(top if v3.price_at_tick(top) >= hi else top + 1, spacing)
    least, most = v3.usable_ticks(spacing)
    if not (least <= tick_lo < tick_hi <= most):
        raise InputError(f"liquidity reset: range {lower:g}–{upper:g} is outside the pool's valid ticks")
    return tick_lo, tick_hi


def raw_liquidity(liquidity: float, decimals: int) -> int:
    """The pool's liquidity of ``liquidity`` in whole tokens: L·10^((dec0 + dec1)/2) (x and y scale
    by their decimals, L by the square root of both), rounded down: never more than is held."""
    scaled = math.floor(Fraction(repr(float(liquidity))) * 10 ** (decimals // 2))
    return int(math.floor(scaled * math.sqrt(10))) if decimals % 2 else int(scaled)


def _least(amount: float, decimals: int, slippage: float) -> int:
    """``amount`` tokens less ``slippage``, in the token's units, rounded down (0 for nothing)."""
    if amount <= 0.0:
        return 0
    return int(math.floor(Fraction(repr(float(amount))) * (1 - Fraction(repr(float(slippage)))) * 10**decimals))


def reset_calls(
    chain: Chain,
    safe: str,
    reset: RangeReset,
    token_id: int,
    swap: list[Call],
    max_slippage: float,
    deadline: int,
) -> list[Call]:
    """decreaseLiquidity + collect (of position ``token_id``), ``swap``, approvals and mint."""
    if isinstance(token_id, bool) or not isinstance(token_id, int) or token_id <= 0:
        raise InputError(
            f"--lp-token-id: the position manager's token id of the position (a positive integer); got {token_id!r}"
        )
    npm = chain.contract("nonfungible_position_manager")
    tokens = (chain.token(reset.pair[0]), chain.token(reset.pair[1]))
    flipped = int(tokens[0].address, 16) > int(tokens[1].address, 16)
    order = (1, 0) if flipped else (0, 1)  # the pool's token0, token1 as indices of the pair
    raw_l = raw_liquidity(reset.liquidity, tokens[0].decimals + tokens[1].decimals)
    note = {"pair": "/".join(reset.pair), "token_id": token_id, "max_slippage": max_slippage}
    out_min = [_least(reset.withdrawn[i], tokens[i].decimals, max_slippage) for i in order]
    calls = [
        _call(npm, "decreaseLiquidity", [token_id, raw_l, *out_min, deadline], {**note, "liquidity": reset.liquidity}),
        _call(npm, "collect", [token_id, safe, UINT128_MAX, UINT128_MAX], note),
        *swap,
    ]
    # less the slippage: a swap that delivers within its bound still pays the whole deposit
    desired = [_least(reset.deposit[i], tokens[i].decimals, max_slippage) for i in order]
    for i, amount in zip(order, desired, strict=True):
        if amount > 0:
            calls.append(
                approve(tokens[i].address, npm, amount, {**note, "kind": "approve", "token": tokens[i].symbol})
            )
    tick_lo, tick_hi = chain_ticks(reset.lower, reset.upper, tokens, flipped, reset.fee_tier)
    mint_min = [int(math.floor(Fraction(a) * (1 - Fraction(repr(float(max_slippage)))))) for a in desired]
    values = [tokens[order[0]].address, tokens[order[1]].address, reset.fee_tier, tick_lo, tick_hi, *desired,
              *mint_min, safe, deadline]  # fmt: skip
    calls.append(_call(npm, "mint", values, {**note, "lower": reset.lower, "upper": reset.upper}))
    return calls
