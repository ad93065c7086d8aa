"""vectorbt's callbacks for case (b): check |w − t| > band at every close, then rebalance all
columns to target percent, sells first (vectorbt's own rebalancing recipe with sort_call_seq_nb).

vectorbt is a benchmark reference only (Commons Clause): nothing in ballast imports it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import vectorbt as vbt
from numba import njit
from vectorbt.portfolio import nb
from vectorbt.portfolio.enums import Direction, NoOrder, SizeType


@njit
def pre_group_func_nb(c):
    return (np.empty(c.group_len, dtype=np.float64),)


@njit
def pre_segment_func_nb(c, order_value_out, target, band, size, size_type, direction):
    for col in range(c.from_col, c.to_col):
        c.last_val_price[col] = c.close[c.i, col]
    value = c.last_cash[c.group]
    for col in range(c.from_col, c.to_col):
        value += c.last_position[col] * c.last_val_price[col]
    fire = c.i == 0
    if not fire:
        for col in range(c.from_col, c.to_col):
            if abs(c.last_position[col] * c.last_val_price[col] / value - target) > band:
                fire = True
                break
    if fire:
        nb.sort_call_seq_nb(c, size, size_type, direction, order_value_out)
    return (fire,)


@njit
def order_func_nb(c, fire, target, fee):
    if not fire:
        return NoOrder
    return nb.order_nb(
        size=target, price=c.close[c.i, c.col], size_type=SizeType.TargetPercent, direction=Direction.LongOnly, fees=fee
    )


def band_portfolio(df: pd.DataFrame, target: float, band: float, fee: float, capital: float):
    size = np.asarray(target)
    size_type = np.asarray(SizeType.TargetPercent)
    direction = np.asarray(Direction.LongOnly)
    return vbt.Portfolio.from_order_func(
        df,
        order_func_nb,
        target,
        fee,
        pre_group_func_nb=pre_group_func_nb,
        pre_segment_func_nb=pre_segment_func_nb,
        pre_segment_args=(target, band, size, size_type, direction),
        init_cash=capital,
        cash_sharing=True,
        group_by=True,
        freq="1D",
    )
