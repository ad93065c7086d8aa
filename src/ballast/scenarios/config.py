"""User scenarios from a strategy file's ``[[scenarios]]`` tables; errors name the field.

[[scenarios]]
name = "usdc-deeper"
source = "what the numbers rest on"
shocks = [
  { shape = "depeg", asset = "USDC", start = "2023-03-10", to = 0.80, days = 2, recover = 10 },
  { shape = "crash", asset = "ETH", start = "2023-03-10", drop = 0.3 },
  { shape = "bleed", asset = "DAI", start = "2023-03-10", total = 0.05, days = 20 },
  { shape = "liquidity", assets = ["USDC"], start = "2023-03-10", days = 3, factor = 0.1 },
  { shape = "gas", start = "2023-03-10", days = 2, cost = 50 },
]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

from ballast.scenarios.shocks import Bleed, Crash, DepegShape, GasSpike, Liquidity, Scenario, Shock

SHAPES: dict[str, type] = {"depeg": DepegShape, "crash": Crash, "bleed": Bleed, "liquidity": Liquidity, "gas": GasSpike}


def parse_shock(table: Mapping[str, Any], where: str) -> Shock:
    if not isinstance(table, Mapping):
        raise ValueError(f'{where}: expected a table like {{ shape = "depeg", asset = ..., start = ... }}')
    kind = table.get("shape")
    cls = SHAPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"{where}.shape: expected one of {', '.join(SHAPES)}, got {kind!r}")
    allowed = {f.name for f in fields(cls)} - {"where"}
    given = {k: v for k, v in table.items() if k != "shape"}
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ValueError(
            f"{where}: unexpected key(s) {', '.join(unknown)} for shape {kind!r}; expected {', '.join(sorted(allowed))}"
        )
    if "start" not in given:
        raise ValueError(f"{where}.start: missing (the date the shock begins)")
    if not isinstance(given["start"], str):
        given["start"] = str(given["start"])  # TOML dates arrive as date objects
    if "assets" in given:
        given["assets"] = tuple(given["assets"])
    shock = cls(**given)
    shock.validate(where)
    return shock  # type: ignore[no-any-return]


def parse_scenarios(tables: Sequence[Mapping[str, Any]] | None) -> dict[str, Scenario]:
    out: dict[str, Scenario] = {}
    for i, table in enumerate(tables or ()):
        where = f"scenarios[{i}]"
        unknown = sorted(set(table) - {"name", "shocks", "source", "description"})
        if unknown:
            raise ValueError(
                f"{where}: unexpected key(s) {', '.join(unknown)}; expected name, shocks, source, description"
            )
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}.name: expected a non-empty name")
        shocks = table.get("shocks")
        if not isinstance(shocks, list) or not shocks:
            raise ValueError(f"{where}.shocks: expected a non-empty list of shock tables")
        parsed = tuple(parse_shock(s, f"{where}.shocks[{j}]") for j, s in enumerate(shocks))
        out[name] = Scenario(name, parsed, str(table.get("source", "")), str(table.get("description", "")), where=where)
    return out
