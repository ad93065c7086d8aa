"""The terminal summary: sparklines on a shared scale with final multiples, ASCII fallback."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from ballast.engine.backtest import backtest
from ballast.report.terminal import SPARKS, print_summary, sparkline
from market_support import gbm


class AsciiIO(io.StringIO):
    encoding = "ascii"  # a terminal that cannot show block characters


def test_shared_scale_keeps_levels_comparable():
    low, high = np.full(10, 1.0), np.full(10, 4.0)
    assert sparkline(low, scale=(1.0, 4.0)) == SPARKS[0] * 10
    assert sparkline(high, scale=(1.0, 4.0)) == SPARKS[-1] * 10
    assert sparkline(np.full(10, 2.0), scale=(1.0, 4.0)) == SPARKS[4] * 10  # log midpoint of 1..4 is 2
    assert len(sparkline(np.geomspace(1, 10, 500), width=40)) == 40


def test_summary_prints_both_curves_with_final_multiples_and_skips_blocks_without_utf():
    r = backtest(gbm(n_assets=2, n_periods=120), target="A0=0.5,A1=0.5", band=0.05, fee_bps=10)
    out = io.StringIO()
    print_summary(r, Console(file=out, width=120, force_terminal=False))
    text = out.getvalue()
    assert f"{r.raw.equity[-1] / r.strategy.capital:.2f}×" in text
    assert "hold" in text and "A0 50%, A1 50%" in text
    ascii_out = AsciiIO()
    print_summary(r, Console(file=ascii_out, width=120))
    assert not any(ch in ascii_out.getvalue() for ch in SPARKS)
