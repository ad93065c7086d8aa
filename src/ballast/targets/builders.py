"""Risk targets and constraints from plain keys (the ``[target]`` table of a strategy file).

    [target]
    kind = "risk_parity"            # inverse_vol | risk_parity | min_variance | vol_target
    lookback = 60
    shrinkage = "ledoit_wolf"       # risk_parity / min_variance: ledoit_wolf | constant_correlation | none
    assets = ["BTC", "ETH"]         # the universe the risk weights spread over (default: all)
    # constraints, for any kind (fixed and equal too):
    min_weight = 0.05               # or { BTC = 0.1 }
    max_weight = 0.5
    min_reserve = { asset = "USDT", min_weight = 0.1 }
    runway = { asset = "USDT", monthly_spend = 50000, months = 12 }
    max_turnover = 0.25

Every problem raises ValueError naming the key and what was expected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ballast.targets.base import Target
from ballast.targets.constraints import Bounds, Reserve, Runway, TurnoverLimit
from ballast.targets.risk import ESTIMATORS, InverseVol, MinVariance, RiskParity, VolTarget

CONSTRAINT_KEYS = ("min_weight", "max_weight", "min_reserve", "runway", "max_turnover")


def _take(params: dict[str, Any], kind: str, allowed: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"unexpected key(s) {', '.join(unknown)} for kind {kind!r}; "
            f"expected: {', '.join(sorted(allowed)) or 'none'}"
        )
    for key, value in params.items():
        types = allowed[key]
        if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            raise ValueError(f"{key} must be {_name(types)}, got {value!r}")
        if not isinstance(value, types):
            raise ValueError(f"{key} must be {_name(types)}, got {value!r}")
    return params


def _name(types: type | tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a table"}
    ts = types if isinstance(types, tuple) else (types,)
    if int in ts and float in ts:
        ts = tuple(t for t in ts if t is not int)
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in ts))


NUM = (int, float)


def inverse_vol(p: dict[str, Any]) -> Target:
    _take(p, "inverse_vol", {"lookback": int, "estimator": str, "assets": list})
    if "estimator" in p and p["estimator"] not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {p['estimator']!r}")
    return InverseVol(**p)


def risk_parity(p: dict[str, Any]) -> Target:
    _take(p, "risk_parity", {"lookback": int, "shrinkage": str, "assets": list})
    return RiskParity(**p)


def min_variance(p: dict[str, Any]) -> Target:
    _take(p, "min_variance", {"lookback": int, "shrinkage": str, "assets": list, "bounds": (list, dict)})
    if "bounds" in p:
        b = p["bounds"]
        p = {
            **p,
            "bounds": {k: tuple(v) if isinstance(v, list) else v for k, v in b.items()}
            if isinstance(b, dict)
            else tuple(b),
        }
    return MinVariance(**p)


def vol_target(p: dict[str, Any], build_inner: Callable[[dict[str, Any]], Target]) -> Target:
    _take(p, "vol_target", {"target_vol": NUM, "lookback": int, "max_leverage": NUM, "reserve": str, "inner": dict})
    if "target_vol" not in p:
        raise ValueError("kind 'vol_target' needs target_vol (annualised, e.g. target_vol = 0.3)")
    inner = build_inner(dict(p.pop("inner", {"kind": "equal"})))
    return VolTarget(inner, **p)


def wrap_constraints(target: Target, p: Mapping[str, Any]) -> Target:
    """Wrap ``target`` in the constraints named by the constraint keys of ``p``."""
    _take(
        dict(p),
        "constraints",
        {
            "min_weight": (*NUM, dict),
            "max_weight": (*NUM, dict),
            "min_reserve": dict,
            "runway": dict,
            "max_turnover": NUM,
        },
    )
    if "min_weight" in p or "max_weight" in p:
        target = Bounds(target, p.get("min_weight", 0.0), p.get("max_weight", 1.0))
    if "min_reserve" in p:
        r = _take(dict(p["min_reserve"]), "min_reserve", {"asset": str, "min_weight": NUM})
        if set(r) != {"asset", "min_weight"}:
            raise ValueError(
                'min_reserve needs asset and min_weight, e.g. min_reserve = { asset = "USDT", min_weight = 0.1 }'
            )
        target = Reserve(target, r["asset"], r["min_weight"])
    if "runway" in p:
        r = _take(dict(p["runway"]), "runway", {"asset": str, "monthly_spend": NUM, "months": NUM})
        if set(r) != {"asset", "monthly_spend", "months"}:
            raise ValueError(
                "runway needs asset, monthly_spend and months, e.g. "
                'runway = { asset = "USDT", monthly_spend = 50000, months = 12 }'
            )
        target = Runway(target, r["asset"], r["monthly_spend"], r["months"])
    if "max_turnover" in p:
        target = TurnoverLimit(target, p["max_turnover"])
    return target


RISK_KINDS: dict[str, Callable[..., Target]] = {
    "inverse_vol": inverse_vol,
    "risk_parity": risk_parity,
    "min_variance": min_variance,
}
