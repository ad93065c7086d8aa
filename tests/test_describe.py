"""Every piece of a strategy describes itself as one line; targets also give their parameters."""

from __future__ import annotations

import pytest

from ballast.costs import ConstantProductPool, Gas, Proportional
from ballast.planning import BandEdge, CostAware, Full
from ballast.strategy import build_strategy
from ballast.targets import Bounds, Fixed, InverseVol, MinVariance, Reserve, RiskParity, VolTarget
from ballast.targets.base import describe_params
from ballast.triggers import Band, Calendar, Never

TARGETS = [
    Fixed({"BTC": 0.4, "ETH": 0.6}),
    InverseVol(lookback=20),
    RiskParity(lookback=30, shrinkage="ledoit_wolf"),
    MinVariance(lookback=30),
    VolTarget(Fixed({"BTC": 1.0}), target_vol=0.2, lookback=20, reserve="USDT"),
    Bounds(Fixed({"BTC": 0.5, "ETH": 0.5}), max_weight=0.6),
    Reserve(Fixed({"BTC": 1.0}), "USDT", 0.1),
]


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: type(t).__name__)
def test_a_target_describes_itself_in_one_line_from_its_params(target: object) -> None:
    params = target.params()  # type: ignore[attr-defined]
    text = target.describe()  # type: ignore[attr-defined]
    assert isinstance(params, dict) and "kind" in params
    assert isinstance(text, str) and "\n" not in text and text == describe_params(params)
    assert str(params["kind"]) in text


def test_the_fixed_target_reads_as_percentages() -> None:
    assert Fixed({"BTC": 0.4, "ETH": 0.6}).describe() == "fixed: BTC 40%, ETH 60%"


@pytest.mark.parametrize(
    "piece",
    [
        Band(0.05),
        Calendar("monthly"),
        Never(),
        Full(),
        BandEdge(),
        CostAware(1.0),
        Proportional(10),
        Gas(150_000, 20, "ETH"),
        ConstantProductPool(depth=1e6),
    ],
    ids=lambda p: type(p).__name__,
)
def test_every_other_piece_describes_itself_as_a_string(piece: object) -> None:
    text = piece.describe()  # type: ignore[attr-defined]
    assert isinstance(text, str) and text


def test_a_strategy_description_keeps_the_target_parameters() -> None:
    """Result.to_dict and the reports read the strategy's description: the target as its dict."""
    d = build_strategy(target={"BTC": 0.5, "ETH": 0.5}, band=0.05)
    desc = d.describe()
    assert desc["target"] == {"kind": "fixed", "weights": {"BTC": 0.5, "ETH": 0.5}}
    assert isinstance(desc["trigger"], str) and isinstance(desc["plan"], str) and isinstance(desc["costs"], str)
