"""The loans in the terminal summary: health factor now and at its lowest, and the band's last moves."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ballast.engine.result import Result

LAST_EVENTS = 5


def _label(stamp: object) -> str:
    text = str(stamp)
    return text[:-9] if text.endswith(" 00:00:00") else text


def loan_lines(result: "Result") -> list[str]:
    """One line per loan (HF at the end, its lowest after the close's actions, moves by kind), then the
    last few events."""
    view = result.loans
    if view is None:
        return []
    lines = []
    events = view.events
    for name in view.health_factor.columns:
        hf = view.health_factor[name].to_numpy()
        counts = events[events.loan == name].kind.value_counts()
        finite = hf[np.isfinite(hf)]
        low = f"{finite.min():.2f}" if finite.size else "∞"
        lines.append(
            f"loan {name}: HF {hf[-1]:.2f} at the end (lowest after a close {low}); "
            f"{counts.get('repay', 0)} repays, {counts.get('boost', 0)} boosts, "
            f"{counts.get('liquidation', 0)} liquidations"
        )
    for row in events.tail(LAST_EVENTS).itertuples():
        lines.append(
            f"  {_label(row.time)} {row.kind:<11} {row.loan}: HF {row.hf_before:.2f} → {row.hf_after:.2f}, "
            f"debt {row.debt_units:+,.2f}, collateral {row.collateral_units:+,.4f} {row.asset}"
        )
    return lines
