"""Datasets shipped inside the package, so the demo needs no network."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class Dataset:
    name: str
    file: str
    description: str
    source: str


DATASETS = {
    d.name: d
    for d in (
        Dataset(
            "crypto",
            "crypto_daily_close_usd.csv.gz",
            "43 crypto assets incl. USDT, daily USD closes, 2017-11-09..2024-03-01 (2,305 days)",
            "FinOL benchmark data (ai4finol/FinOL_data), Yahoo-Finance closes",
        ),
        Dataset(
            "factor-etfs",
            "factor_etfs_daily_prices.csv.gz",
            "5 US factor ETFs (MTUM QUAL SIZE USMV VLUE), daily adjusted closes, 2014..2022",
            "skfolio 1.12.2 datasets (BSD-3-Clause), Yahoo origin",
        ),
    )
}


def _shipped(file: str) -> Path:
    return Path(str(resources.files("ballast.data") / "files" / file))


def bundled_path(name: str) -> Path | None:
    """The file of bundled dataset ``name``, or None if there is no such dataset."""
    d = DATASETS.get(name)
    return None if d is None else _shipped(d.file)


def demo_strategy_path() -> Path:
    """The demo's strategy file, shipped in the package (examples/treasury.toml links to it)."""
    return _shipped("treasury.toml")


def treasury_example_path() -> Path:
    """The DAO treasury example (yields, spend, revenue), shipped for the demo's backtest and report
    (examples/dao-treasury.toml links to it)."""
    return _shipped("dao-treasury.toml")
