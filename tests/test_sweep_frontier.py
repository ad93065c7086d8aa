"""Frontier and heatmap figures from a sweep table: chosen rule, inline plotly.js, PNG export."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import ballast
from ballast.report.frontier import choose, frontier_figure, heatmap_figure, write_frontier
from ballast.report.png import chromium_path
from market_support import gbm


@pytest.fixture(scope="module")
def table():
    return ballast.sweep(
        gbm(4, 400, seed=6), band=np.linspace(0.01, 0.2, 8), band_kind=["absolute", "relative"], fee_bps=[5, 20]
    )


def test_chosen_rule_is_highlighted(table) -> None:
    k = choose(table, "sharpe")
    assert table["sharpe"].iloc[k] == table["sharpe"].max()
    assert table["tracking_error"].iloc[choose(table, "tracking_error")] == table["tracking_error"].min()
    fig = frontier_figure(table, ["band", "band_kind", "fee_bps"], "sharpe")
    star = fig.data[1]
    assert star.name == "chosen rule"
    assert star.x[0] == table["tracking_error"].iloc[k] and star.y[0] == table["turnover"].iloc[k]
    assert len(fig.data[0].x) == len(table)


def test_heatmap_slices_through_the_chosen_rule(table) -> None:
    k = choose(table, "sharpe")
    fig = heatmap_figure(table, "band", "fee_bps", "sharpe", params=["band", "band_kind", "fee_bps"])
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (2, 8)
    held = table[table["band_kind"] == table["band_kind"].iloc[k]]
    assert np.nanmax(z) == held["sharpe"].max() == table["sharpe"].iloc[k]


def test_html_is_self_contained_and_png_written(table, tmp_path: Path) -> None:
    if chromium_path() is None and not os.environ.get("CI"):
        pytest.skip("no Chromium for PNG export")
    files = write_frontier(table, tmp_path / "f.html", metric="sharpe", params=["band", "band_kind", "fee_bps"])
    html = files[0].read_text(encoding="utf-8")
    assert "<script src=" not in html and "Plotly.newPlot" in html and html.count("Plotly.newPlot") == 2
    pngs = [f for f in files if f.suffix == ".png"]
    assert [p.name for p in pngs] == ["f.png", "f-heatmap.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000 for p in pngs)
