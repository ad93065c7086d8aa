"""A delta hedge of the strategy's liquidity position (issue 16's `LiquidityProvision`): the hedge
reads the position's token0 and gamma at each close, and a Whalley–Wilmott band follows its formula."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ballast
from ballast import Strategy
from ballast.costs import Proportional
from ballast.engine.hedge_compare import compare_hedges
from ballast.errors import InputError
from ballast.hedging import DeltaHedge, Holdings, LiquidityPosition, RelativeBand, WhalleyWilmott, ww_half_width
from ballast.positions.lp import ConcentratedLP
from ballast.positions.provision import AprFees, LiquidityProvision
from ballast.positions.ranges import FixedWidth
from ballast.positions.resets import ResetRule
from ballast.targets import Fixed
from ballast.triggers import Never

PAIR = ("ETH", "USDC")


def market(seed: int = 4, n: int = 400, sigma: float = 0.04) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    path = 2000.0 * np.exp(np.concatenate([[0.0], np.cumsum(rng.normal(-0.5 * sigma**2, sigma, n - 1))]))
    return pd.DataFrame({"ETH": path}, index=pd.date_range("2024-01-01", periods=n, freq="D"))


def strategy(hedge: DeltaHedge | None, lp: bool = True) -> Strategy:
    provision = LiquidityProvision(
        PAIR, 3000, share=0.8, policy=FixedWidth(pct=0.3), rule=ResetRule(out_of_range=True), fees=AprFees(0.0)
    )
    return Strategy(
        target=Fixed({"ETH": 0.5, "USDC": 0.5}),
        trigger=Never(),
        costs=Proportional(5),
        cash="USDC",
        liquidity=provision if lp else None,
        hedge=hedge,
    )


def test_the_hedge_reads_the_positions_delta_and_gamma() -> None:
    hedge = DeltaHedge(LiquidityPosition(), band=WhalleyWilmott(0.0005, 1e-4))
    r = ballast.backtest(market(), strategy(hedge))
    h, lp = r.hedge, r.liquidity
    assert h is not None and lp is not None
    # From the close after formation: the position's first deposit is booked at the next close's step.
    np.testing.assert_allclose(h["delta"].to_numpy()[1:], lp["token0"].to_numpy()[1:], rtol=1e-12)
    assert h["reason"].iloc[1] == "open the hedge"
    # The band's half-width is Whalley–Wilmott's with the position's own gamma at each close.
    prices = r.market.prices[:, r.market.asset_index("ETH")]
    for t in (10, 150, 399):
        rng = ConcentratedLP(PAIR, float(lp["lower"].iloc[t]), float(lp["upper"].iloc[t]))
        liquidity = float(lp["token0"].iloc[t]) / float(rng.delta(prices[t]).token0)
        gamma = float(rng.delta(prices[t], liquidity).gamma)
        expected = float(ww_half_width(0.0005, gamma, prices[t], 1e-4))
        assert h["half_width"].iloc[t] == pytest.approx(expected, rel=1e-6)
    assert set(h["reason"]) - {"", "open the hedge"} == {"band"}


def test_hedging_the_position_cuts_its_price_risk() -> None:
    hedged = ballast.backtest(market(), strategy(DeltaHedge(LiquidityPosition(), band=RelativeBand(0.05))))
    table = compare_hedges(hedged)
    assert table.loc["hedge_error"].iloc[0] < 0.5 * table.loc["hedge_error", "unhedged"]


def test_a_position_hedge_needs_a_position_and_ww_needs_gamma() -> None:
    with pytest.raises(InputError, match=r"needs a liquidity position \(\[\[positions\]\]\)"):
        ballast.backtest(market(), strategy(DeltaHedge(LiquidityPosition()), lp=False))
    with pytest.raises(InputError, match="Whalley-Wilmott band needs an exposure with gamma"):
        DeltaHedge(Holdings("ETH"), band=WhalleyWilmott(0.001, 1.0))


def test_toml_hedges_the_position_with_a_ww_band(tmp_path: Path) -> None:
    from ballast.config import load_strategy_file

    text = (Path(__file__).resolve().parents[1] / "examples" / "protocol-owned-liquidity.toml").read_text()
    p = tmp_path / "lp-hedged.toml"
    p.write_text(
        text + '\n[hedge]\nexposure = "position"\nband_kind = "whalley-wilmott"\ncost = 0.0005\nrisk_aversion = 1e-4\n'
    )
    s = load_strategy_file(p).to_strategy()
    assert s.hedge is not None and isinstance(s.hedge.exposure, LiquidityPosition)
    assert s.hedge.band == WhalleyWilmott(0.0005, 1e-4)
    bad = tmp_path / "bad.toml"
    bad.write_text(text + '\n[hedge]\nexposure = "position"\nband_kind = "whalley-wilmott"\ncost = 0.0005\n')
    with pytest.raises(InputError, match="needs cost and risk_aversion"):
        load_strategy_file(bad)
