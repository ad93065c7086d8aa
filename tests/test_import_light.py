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
