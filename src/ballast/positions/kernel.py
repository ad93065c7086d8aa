"""A loan at a close, compiled: accrual, liquidation under the loan's rule, then the repay/boost band.

The compiled twins of positions/liquidation.py (the rules' amounts) and positions/band.py (the
closed forms), on the portfolio's own holdings (positions/encode.py: collateral is what is held of
the collateral assets, the debt a negative holding of the debt asset). Tested equal to the Python
rules and band; engine/loans.py calls `loans_close` from the walk and the Python engine.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ballast.enums import (
    BAND_BOOST_ABOVE,
    BAND_BOOST_TO,
    BAND_MIN_CHANGE,
    BAND_OPEN,
    BAND_REPAY_BELOW,
    BAND_REPAY_TO,
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
    EVENT_BOOST,
    EVENT_LIQUIDATION,
    EVENT_REPAY,
    LT_BOOSTS,
    LT_BORROW_PAID,
    LT_COSTS,
    LT_EVENTS,
    LT_LIQUIDATIONS,
    LT_MIN_HF,
    LT_PENALTY,
    LT_REPAYS,
    LT_WRITTEN_OFF,
    RULE_AAVE_V3,
    RULE_EULER_V2,
    RULE_MORPHO_BLUE,
)

MAX_LIQUIDATIONS = 64  # calls of the rule in one close while HF stays below 1 (two or three in practice)


@njit(cache=True, inline="always")
def n_collateral(coll):
    """How many collateral assets a loan's −1-padded row names."""
    c = 0
    while c < coll.shape[0] and coll[c] >= 0:
        c += 1
    return c


@njit(cache=True, inline="always")
def collateral_values(units, p, coll, c, values):
    """Value held of each collateral asset (units below 0, a short, count as none)."""
    for j in range(c):
        i = coll[j]
        values[j] = max(units[i], 0.0) * p[i]


@njit(cache=True, inline="always")
def health_factor(values, lt, c, debt_value):
    """Σ cᵢ·pᵢ·LTᵢ / debt value; infinite without debt (LoanState.health_factor)."""
    weighted = 0.0
    for j in range(c):
        weighted += values[j] * lt[j]
    return math.inf if debt_value == 0.0 else weighted / debt_value


@njit(cache=True, inline="always")
def _health_at(units, prices, t, coll, lt, c, debt_value, values):
    """HF at row ``t`` of ``prices`` (by index: no row view at every close)."""
    weighted = 0.0
    for j in range(c):
        i = coll[j]
        values[j] = max(units[i], 0.0) * prices[t, i]
        weighted += values[j] * lt[j]
    return math.inf if debt_value == 0.0 else weighted / debt_value


@njit(cache=True)
def _largest(values, c):
    """The first collateral asset worth the most (numpy's argmax)."""
    k = 0
    for j in range(1, c):
        if values[j] > values[k]:
            k = j
    return k


@njit(cache=True)
def _one_asset(values, c, max_repay, factor, seized):
    """liquidation._one_asset: seize repaid × factor of the asset worth the most, capped by its value."""
    for j in range(c):
        seized[j] = 0.0
    k = _largest(values, c)
    if max_repay * factor >= values[k]:
        seized[k] = values[k]
        return values[k] / factor, 0.0
    seized[k] = max_repay * factor
    return max_repay, 0.0


@njit(cache=True)
def rule_amounts(kind, params, hf, values, c, bonus, debt_value, seized):
    """(debt value repaid, debt value written off); collateral value seized per asset into ``seized``:
    the `_amounts` of AaveV3, EulerV2, MorphoBlue and MakerStyle."""
    if kind == RULE_AAVE_V3:
        k = _largest(values, c)
        small = min(values[k], debt_value) < params[2]
        close = params[0] if hf > params[1] and not small else 1.0
        return _one_asset(values, c, close * debt_value, 1.0 + bonus[k], seized)
    if kind == RULE_EULER_V2:
        return _one_asset(values, c, debt_value, 1.0 / max(hf, 1.0 - params[0]), seized)
    if kind == RULE_MORPHO_BLUE:
        repay, _ = _one_asset(values, c, debt_value, params[0], seized)
        return repay, (debt_value - repay if seized[0] >= values[0] else 0.0)
    # RULE_MAKER: the whole debt plus the penalty, from the assets worth the most first
    need = debt_value * (1.0 + params[0])
    taken = np.zeros(c, np.bool_)
    for _ in range(c):
        k = -1
        for j in range(c):
            if not taken[j] and (k < 0 or values[j] > values[k]):
                k = j
        taken[k] = True
        seized[k] = min(need, values[k])
        need -= seized[k]
    raised = 0.0
    for j in range(c):
        raised += seized[j]
    repaid = min(debt_value, raised)
    return repaid, debt_value - repaid


@njit(cache=True)
def liquidate_once(kind, params, units, p, pd, coll, lt, bonus, c, owed, values, seized, seized_units):
    """One liquidation at prices ``p`` (debt price ``pd``): seizes from ``units`` in place and returns
    (owed after, debt units repaid, penalty value, debt units written off) — LiquidationRule.liquidate."""
    collateral_values(units, p, coll, c, values)
    debt_value = owed * pd
    hf = health_factor(values, lt, c, debt_value)
    repaid_value, written_off = rule_amounts(kind, params, hf, values, c, bonus, debt_value, seized)
    total = 0.0
    for j in range(c):
        s = min(seized[j], values[j])  # never more than is held
        seized[j] = s
        total += s
        i = coll[j]
        held = max(units[i], 0.0)
        seized_units[j] = s / p[i] if s < values[j] else held
        units[i] = max(held - seized_units[j], 0.0) if seized_units[j] > 0.0 else units[i]
    repaid = min(repaid_value / pd, owed)
    after = max(owed - repaid - written_off / pd, 0.0)
    return after, repaid, total - repaid * pd, written_off / pd


@njit(cache=True)
def boost_amounts(L, D, lk, pk, target, fee, gas):
    """(debt value borrowed, collateral value received) to land on ``target``: Δ = (L − l·G − t·D)/(t − l·γ);
    (0, 0) when there is nothing to borrow or the purchase would not cover the gas (band.boost_to)."""
    gamma = 1.0 - fee
    borrow = (L - lk * gas - target * D) / (target - lk * gamma)
    received = gamma * borrow - gas
    if borrow <= 0.0 or received <= 0.0:
        return 0.0, 0.0
    return borrow, received


@njit(cache=True)
def repay_amounts(L, D, lk, pk, held, target, fee, gas):
    """(units sold, swap proceeds net of fee and gas): x = (t·D + t·G − L)/(p·(γ·t − l)), at most what
    is held; (0, 0) when there is nothing to repay, the proceeds would not cover the gas, or γ·t ≤ l
    (band.repay_to; the engine refuses such a band before the run)."""
    gamma = 1.0 - fee
    if gamma * target <= lk:
        return 0.0, 0.0
    sold = min((target * D + target * gas - L) / (pk * (gamma * target - lk)), held)
    proceeds = gamma * pk * sold - gas
    if sold <= 0.0 or proceeds <= 0.0:
        return 0.0, 0.0
    return sold, proceeds


@njit(cache=True)
def _event(events, totals, t, k, kind, asset, coll_units, debt_units, value, penalty, gas, off, hf0, hf1):
    n = int(totals[LT_EVENTS])
    if n < events.shape[0]:
        row = events[n]
        row[EV_T], row[EV_LOAN], row[EV_KIND], row[EV_ASSET] = t, k, kind, asset
        row[EV_COLLATERAL], row[EV_DEBT], row[EV_VALUE] = coll_units, debt_units, value
        row[EV_PENALTY], row[EV_GAS], row[EV_WRITTEN_OFF] = penalty, gas, off
        row[EV_HF_BEFORE], row[EV_HF_AFTER] = hf0, hf1
    totals[LT_EVENTS] = n + 1


@njit(cache=True)
def _band_move(units, p, t, k, coll, lt, c, d, owed, band, prop, pool_fee, fixed, fixed_asset, values, events, totals):
    """The band's repay or boost (or the opening boost at close 1) at the close; returns owed after."""
    collateral_values(units, p, coll, c, values)
    pd = p[d]
    D = owed * pd
    hf = health_factor(values, lt, c, D)
    L = 0.0
    for j in range(c):
        L += values[j] * lt[j]
    opening = t == 1 and owed == 0.0 and not math.isnan(band[BAND_OPEN])
    if opening or (hf > band[BAND_BOOST_ABOVE] and not math.isnan(band[BAND_BOOST_TO])):
        target = band[BAND_OPEN] if opening else band[BAND_BOOST_TO]
        i = coll[0]
        fee, gas = prop[i] + pool_fee[i], fixed[t] + fixed_asset[t, i]
        borrow, received = boost_amounts(L, D, lt[0], p[i], target, fee, gas)
        if borrow == 0.0 or (not opening and abs(borrow / pd) * pd < band[BAND_MIN_CHANGE]):
            return owed
        bought = received / p[i]
        units[i] = max(units[i] + bought, 0.0)
        units[d] -= borrow / pd
        owed_after = max(owed + borrow / pd, 0.0)
        totals[LT_BOOSTS] += 1.0
        totals[LT_COSTS] += fee * borrow + gas
        _event(
            events,
            totals,
            t,
            k,
            EVENT_BOOST,
            i,
            bought,
            borrow / pd,
            received,
            fee * borrow,
            gas,
            0.0,
            hf,
            (L + lt[0] * received) / (D + borrow),
        )
        return owed_after
    if not hf < band[BAND_REPAY_BELOW]:  # NaN (no band) or in range
        return owed
    j = _largest(values, c)
    i = coll[j]
    fee, gas = prop[i] + pool_fee[i], fixed[t] + fixed_asset[t, i]
    sold, proceeds = repay_amounts(L, D, lt[j], p[i], max(units[i], 0.0), band[BAND_REPAY_TO], fee, gas)
    if sold == 0.0:
        return owed
    repaid = min(proceeds, D)
    if abs(-repaid / pd) * pd < band[BAND_MIN_CHANGE]:
        return owed
    units[i] = max(units[i] - sold, 0.0)
    units[d] += proceeds / pd  # the debt repaid, and any excess proceeds into the wallet
    owed_after = max(owed - repaid / pd, 0.0)
    after_debt = D - repaid
    hf_after = math.inf if after_debt == 0.0 else (L - lt[j] * p[i] * sold) / after_debt
    totals[LT_REPAYS] += 1.0
    totals[LT_COSTS] += fee * p[i] * sold + gas
    _event(
        events,
        totals,
        t,
        k,
        EVENT_REPAY,
        i,
        -sold,
        -repaid / pd,
        p[i] * sold,
        fee * p[i] * sold,
        gas,
        0.0,
        hf,
        hf_after,
    )
    return owed_after


@njit(cache=True)
def _liquidate(units, p, pd, t, k, kind, params, coll, lt, bonus, c, d, owed, hf, scratch, events, totals):
    """The rule, called while HF < 1 (at most MAX_LIQUIDATIONS times); returns what is owed after.
    Out of line: it runs at few closes."""
    values = scratch[0]
    seized = scratch[1]
    seized_units = scratch[2]
    rounds = 0
    while hf < 1.0 and owed > 0.0 and rounds < MAX_LIQUIDATIONS:
        rounds += 1
        after, repaid, penalty, off = liquidate_once(
            kind, params, units, p, pd, coll, lt, bonus, c, owed, values, seized, seized_units
        )
        if after == owed:  # nothing left to seize (the debt stays owed, as under Aave)
            break
        units[d] += owed - after
        owed = after
        j = _largest(seized, c)
        collateral_values(units, p, coll, c, values)
        hf_after = health_factor(values, lt, c, after * pd)
        totals[LT_LIQUIDATIONS] += 1.0
        totals[LT_PENALTY] += penalty
        totals[LT_WRITTEN_OFF] += off * pd
        value = penalty + repaid * pd  # all collateral seized, at the prices used
        _event(
            events,
            totals,
            t,
            k,
            EVENT_LIQUIDATION,
            coll[j],
            -seized_units[j],
            -repaid,
            value,
            penalty,
            0.0,
            off,
            hf,
            hf_after,
        )
        hf = hf_after
    return owed


@njit(cache=True, inline="always")  # runs at every close: a call passing ~20 arrays cost more than the step
def loans_close(units, prices, t, prop, pool_fee, fixed, fixed_asset, loans, hf_rows, events, totals, scratch):
    """Every loan at close ``t``: accrue the debt, liquidate while HF < 1 (at the period's low when lows
    are given), then the band at the close. Mutates ``units`` and ``loans.owed``; records into the
    loan book's arrays; ``scratch`` is float64[3, C]. Returns whether any holding changed. The rare
    parts (liquidations, band moves) are calls out of line."""
    collateral = loans.collateral
    lts = loans.lt
    bonuses = loans.bonus
    debts = loans.debt
    growth = loans.debt_growth
    rules = loans.rule
    params = loans.rule_params
    bands = loans.band
    low = loans.low
    owed = loans.owed
    K = collateral.shape[0]
    values = scratch[0]
    lows = low.shape[0] > 0
    row = t if hf_rows.shape[0] > 1 else 0
    changed = False
    for k in range(K):
        c = n_collateral(collateral[k])
        d = debts[k]
        pd = prices[t, d]  # a low for the debt asset would raise HF: the debt is valued at the close
        debt = owed[k]
        if t > 0 and debt > 0.0:
            grown = debt * growth[t, k]  # LoanState.accrue
            units[d] -= grown - debt
            totals[LT_BORROW_PAID] += (grown - debt) * pd
            debt = grown
            changed = True
        checked = low if lows else prices
        hf = _health_at(units, checked, t, collateral[k], lts[k], c, debt * pd, values)
        totals[LT_MIN_HF] = min(totals[LT_MIN_HF], hf)
        moved = False
        if hf < 1.0 and debt > 0.0:
            before = debt
            debt = _liquidate(
                units,
                checked[t],
                pd,
                t,
                k,
                rules[k],
                params[k],
                collateral[k],
                lts[k],
                bonuses[k],
                c,
                d,
                debt,
                hf,
                scratch,
                events,
                totals,
            )
            moved = debt != before
        if lows or moved:
            hf = _health_at(units, prices, t, collateral[k], lts[k], c, debt * pd, values)
        below, above, boost_to = bands[k, BAND_REPAY_BELOW], bands[k, BAND_BOOST_ABOVE], bands[k, BAND_BOOST_TO]
        opening = t == 1 and debt == 0.0 and not math.isnan(bands[k, BAND_OPEN])
        if opening or hf < below or (hf > above and not math.isnan(boost_to)):
            before = debt
            debt = _band_move(
                units,
                prices[t],
                t,
                k,
                collateral[k],
                lts[k],
                c,
                d,
                debt,
                bands[k],
                prop,
                pool_fee,
                fixed,
                fixed_asset,
                values,
                events,
                totals,
            )
            if debt != before:
                moved = True
                hf = _health_at(units, prices, t, collateral[k], lts[k], c, debt * pd, values)
        owed[k] = debt
        changed = changed or moved
        hf_rows[row, k] = hf
    return changed
