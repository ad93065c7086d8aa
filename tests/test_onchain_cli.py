"""Issue 18 through the command line: `ballast run --source web3` against a local chain served
over JSON-RPC, `ballast approve`, `ballast proposals export --format safe`, and the batch executed
on that chain; bad input exits with a clear error and writes nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ballast.live.ledger import Ledger
from onchain_support import add_feed, fund_router, local_chain, serve_rpc
from test_onchain_chain import DECIMALS, execute, set_rate, web3_strategy


def invoke(*args: str):
    from typer.testing import CliRunner

    from ballast.cli import app

    return CliRunner().invoke(app, list(args))


def fast(path: Path) -> None:
    """One-second cycles (`run --cycles 1` waits one interval after its cycle); prices count as
    stale only after 10 minutes, so a slow first start (compiling) cannot make them stale."""
    text = path.read_text().replace('interval = "1h"', 'interval = "1s"')
    path.write_text(text.replace("[live.holdings]", "[live.guards]\nstale_after = 600\n[live.holdings]"))


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture()
def served(monkeypatch: pytest.MonkeyPatch):
    ch = local_chain(DECIMALS)
    fund_router(ch)
    ch.send(ch.tokens["USDC"].functions.mint(ch.safe, 100_000 * 10**6))
    now = int(time.time())
    add_feed(ch, "WBTC", 8, 60000 * 10**8, now)
    add_feed(ch, "WETH", 8, 3000 * 10**8, now)
    url, server = serve_rpc(ch.w3)
    monkeypatch.setenv("BALLAST_TEST_RPC", url)
    yield ch
    server.shutdown()
    server.server_close()


def test_run_web3_approve_export_and_execute(tmp_path: Path, served) -> None:
    ch = served
    path = web3_strategy(tmp_path, ch)
    fast(path)
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    r = invoke("run", str(path), "--source", "web3", "--cycles", "1", "--quiet", "--db", db)
    assert r.exit_code == 0, r.output
    with Ledger(db) as led:
        (p,) = led.proposals("pending")
        assert led.state()["source"] == "web3 mainnet"
    assert invoke("approve", str(p["id"]), "--db", db).exit_code == 0
    for a in ("WBTC", "WETH"):
        set_rate(ch, "USDC", a, worse=0.003)
    out = tmp_path / "batch.json"
    r = invoke(
        "proposals",
        "export",
        "--format",
        "safe",
        "--chain",
        "mainnet",
        "--safe",
        ch.safe,
        "--config",
        str(path),
        "--out",
        str(out),
        "--db",
        db,
    )
    assert r.exit_code == 0, r.output
    batch = json.loads(out.read_text())
    assert len(batch["transactions"]) == 4 and all(x.status == 1 for x in execute(ch, batch))
    with Ledger(db) as led:
        orders = led.decision(p["decision_id"])["orders"]
        assert [q["state"] for q in led.proposals()] == ["exported"]
    for o in orders:  # bought what was planned, within the 0.3% the pool gave away
        got = ch.balance(o["asset"]) / 10 ** DECIMALS[o["asset"]]
        assert o["quantity"] * (1 - 0.0031) <= got <= o["quantity"] * (1 - 0.0029)


def test_cli_bad_input_is_a_clear_error_and_writes_nothing(tmp_path: Path, served, monkeypatch) -> None:
    ch = served
    path = web3_strategy(tmp_path, ch)
    fast(path)
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert invoke("run", str(path), "--cycles", "1", "--quiet", "--db", db).exit_code == 0
    assert invoke("approve", "1", "--db", db).exit_code == 0
    out = tmp_path / "batch.json"
    for extra, message in [
        ([], "--format safe needs --out FILE, --chain and --safe"),
        (["--out", str(out), "--chain", "mainnet", "--safe", ch.safe.lower()], "EIP-55"),
        (["--out", str(out), "--chain", "polygon", "--safe", ch.safe], "unknown chain 'polygon'"),
        (["--out", str(out), "--chain", "base", "--safe", ch.safe], "no token 'WBTC' on base"),
    ]:
        r = invoke("proposals", "export", "--format", "safe", "--db", db, *extra)
        assert r.exit_code == 2 and message in flat(r.output), r.output
        assert not out.exists()
    with Ledger(db) as led:
        assert [q["state"] for q in led.proposals()] == ["approved"]
    monkeypatch.delenv("BALLAST_TEST_RPC")
    fresh = tmp_path / "fresh.db"
    r = invoke("run", str(path), "--cycles", "1", "--quiet", "--db", f"sqlite:///{fresh}")
    assert r.exit_code == 2 and "$BALLAST_TEST_RPC, which is not set" in flat(r.output) and not fresh.exists()
