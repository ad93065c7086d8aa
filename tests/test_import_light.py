"""`import ballast` must not pull in the heavy dependencies (they load on first use)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = [
    "numba",
    "cvxpy",
    "sqlalchemy",
    "plotly",
    "dask",
    "distributed",
    "ccxt",
    "fastapi",
    "scipy",
    "pandas",
    "pydantic",
    "typer",
    "rich",
]


def test_import_ballast_is_light() -> None:
    code = f"import sys, json, ballast; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_the_cli_starts_without_the_engine() -> None:
    """Every command module is imported to build ``ballast --help``; the engine, the ledger and
    the plots load only inside the command that needs them."""
    engine = ["numba", "cvxpy", "sqlalchemy", "plotly", "dask", "ccxt", "fastapi", "pandas", "scipy"]
    code = f"import sys, json, ballast.cli; print(json.dumps([m for m in {engine!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
