"""The depeg trigger on the bundled USDT series: when it fires, hysteresis, reasons, the kernel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ballast
from ballast import Calendar, Fixed, Strategy
from ballast.market import Market
from ballast.pegs import DEPEGGED, NORMAL, RECOVERING, DepegRule, Pegs, deviations
from ballast.triggers.depeg import Depeg


@pytest.fixture(scope="module")
def usdt(crypto: pd.DataFrame) -> pd.DataFrame:
    return crypto[["BTC", "USDT"]]


def first_date(mask: pd.Series) -> pd.Timestamp:
    return mask.index[np.argmax(mask.to_numpy())]


def fired_dates(trigger: Depeg, prices: pd.DataFrame) -> pd.DatetimeIndex:
    mask = trigger.encode(Market.from_frame(prices)).mask
    return prices.index[mask]


def test_downside_trigger_fires_first_on_the_first_close_2pct_below_peg(usdt: pd.DataFrame) -> None:
    expected = first_date(usdt.USDT / 1.0 - 1.0 <= -0.02)  # independent: straight from the data
    assert expected == pd.Timestamp("2018-10-16")
    assert fired_dates(Depeg({"USDT": 1.0}, act=0.02), usdt)[0] == expected


def test_two_sided_trigger_fires_earlier_on_the_first_close_2pct_away(usdt: pd.DataFrame) -> None:
    expected = first_date((usdt.USDT - 1.0).abs() >= 0.02)
    got = fired_dates(Depeg({"USDT": 1.0}, act=0.02, two_sided=True), usdt)[0]
    assert got == expected < pd.Timestamp("2018-10-16")


def test_confirmation_waits_k_closes(usdt: pd.DataFrame) -> None:
    below = (usdt.USDT - 1.0 <= -0.02).to_numpy()
    run2 = below[1:] & below[:-1]
    expected = usdt.index[1:][np.argmax(run2)]
    assert fired_dates(Depeg({"USDT": 1.0}, act=0.02, confirm=2), usdt)[0] == expected


def test_hysteresis_does_not_fire_on_the_next_days_small_rebound(usdt: pd.DataFrame) -> None:
    # 2018-10-16/17 at −2.5 %/−2.9 %; 10-18 rebounds to −1.9 %, inside the 2 % act line.
    m = Market.from_frame(usdt)
    flappy = Depeg({"USDT": 1.0}, act=0.02, warn=0.02, recover=1)
    calm = Depeg({"USDT": 1.0}, act=0.02, warn=0.02, recover=5)
    day = usdt.index.get_loc(pd.Timestamp("2018-10-18"))
    assert flappy.encode(m).mask[day]  # m = 1: the rebound counts as recovered and fires
    assert not calm.encode(m).mask[day]
    path = calm.rule.path(m)
    assert path.state[day, 0] == RECOVERING
    # With a wider warn line the −1.9 % rebound is still beyond warn: depegged, no firing.
    wide = Depeg({"USDT": 1.0}, act=0.02, warn=0.01, recover=3)
    assert wide.rule.path(m).state[day, 0] == DEPEGGED and not wide.encode(m).mask[day]
    # It fires again only after m closes back inside warn, returning to normal.
    fired = np.flatnonzero(calm.encode(m).mask)
    after = fired[fired > day][0]
    assert calm.rule.path(m).state[after, 0] == NORMAL
    assert (calm.rule.path(m).state[day:after, 0] != NORMAL).all()


def test_state_machine_by_hand() -> None:
    dev = np.array([0.0, -0.011, -0.021, -0.025, -0.005, -0.015, -0.004, -0.003, -0.002, 0.0])[:, None]
    from ballast.pegs import depeg_states

    state, fired = depeg_states(dev, warn=0.01, act=0.02, two_sided=False, confirm=2, recover=3)
    np.testing.assert_array_equal(state[:, 0], [0, 1, 1, 2, 3, 2, 3, 3, 0, 0])
    np.testing.assert_array_equal(np.flatnonzero(fired[:, 0]), [3, 8])


def test_reason_names_asset_deviation_and_state(usdt: pd.DataFrame) -> None:
    strategy = Strategy(Fixed({"BTC": 0.5, "USDT": 0.5}), Calendar("yearly") | Depeg({"USDT": 1.0}, act=0.02))
    r = ballast.backtest(usdt, strategy)
    row = r.rebalances.set_index("time").loc[pd.Timestamp("2018-10-16")]
    assert "USDT depegged at -2.48% from its peg" in row.reason
    python = ballast.backtest(usdt, strategy, engine="python")
    assert list(python.rebalances.reason) == list(r.rebalances.reason)


def test_relative_deviation_ignores_a_move_of_the_reference() -> None:
    p = np.array([[1.0, 1.0, 1.0], [0.95, 0.95, 0.95], [0.95, 0.85, 0.95]])
    d = deviations(p, np.ones_like(p))
    np.testing.assert_allclose(d.effective[1], 0.0)  # all three moved: the dollar, not a depeg
    assert d.effective[2, 1] == pytest.approx(-0.15 + 0.0) or d.effective[2, 1] == pytest.approx(0.85 / 0.95 - 1)
    assert d.effective[2, 1] == pytest.approx(max(-0.15, 0.85 / 0.95 - 1))
    assert d.effective[2, 0] == 0.0  # up against the median of the others, flat against its peg


def test_bad_input_names_the_field(usdt: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"depeg.act \(0.01\) is below depeg.warn \(0.02\)"):
        DepegRule({"USDT": 1.0}, act=0.01, warn=0.02)
    with pytest.raises(KeyError, match=r"pegs.USDC: unknown asset 'USDC'"):
        Pegs({"USDC": 1.0}).check(Market.from_frame(usdt))
    with pytest.raises(ValueError, match=r"pegs.USDT: a peg must be a positive number"):
        Pegs({"USDT": -1})
    with pytest.raises(KeyError, match=r"pegs.EURe: the peg 'EUR' is neither"):
        Pegs({"USDT": 1.0, "EURe": "EUR"}).levels(Market.from_frame(usdt.rename(columns={"BTC": "EURe"})))
