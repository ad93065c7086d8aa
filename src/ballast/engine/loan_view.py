"""What the loans did, as metrics and pandas tables (Result.loans, Result.metrics; docs/loans.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ballast.enums import (
    EV_ASSET,
    EV_COLLATERAL,
    EV_DEBT,
    EV_GAS,
    EV_HF_AFTER,
    EV_HF_BEFORE,
    EV_KIND,
    EV_LOAN,
    EV_PENALTY,
    EV_T,
    EV_VALUE,
    EV_WRITTEN_OFF,
    LT_BOOSTS,
    LT_BORROW_PAID,
    LT_COSTS,
    LT_EVENTS,
    LT_LIQUIDATIONS,
    LT_MIN_HF,
    LT_PENALTY,
    LT_REPAYS,
    LT_WRITTEN_OFF,
)
from ballast.market import Market

if TYPE_CHECKING:
    from ballast.engine.loans import LoanBook
    from ballast.strategy import Strategy

EVENT_KINDS = ("liquidation", "repay", "boost")  # by EVENT_* code

LOAN_DOCS = {
    "n_liquidations": "liquidations (each call of the protocol's rule counts once)",
    "liquidation_penalty": "collateral value seized − debt value repaid by liquidations, in currency",
    "n_repays": "repays of the health band (collateral sold to repay debt)",
    "n_boosts": "boosts of the health band (debt borrowed to buy collateral), the opening included",
    "min_health_factor": "lowest health factor seen at a close (or a period's low) before any action",
    "borrow_paid": "interest accrued on the debt, in currency",
    "loan_costs": "swap fees and gas of repays and boosts (also in total_costs)",
    "written_off": "debt written off as bad debt by liquidations, in currency",
}


def loan_metrics(book: "LoanBook") -> dict[str, float]:
    tot = book.totals
    return {
        "n_liquidations": int(tot[LT_LIQUIDATIONS]),
        "liquidation_penalty": float(tot[LT_PENALTY]),
        "n_repays": int(tot[LT_REPAYS]),
        "n_boosts": int(tot[LT_BOOSTS]),
        "min_health_factor": float(tot[LT_MIN_HF]),
        "borrow_paid": float(tot[LT_BORROW_PAID]),
        "loan_costs": float(tot[LT_COSTS]),
        "written_off": float(tot[LT_WRITTEN_OFF]),
    }


@dataclass(frozen=True)
class LoanView:
    """Health factor after each close (one column per loan) and one row per liquidation, repay or boost."""

    health_factor: pd.DataFrame
    events: pd.DataFrame

    @classmethod
    def of(cls, strategy: "Strategy", market: Market, book: "LoanBook") -> "LoanView":
        assert strategy.loans is not None
        names = [f"{'+'.join(p.loan.collateral)}/{p.loan.debt}" for p in strategy.loans.positions]
        if len(set(names)) < len(names):
            names = [f"{n} #{k + 1}" for k, n in enumerate(names)]
        idx = market.index if book.hf.shape[0] == market.n_periods else market.index[-1:]
        ev = book.events[: min(int(book.totals[LT_EVENTS]), book.events.shape[0])]
        t = ev[:, EV_T].astype(np.int64)
        assets = np.array(market.assets, dtype=object)
        events = pd.DataFrame(
            {
                "time": market.index[t],
                "loan": np.array(names, dtype=object)[ev[:, EV_LOAN].astype(np.int64)],
                "kind": np.array(EVENT_KINDS, dtype=object)[ev[:, EV_KIND].astype(np.int64)],
                "asset": assets[ev[:, EV_ASSET].astype(np.int64)],
                "collateral_units": ev[:, EV_COLLATERAL],
                "debt_units": ev[:, EV_DEBT],
                "collateral_value": ev[:, EV_VALUE],
                "penalty_or_fee": ev[:, EV_PENALTY],
                "gas": ev[:, EV_GAS],
                "written_off": ev[:, EV_WRITTEN_OFF],
                "hf_before": ev[:, EV_HF_BEFORE],
                "hf_after": ev[:, EV_HF_AFTER],
            }
        )
        return cls(pd.DataFrame(book.hf, index=idx, columns=names), events)
