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
        Dataset("crypto", "crypto_daily_close_usd.csv.gz",
                "43 crypto assets incl. USDT, daily USD closes, 2017-11-09..2024-03-01 (2,305 days)",
                "FinOL benchmark data (ai4finol/FinOL_data), Yahoo-Finance closes"),
        Dataset("factor-etfs", "factor_etfs_daily_prices.csv.gz",
                "5 US factor ETFs (MTUM QUAL SIZE USMV VLUE), daily adjusted closes, 2014..2022",
                "skfolio 1.12.2 datasets (BSD-3-Clause), Yahoo origin"),
    )
}


def bundled_path(name: str) -> Path | None:
    """The file of bundled dataset ``name``, or None if there is no such dataset."""
    d = DATASETS.get(name)
    if d is None:
        return None
    return Path(str(resources.files("ballast.data") / "files" / d.file))
