"""A liquidity reset in propose mode (issue 16 item 6, the Safe path of issue 18), on SQLite and
PostgreSQL: the reset becomes a proposal and nothing of it is booked until the proposal is
executed; its Safe batch is NonfungiblePositionManager ``decreaseLiquidity`` + ``collect``, the
swap (oracle minimum output), exact approvals and ``mint`` on the new range — calldata that
decodes back to the planned arguments; settling the proposal books the reset once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from eth_abi import decode
from eth_utils import keccak
from sqlalchemy import select

from ballast.errors import InputError
from ballast.live.ledger import Ledger
from ballast.live.lp_ledger import reset_plan
from ballast.live.models import LedgerEntry, LiquidityMark
from ballast.live.proposals import SettleFill, settle_proposal
from ballast.live.safe_export import export_safe
from ballast.live.service import RunSettings, open_service
from ballast.onchain.lp_calls import RangeReset, chain_ticks, raw_liquidity, reset_calls
from ballast.onchain.registry import chain as registry_chain
from ballast.positions import uniswap_v3 as v3
from live_support import db_url  # noqa: F401  (fixture)
from test_live_lp import lp_strategy

WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
NPM = "0xC36442b4a4522E871399CD717aBDD847Ab11FE88"  # v3-periphery deploys.md, mainnet
SAFE = "0x00000000000000000000000000000000DeaDBeef"
PROPOSE = """
[live.propose]
then = "none"
valid_for = "60d"
"""
ONCHAIN = (
    PROPOSE
    + f"""
[onchain]
max_slippage = 0.01
[onchain.tokens.mainnet]
ETH = {{ address = "{WETH}", decimals = 18 }}
"""
)
# v3-periphery INonfungiblePositionManager's params structs, as tuples
TYPES = {
    "decreaseLiquidity": "(uint256,uint128,uint256,uint256,uint256)",
    "collect": "(uint256,address,uint128,uint128)",
    "mint": "(address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,uint256)",
}
SELECTORS = {"decreaseLiquidity": "0c49ccbe", "collect": "fc6f7865", "mint": "88316456"}  # 4byte.directory


def decoded(data: str) -> tuple[str, tuple]:
    """(function, arguments) of a position-manager call; selector checked."""
    name = next(n for n, sel in SELECTORS.items() if data[2:10] == sel)
    assert keccak(text=f"{name}({TYPES[name]})")[:4].hex() == SELECTORS[name]
    (args,) = decode([TYPES[name]], bytes.fromhex(data[10:]))
    return name, args


def step_until_reset_proposed(svc) -> dict:  # type: ignore[no-untyped-def]
    led: Ledger = svc.ledger
    svc.run(until_end=False, max_cycles=1)  # the formation: a proposal, settled as executed on chain
    (p,) = led.proposals("pending")
    led.approve_proposal(p["id"], by="signer")
    orders = led.decision(p["decision_id"])["orders"]  # type: ignore[index]
    settle_proposal(led, p["id"], [SettleFill(o["asset"], o["quantity"], o["ref_price"]) for o in orders])
    for _ in range(8):
        svc.run(until_end=False, max_cycles=1)
        pending = led.proposals("pending")
        if pending:
            (p,) = pending
            assert "liquidity: reset ETH/USDT" in p["payload"]["reason"]
            return p
    pytest.fail("no reset was proposed")


@pytest.mark.parametrize("share", [0.5, 0.95])
def test_a_reset_is_a_safe_batch_and_is_booked_only_when_executed(db_url: str, tmp_path: Path, share: float) -> None:  # noqa: F811
    """share 0.5: the wallet holds both tokens, the reset swaps nothing; 0.95: it swaps USDT for ETH."""
    path = lp_strategy(tmp_path, executor="propose")
    path.write_text(path.read_text().replace("share = 0.5", f"share = {share}") + ONCHAIN)
    svc = open_service(str(path), RunSettings(db=db_url, speed="max"))
    led: Ledger = svc.ledger
    p = step_until_reset_proposed(svc)
    before = led.status()["liquidity"]
    svc.run(until_end=False, max_cycles=1)  # a close while proposed: the pool moves the old range, nothing else
    with led.session() as s:
        marks = s.scalars(select(LiquidityMark).order_by(LiquidityMark.period)).all()
        assert not any(m.reset for m in marks) and len(marks) >= 3
        assert s.scalars(select(LedgerEntry).where(LedgerEntry.key.like("lp-reset:%"))).all() == []
        found = reset_plan(s, p["decision_id"])
        assert found is not None
        reset, swap_id = found
    assert (swap_id is None) == (share == 0.5)
    now = led.status()["liquidity"]
    assert now["resets"] == 0 and (now["lower"], now["upper"]) == (before["lower"], before["upper"])
    assert [q["state"] for q in led.proposals("pending")] == ["pending"]

    # the Safe batch
    led.approve_proposal(p["id"], by="signer")
    out = tmp_path / "batch.json"
    with pytest.raises(InputError, match="--lp-token-id: proposal .* resets the liquidity position ETH/USDT"):
        export_safe(led, out, "mainnet", SAFE, config=path)
    from typer.testing import CliRunner

    from ballast.cli import app as cli

    args = ["proposals", "export", "--format", "safe", "--chain", "mainnet", "--safe", SAFE, "--config", str(path)]
    args += ["--out", str(out), "--db", db_url, "--preview"]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2 and "--lp-token-id" in refused.output and not out.exists()
    assert CliRunner().invoke(cli, [*args, "--lp-token-id", "4242"]).exit_code == 0 and out.exists()
    t0 = int(time.time())
    assert export_safe(led, out, "mainnet", SAFE, config=path, lp_token_id=4242)[0] == 1
    txs = json.loads(out.read_text())["transactions"]
    npm = [decoded(tx["data"]) for tx in txs if tx["to"] == NPM]
    assert [n for n, _ in npm] == ["decreaseLiquidity", "collect", "mint"]
    (_, dec), (_, col), (_, mint) = npm
    assert txs[0]["to"] == NPM and txs[1]["to"] == NPM and txs[-1]["to"] == NPM  # withdraw first, mint last
    token_id, liquidity, min0, min1, deadline = dec
    assert token_id == 4242 and liquidity == raw_liquidity(reset.liquidity, 24)
    assert liquidity == pytest.approx(reset.liquidity * 1e12, rel=1e-15)  # L·10^((18 + 6)/2)
    assert min0 == pytest.approx(reset.withdrawn[0] * 0.99 * 1e18, rel=1e-12)
    assert min1 == pytest.approx(reset.withdrawn[1] * 0.99 * 1e6, rel=1e-9, abs=1)
    assert t0 + 86_400 <= deadline <= int(time.time()) + 86_400
    assert col == (4242, SAFE.lower(), 2**128 - 1, 2**128 - 1)
    token0, token1, fee, tick_lo, tick_hi, want0, want1, least0, least1, recipient, deadline2 = mint
    assert (token0, token1, fee, recipient, deadline2) == (WETH.lower(), USDT.lower(), 3000, SAFE.lower(), deadline)
    assert tick_lo % 60 == 0 and tick_hi % 60 == 0 and tick_lo < tick_hi
    raw_lo, raw_hi = reset.lower * 1e-12, reset.upper * 1e-12  # USDT per WETH in raw units
    assert v3.price_at_tick(tick_lo) <= raw_lo < v3.price_at_tick(tick_lo + 60)  # snapped outward, by < one spacing
    assert v3.price_at_tick(tick_hi - 60) < raw_hi <= v3.price_at_tick(tick_hi)
    assert want0 == pytest.approx(reset.deposit[0] * 0.99 * 1e18, rel=1e-15)  # the deposit less the slippage
    assert want1 == pytest.approx(reset.deposit[1] * 0.99 * 1e6, abs=1)
    assert least0 == pytest.approx(want0 * 0.99, rel=1e-12) and least1 == pytest.approx(want1 * 0.99, abs=1)
    approvals = [tx for tx in txs if tx.get("contractMethod", {}).get("name") == "approve"]
    to_npm = {
        tx["to"]: int(tx["contractInputsValues"]["amount"])
        for tx in approvals
        if tx["contractInputsValues"]["spender"] == NPM
    }
    assert to_npm == {k: v for k, v in {WETH: want0, USDT: want1}.items() if v > 0}
    router = "0x68b3465833fb72A70ecDF485E0e4C7bD8665Fc45"
    swaps = [k for k, tx in enumerate(txs) if tx["to"] == router and "contractMethod" not in tx]
    assert swaps == ([] if swap_id is None else [3])  # collect, approve the router, the swap, then the mint's
    if swap_id is not None:
        ((t_in, t_out, _, to, amount_in, least, _),) = decode(
            ["(address,address,uint24,address,uint256,uint256,uint160)"], bytes.fromhex(txs[3]["data"][10:])
        )
        order = next(o for o in led.decision(p["decision_id"])["orders"] if o["client_order_id"] == swap_id)  # type: ignore[index]
        assert (t_in, t_out, to, order["side"]) == (USDT.lower(), WETH.lower(), SAFE.lower(), "buy")
        assert amount_in == pytest.approx(order["quantity"] * order["ref_price"] * 1e6, abs=1)
        assert least == pytest.approx(order["quantity"] * 0.99 * 1e18, rel=1e-9)
    with led.session() as s:  # exported: still nothing booked
        assert not any(m.reset for m in s.scalars(select(LiquidityMark)))

    # executed on chain and settled: the reset is booked once, on the new range
    order = next((o for o in led.decision(p["decision_id"])["orders"] if o["client_order_id"] == swap_id), None)  # type: ignore[index]
    fills = [] if order is None else [SettleFill("ETH", order["quantity"], order["ref_price"], order["expected_cost"])]
    settle_proposal(led, p["id"], fills)
    settle_proposal(led, p["id"], fills)  # twice: harmless
    after = led.status()["liquidity"]
    assert after["resets"] == 1
    assert (after["lower"], after["upper"]) == pytest.approx((reset.lower, reset.upper), rel=1e-12)
    with led.session() as s:
        legs = s.scalars(select(LedgerEntry).where(LedgerEntry.key.like("lp-reset:%"))).all()
        assert sorted(e.asset for e in legs) == ["ETH", "USDT"]
        newest = s.scalars(select(LiquidityMark).order_by(LiquidityMark.period.desc())).first()
        assert (
            newest is not None
            and newest.reset
            and newest.state["liquidity"]
            == pytest.approx(
                reset.deposit[0] / v3.amounts(1.0, reset.prices[0] / reset.prices[1], reset.lower, reset.upper)[0],
                rel=1e-6,
            )
        )
    svc.run(until_end=True)  # the service goes on from the new range
    assert svc.ledger.status()["liquidity"]["resets"] >= 1
    svc.ledger.close()


def test_a_reset_in_a_pool_whose_token0_is_the_pairs_second() -> None:
    """USDC sorts before WETH: the pool's token0 is USDC, its price 1/P in raw units, the ticks
    the inverted range's, the amounts swapped into the pool's order."""
    ch = registry_chain("mainnet", {"tokens": {"mainnet": {"ETH": {"address": WETH, "decimals": 18}}}})
    reset = RangeReset(("ETH", "USDC"), 500, 2.0e6, (10.0, 30000.0), 1800.0, 2200.0, (20.0, 35000.0), (2000.0, 1.0))
    calls = reset_calls(ch, SAFE, reset, 7, [], 0.005, 2_000_000_000)
    names = [c.method["name"] for c in calls]
    assert names == ["decreaseLiquidity", "collect", "approve", "approve", "mint"]
    _, dec = decoded("0x" + calls[0].data.hex())
    assert dec[1] == raw_liquidity(2.0e6, 24) == 2 * 10**18
    assert (dec[2], dec[3]) == (int(30000 * 0.995 * 1e6), int(10 * 0.995 * 1e18))  # USDC first
    _, mint = decoded("0x" + calls[-1].data.hex())
    usdc = ch.token("USDC").address
    assert (mint[0], mint[1]) == (usdc.lower(), WETH.lower()) and mint[5:7] == (34825 * 10**6, 199 * 10**17)
    lo, hi = chain_ticks(1800.0, 2200.0, (ch.token("ETH"), ch.token("USDC")), True, 500)
    assert (mint[3], mint[4]) == (lo, hi) and lo % 10 == 0 and hi % 10 == 0
    assert v3.price_at_tick(lo) <= 1e12 / 2200.0 < v3.price_at_tick(lo + 10)  # WETH (raw) per USDC (raw)
    assert v3.price_at_tick(hi - 10) < 1e12 / 1800.0 <= v3.price_at_tick(hi)
    with pytest.raises(InputError, match="--lp-token-id"):
        reset_calls(ch, SAFE, reset, 0, [], 0.005, 2_000_000_000)


def test_a_rejected_reset_is_never_booked_and_is_proposed_again(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    path = lp_strategy(tmp_path, executor="propose")
    path.write_text(path.read_text() + ONCHAIN)
    svc = open_service(str(path), RunSettings(db=db_url, speed="max"))
    led: Ledger = svc.ledger
    p = step_until_reset_proposed(svc)
    led.reject_proposal(p["id"], by="signer")
    svc.run(until_end=False, max_cycles=1)  # still out of range: the rule fires again, a new proposal
    (again,) = led.proposals("pending")
    assert again["id"] != p["id"] and "liquidity: reset ETH/USDT" in again["payload"]["reason"]
    with led.session() as s:
        assert not any(m.reset for m in s.scalars(select(LiquidityMark)))
        assert s.scalars(select(LedgerEntry).where(LedgerEntry.key.like("lp-reset:%"))).all() == []
    assert led.status()["liquidity"]["resets"] == 0
    svc.ledger.close()


def test_the_reset_batch_executes_on_a_local_chain(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    """eth-tester: the Safe holds the ledger's wallet and the position it withdraws (minted on a
    position-manager stand-in with v3-periphery's ABI, tests/onchain_contracts/); the exported batch
    executes call by call from the Safe — withdraw, collect, swap (the pool 0.2 % worse than the
    oracle), exact approvals, mint — and, settled with the swap's fill, the ledger's wallet equals
    the Safe's tokens plus the new position's, less the reset's gas (paid by whoever executes)."""
    from onchain_support import fund_router, local_chain

    ch = local_chain({"WETH": 18, "USDT": 6})
    fund_router(ch)
    npm = ch.deploy("PositionManagerStandIn")
    weth, usdt = ch.tokens["WETH"], ch.tokens["USDT"]
    registry = f"""
[onchain]
max_slippage = 0.01
[onchain.tokens.mainnet]
ETH = {{ address = "{weth.address}", decimals = 18 }}
USDT = {{ address = "{usdt.address}", decimals = 6 }}
[onchain.contracts.mainnet]
swap_router02 = "{ch.router.address}"
nonfungible_position_manager = "{npm.address}"
"""
    path = lp_strategy(tmp_path, executor="propose")
    path.write_text(path.read_text().replace("share = 0.5", "share = 0.95") + PROPOSE + registry)
    svc = open_service(str(path), RunSettings(db=db_url, speed="max"))
    led: Ledger = svc.ledger
    p = step_until_reset_proposed(svc)
    led.approve_proposal(p["id"], by="signer")
    with led.session() as s:
        found = reset_plan(s, p["decision_id"])
    assert found is not None and found[1] is not None
    reset, _ = found
    token = {"ETH": (weth, 18), "USDT": (usdt, 6)}
    flipped = int(weth.address, 16) > int(usdt.address, 16)
    pool = ("USDT", "ETH") if flipped else ("ETH", "USDT")
    old = dict(zip(("ETH", "USDT"), reset.withdrawn, strict=True))
    held = led.holdings()
    for a, (t, d) in token.items():  # the Safe: the wallet's free tokens and the old position's
        ch.send(t.functions.mint(ch.safe, int(held[a] * 10**d)))
        ch.send(t.functions.approve(npm.address, int(old[a] * 10**d)), ch.safe)
    ch.send(npm.functions.set_next_liquidity(raw_liquidity(reset.liquidity, 24)))
    seed = [token[a][0].address for a in pool] + [3000, -60, 60] + [int(old[a] * 10 ** token[a][1]) for a in pool]
    ch.send(npm.functions.mint((*seed, 0, 0, ch.safe, 2**40)), ch.safe)
    p_eth = reset.prices[0]
    for src, dst, rate in (("USDT", "ETH", 1 / p_eth), ("ETH", "USDT", p_eth)):
        num = round(rate * 0.998 * 10**12) * 10 ** token[dst][1]
        ch.send(
            ch.router.functions.set_rate(
                token[src][0].address, token[dst][0].address, num, 10**12 * 10 ** token[src][1]
            )
        )
    ch.send(npm.functions.set_next_liquidity(777))

    out = tmp_path / "batch.json"
    export_safe(led, out, "mainnet", ch.safe, config=path, lp_token_id=1)
    txs = json.loads(out.read_text())["transactions"]
    receipts = [
        ch.w3.eth.wait_for_transaction_receipt(
            ch.w3.eth.send_transaction({"from": ch.safe, "to": tx["to"], "data": tx["data"], "value": 0})
        )
        for tx in txs
    ]
    assert all(r.status == 1 for r in receipts)
    before = npm.functions.positions(1).call()
    assert before[6] == before[7] == before[8] == before[9] == before[10] == 0  # withdrawn and collected
    new = npm.functions.positions(2).call()
    _, mint = decoded(txs[-1]["data"])
    assert new[0] == ch.safe and tuple(new[4:6]) == mint[3:5] and tuple(new[7:9]) == mint[5:7]
    for t, _ in token.values():  # exact approvals: nothing left to spend
        assert t.functions.allowance(ch.safe, npm.address).call() == 0
        assert t.functions.allowance(ch.safe, ch.router.address).call() == 0
    swapped = {a: ch.balance("WETH" if a == "ETH" else a) for a in token}
    chain_units = {a: (swapped[a] + new[7 + pool.index(a)]) / 10 ** token[a][1] for a in token}
    order = next(o for o in led.decision(p["decision_id"])["orders"] if o["side"] == "buy")  # type: ignore[index]
    eth_got = chain_units["ETH"] - held["ETH"]
    usdt_paid = held["USDT"] - chain_units["USDT"]
    assert eth_got == pytest.approx(order["quantity"] * 0.998, rel=1e-6)  # the pool's rate
    settle_proposal(led, p["id"], [SettleFill("ETH", eth_got, usdt_paid / eth_got)])
    after = led.holdings()
    assert after["ETH"] == pytest.approx(chain_units["ETH"], rel=1e-9)
    assert after["USDT"] == pytest.approx(chain_units["USDT"] - 20.0, rel=1e-9)  # reset_gas = 20, booked in USDT
    assert led.status()["liquidity"]["resets"] == 1
    svc.ledger.close()
