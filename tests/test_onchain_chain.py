"""Issue 18 end to end on a local chain (eth-tester / py-evm in process, no network): the live
replay in propose mode, approved, exports a Safe batch whose calls execute with the expected
balances; the swap's minimum output stops a worse price; the web3 source reads prices, ages and
balances from the chain, and its guards and checks fire."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest
from eth_abi import decode

from ballast.errors import InputError
from ballast.live.ledger import Ledger
from ballast.live.safe_export import export_safe
from ballast.live.service import RunSettings, open_service
from ballast.onchain.oracle import min_out
from live_support import db_url, fast_tmp  # noqa: F401
from onchain_support import add_feed, fund_router, local_chain

DECIMALS = {"WBTC": 8, "WETH": 18, "USDC": 6}
PRICES = {"WBTC": 60000.0, "WETH": 3000.0, "USDC": 1.0}

STRATEGY = """
name = "treasury"
[data]
prices = "{prices}"
[target]
kind = "fixed"
weights = {{ WBTC = 0.3, WETH = 0.3, USDC = 0.4 }}
[trigger]
rebalance = "daily"
[plan]
kind = "full"
[costs]
fee_bps = 0
[portfolio]
cash = "USDC"
capital = 100000
convention = "exact"
[live]
interval = "{interval}"
source = "{source}"
executor = "propose"
[live.holdings]
USDC = 100000
[live.propose]
then = "none"
{live_extra}
{registry}
[onchain]
max_slippage = 0.005
"""


def strategy(folder: Path, chain_toml: str, source: str = "replay", live_extra: str = "", interval: str = "1d") -> Path:
    idx = pd.date_range("2024-05-01", periods=3, freq="D")
    prices = folder / "p.csv"
    pd.DataFrame({"date": idx.strftime("%Y-%m-%d"), **{a: p for a, p in PRICES.items()}}).to_csv(prices, index=False)
    path = folder / "treasury.toml"
    path.write_text(
        STRATEGY.format(prices=prices, source=source, live_extra=live_extra, registry=chain_toml, interval=interval),
        encoding="utf-8",
    )
    return path


@pytest.fixture(autouse=True)
def _close_ledgers(monkeypatch: pytest.MonkeyPatch):
    """Every ledger a test opens is closed after it (PostgreSQL connections are not left open)."""
    opened: list[Ledger] = []
    init = Ledger.__init__

    def tracked(self, *a, **k) -> None:
        init(self, *a, **k)
        opened.append(self)

    monkeypatch.setattr(Ledger, "__init__", tracked)
    yield
    for led in opened:
        led.close()


@pytest.fixture()
def chain():
    ch = local_chain(DECIMALS)
    fund_router(ch)
    ch.send(ch.tokens["USDC"].functions.mint(ch.safe, 100_000 * 10**6))
    return ch


def set_rate(ch, src: str, dst: str, worse: float) -> None:
    """The stand-in pool's rate: the oracle ratio, ``worse`` below it (in raw units)."""
    num = round(PRICES[src] / PRICES[dst] * (1 - worse) * 10**12) * 10 ** DECIMALS[dst]
    ch.send(
        ch.router.functions.set_rate(ch.tokens[src].address, ch.tokens[dst].address, num, 10**12 * 10 ** DECIMALS[src])
    )


def propose_and_approve(folder: Path, db: str, ch) -> tuple[Path, Ledger]:
    path = strategy(folder, ch.registry_toml())
    svc = open_service(str(path), RunSettings(db=db, speed="max"))
    svc.run(max_cycles=1)
    led = svc.ledger
    (p,) = led.proposals("pending")
    led.approve_proposal(p["id"], by="signer")
    return path, led


def execute(ch, batch: dict) -> list:
    """Send the batch's calls from the Safe's account, in order, as the Safe would."""
    receipts = []
    for tx in batch["transactions"]:
        h = ch.w3.eth.send_transaction({"from": ch.safe, "to": tx["to"], "data": tx["data"], "value": int(tx["value"])})
        receipts.append(ch.w3.eth.wait_for_transaction_receipt(h))
    return receipts


def test_an_approved_proposal_exports_a_batch_that_executes_on_chain(db_url: str, fast_tmp: Path, chain) -> None:  # noqa: F811
    path, led = propose_and_approve(fast_tmp, db_url, chain)
    for a in ("WBTC", "WETH"):
        set_rate(chain, "USDC", a, worse=0.002)  # the pool is 0.2% worse than the oracle: within 0.5%
    out = fast_tmp / "batch.json"
    n, _ = export_safe(led, out, "mainnet", chain.safe, config=path)
    assert n == 1 and [p["state"] for p in led.proposals()] == ["exported"]
    batch = json.loads(out.read_text())
    assert batch["chainId"] == "1" and batch["meta"]["createdFromSafeAddress"] == chain.safe
    orders = {o["asset"]: o for o in led.decision(led.proposals()[0]["decision_id"])["orders"]}
    expected = {}
    for appr, swap in zip(batch["transactions"][::2], batch["transactions"][1::2], strict=True):
        _, amount = decode(["address", "uint256"], bytes.fromhex(appr["data"][10:]))
        ((t_in, t_out, _, recipient, amount_in, least, _),) = decode(
            ["(address,address,uint24,address,uint256,uint256,uint160)"], bytes.fromhex(swap["data"][10:])
        )
        asset = next(a for a, t in chain.tokens.items() if t.address.lower() == t_out.lower())
        o = orders[asset]
        assert amount == amount_in and recipient.lower() == chain.safe.lower() and o["side"] == "buy"
        assert amount_in == int(o["quantity"] * o["ref_price"] / o["quote_price"] * 10**6)
        assert least == min_out(amount_in, 6, o["quote_price"], DECIMALS[asset], o["ref_price"], 0.005)
        expected[asset] = (
            amount_in
            * round(PRICES["USDC"] / PRICES[asset] * 0.998 * 10**12)
            * 10 ** DECIMALS[asset]
            // (10**12 * 10**6)
        )
        expected["USDC"] = expected.get("USDC", 100_000 * 10**6) - amount_in
    assert set(expected) == {"WBTC", "WETH", "USDC"}
    assert all(r.status == 1 for r in execute(chain, batch))
    assert {a: chain.balance(a) for a in DECIMALS} == expected
    assert all(chain.tokens[a].functions.allowance(chain.safe, chain.router.address).call() == 0 for a in DECIMALS)
    held = led.holdings()  # the plan, in units: what the chain now holds, within the slippage bound
    for a in ("WBTC", "WETH"):
        assert chain.balance(a) / 10 ** DECIMALS[a] == pytest.approx(held.get(a, 0) + orders[a]["quantity"], rel=0.0025)


def test_a_pool_price_beyond_the_slippage_bound_reverts_the_swap(db_url: str, fast_tmp: Path, chain) -> None:  # noqa: F811
    path, led = propose_and_approve(fast_tmp, db_url, chain)
    set_rate(chain, "USDC", "WBTC", worse=0.01)  # a sandwiched pool: 1% worse than the oracle
    set_rate(chain, "USDC", "WETH", worse=0.0)
    out = fast_tmp / "batch.json"
    export_safe(led, out, "mainnet", chain.safe, config=path)
    batch = json.loads(out.read_text())
    swap_wbtc = next(
        i
        for i, tx in enumerate(batch["transactions"])
        if i % 2 and chain.tokens["WBTC"].address[2:].lower() in tx["data"].lower()
    )
    chain.w3.eth.send_transaction(
        {
            "from": chain.safe,
            "to": batch["transactions"][swap_wbtc - 1]["to"],
            "data": batch["transactions"][swap_wbtc - 1]["data"],
        }
    )
    with pytest.raises(Exception, match="Too little received"):
        chain.w3.eth.send_transaction(
            {
                "from": chain.safe,
                "to": batch["transactions"][swap_wbtc]["to"],
                "data": batch["transactions"][swap_wbtc]["data"],
            }
        )
    assert chain.balance("WBTC") == 0


def test_export_refuses_bad_input_and_writes_nothing(db_url: str, fast_tmp: Path, chain) -> None:  # noqa: F811
    path, led = propose_and_approve(fast_tmp, db_url, chain)
    out = fast_tmp / "batch.json"
    bad = chain.safe.lower() if chain.safe != chain.safe.lower() else chain.safe.upper()
    for args, message in [
        (("optimism", chain.safe, path), "unknown chain"),
        (("mainnet", bad[:-1] + ("0" if bad[-1] != "0" else "1"), path), "EIP-55"),
        (("base", chain.safe, None), "no token 'WBTC' on base"),
    ]:
        with pytest.raises(InputError, match=message):
            export_safe(led, out, *args[:2], config=args[2])
        assert not out.exists() and [p["state"] for p in led.proposals()] == ["approved"]


# ---------------------------------------------------------------- the web3 source
def web3_strategy(folder: Path, ch, decimals: int = 8, env: str = "BALLAST_TEST_RPC") -> Path:
    oracles = ", ".join(
        f'{a} = {{ address = "{f.address}", decimals = {decimals if a == "WBTC" else 8} }}' for a, f in ch.feeds.items()
    )
    web3 = f'[live.web3]\nchain = "mainnet"\nsafe = "{ch.safe}"\nrpc_url_env = "{env}"\noracles = {{ {oracles} }}\n'
    return strategy(folder, ch.registry_toml(), source="web3", live_extra=web3, interval="1h")


def one_cycle(svc) -> None:
    """One live cycle without the interval's wait that `run` adds after it."""
    svc.start()
    try:
        svc.cycle(svc.source.next(None))
    finally:
        svc.lease.release()  # as `run` does on a clean exit: the ledger is free for the next runner


def feeds(ch, age: float) -> None:
    now = int(time.time() - age)
    add_feed(ch, "WBTC", 8, 60000 * 10**8, now)
    add_feed(ch, "WETH", 8, 3000 * 10**8, now)


def test_web3_source_reads_prices_ages_and_balances(db_url: str, fast_tmp: Path, chain) -> None:  # noqa: F811
    feeds(chain, age=600)
    svc = open_service(str(web3_strategy(fast_tmp, chain)), RunSettings(db=db_url), w3=chain.w3)
    obs = svc.source.next(None)
    assert obs.prices == {"WBTC": 60000.0, "WETH": 3000.0, "USDC": 1.0}
    assert 590 <= (obs.time - obs.stamps["WBTC"]).total_seconds() <= 700
    assert svc.source.balances(["USDC", "WBTC"]) == {"USDC": 100000.0, "WBTC": 0.0}
    one_cycle(svc)
    (p,) = svc.ledger.proposals("pending")  # a plan made from on-chain oracle prices
    assert {t["asset"]: t["ref_price"] for t in p["payload"]["trades"]} == {"WBTC": 60000.0, "WETH": 3000.0}
    assert not [a for a in svc.ledger.alerts() if a["kind"] == "holdings_mismatch"]


def test_web3_stale_oracle_blocks_trading(db_url: str, fast_tmp: Path, chain) -> None:  # noqa: F811
    feeds(chain, age=5 * 3600)  # 5 h old, stale_after = 3 intervals of 1 h
    svc = open_service(str(web3_strategy(fast_tmp, chain)), RunSettings(db=db_url), w3=chain.w3)
    one_cycle(svc)
    alerts = svc.ledger.alerts()
    assert {a["kind"] for a in alerts} == {"stale_price"} and {a["asset"] for a in alerts} == {"WBTC", "WETH"}
    assert svc.ledger.proposals() == []


def test_web3_balance_difference_raises_an_alert(db_url: str, fast_tmp: Path, chain) -> None:  # noqa: F811
    feeds(chain, age=60)
    path = str(web3_strategy(fast_tmp, chain))
    one_cycle(open_service(path, RunSettings(db=db_url), w3=chain.w3))
    chain.send(chain.tokens["WETH"].functions.mint(chain.safe, 5 * 10**18))  # a deposit the ledger never saw
    svc = open_service(path, RunSettings(db=db_url), w3=chain.w3)
    svc.start()  # on restart the Safe's balances are compared with the ledger
    svc.lease.release()
    (alert,) = [a for a in svc.ledger.alerts() if a["kind"] == "holdings_mismatch"]
    assert "WETH: ledger 0, exchange 5" in alert["message"]
    assert svc.ledger.holdings().get("WETH", 0.0) == 0.0  # never booked without the user


def test_web3_oracle_decimals_and_rpc_url_are_checked(fast_tmp: Path, chain, monkeypatch) -> None:  # noqa: F811
    feeds(chain, age=60)
    db = fast_tmp / "ledger.db"
    with pytest.raises(InputError, match=r"oracles.WBTC: the feed .* has 8 decimals, the file declares 18"):
        open_service(str(web3_strategy(fast_tmp, chain, decimals=18)), RunSettings(db=f"sqlite:///{db}"), w3=chain.w3)
    monkeypatch.delenv("BALLAST_TEST_RPC", raising=False)
    with pytest.raises(InputError, match=r"\$BALLAST_TEST_RPC, which is not set"):
        open_service(str(web3_strategy(fast_tmp, chain)), RunSettings(db=f"sqlite:///{db}"))
    assert not db.exists()


def test_a_real_safe_executes_the_signed_multisend_transaction(db_url: str, fast_tmp: Path) -> None:  # noqa: F811
    """Safe v1.4.1 and MultiSendCallOnly v1.4.1 deployed from safe-eth-py's bytecode: the exported
    Safe transaction's hash is the one the Safe computes itself, one owner's signature executes
    it, and the Safe ends with the planned balances — all calls in one atomic transaction."""
    from eth_account import Account
    from web3.logs import DISCARD

    from onchain_support import deploy_safe

    ch = local_chain(DECIMALS)
    fund_router(ch)
    owner = Account.create()
    safe, multisend = deploy_safe(ch, owner.address)
    ch.safe = safe.address
    ch.send(ch.tokens["USDC"].functions.mint(ch.safe, 100_000 * 10**6))
    for a in ("WBTC", "WETH"):
        set_rate(ch, "USDC", a, worse=0.001)
    path, led = propose_and_approve(fast_tmp, db_url, ch)
    router = f'swap_router02 = "{ch.router.address}"'
    path.write_text(path.read_text().replace(router, f'{router}\nmultisend_call_only = "{multisend}"'))  # local
    out = fast_tmp / "batch.json"
    _, tx_path = export_safe(led, out, "mainnet", ch.safe, config=path, nonce=safe.functions.nonce().call())
    tx = json.loads(tx_path.read_text())
    data = bytes.fromhex(tx["data"][2:])
    onchain_hash = safe.functions.getTransactionHash(
        tx["to"], 0, data, 1, 0, 0, 0, tx["gasToken"], tx["refundReceiver"], tx["nonce"]
    ).call()
    assert "0x" + onchain_hash.hex() == tx["safeTxHash"]
    sig = Account.unsafe_sign_hash(bytes.fromhex(tx["safeTxHash"][2:]), owner.key)  # what an owner's wallet signs
    signature = sig.r.to_bytes(32, "big") + sig.s.to_bytes(32, "big") + bytes([sig.v])
    before = ch.balance("USDC")
    receipt = ch.send(
        safe.functions.execTransaction(tx["to"], 0, data, 1, 0, 0, 0, tx["gasToken"], tx["refundReceiver"], signature)
    )
    assert receipt.status == 1 and safe.events.ExecutionSuccess().process_receipt(receipt, errors=DISCARD)
    batch = json.loads(out.read_text())
    spent = sum(decode(["address", "uint256"], bytes.fromhex(t["data"][10:]))[1] for t in batch["transactions"][::2])
    assert ch.balance("USDC") == before - spent and ch.balance("WBTC") > 0 and ch.balance("WETH") > 0
    assert safe.functions.nonce().call() == tx["nonce"] + 1


def test_without_holdings_in_the_file_the_safe_balances_are_the_start(db_url: str, fast_tmp: Path, chain) -> None:  # noqa: F811
    feeds(chain, age=60)
    chain.send(chain.tokens["WETH"].functions.mint(chain.safe, 4 * 10**18))
    path = web3_strategy(fast_tmp, chain)
    path.write_text(path.read_text().replace("[live.holdings]\nUSDC = 100000\n", ""))
    svc = open_service(str(path), RunSettings(db=db_url), w3=chain.w3)
    one_cycle(svc)
    assert svc.ledger.starting_holdings() == {"WBTC": 0.0, "WETH": 4.0, "USDC": 100000.0}
