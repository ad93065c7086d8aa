"""From a strategy file and command-line flags to a `Strategy`, its data options and [report]."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ballast.errors import InputError

# Cost flags and the [costs] field each one overrides.
COST_FLAGS = {"fee_bps": "fee_bps", "fixed_cost": "fixed", "min_trade": "min_trade"}


def resolve_strategy(strategy_file: Path | None, overrides: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Strategy from the TOML file (if any) with CLI flags on top; returns (strategy, data options)."""
    from ballast.config import load_strategy_file
    from ballast.strategy import build_strategy

    keywords: dict[str, Any] = {}
    data: dict[str, Any] = {
        "prices": "crypto",
        "relatives": False,
        "fill": None,
        "assets": None,
        "start": None,
        "end": None,
        "periods_per_year": None,
        "dayfirst": False,
    }
    set_flags = {k: v for k, v in overrides.items() if v is not None}
    if strategy_file is not None:
        cfg = load_strategy_file(strategy_file)
        # A cost flag overrides only the field it names; the rest of the file's [costs] stays.
        named = {field: set_flags.pop(flag) for flag, field in COST_FLAGS.items() if flag in set_flags}
        if named:
            cfg = cfg.with_costs(**named)
        keywords = cfg.keywords()
        data.update(cfg.data.model_dump())
        data["prices"] = cfg.prices_path()
    if ("band" in set_flags or "rebalance" in set_flags) and "rebalance" not in set_flags:
        keywords["rebalance"] = None
    for k in ("prices", "relatives", "fill", "dayfirst"):
        if k in set_flags and set_flags[k] is not False:
            data[k] = set_flags.pop(k)
        set_flags.pop(k, None)
    keywords.update(set_flags)
    if data.pop("dayfirst"):  # DD/MM/YYYY dates: parsed here, the engine gets the dated table
        from ballast.data.loaders import read_dated

        data["prices"] = read_dated(data["prices"], dayfirst=True)
    return build_strategy(**keywords), data


def check_formed(result: Any, source: Path | None = None) -> None:
    """A portfolio that was never formed (the capital cannot pay the costs of forming it) is a
    mistake in the inputs, not a flat backtest."""
    if not result.raw.weights[0].any():  # nothing held after the first close
        s = result.strategy
        where = f"{source}: " if source is not None else ""
        raise InputError(
            f"{where}the portfolio was never formed: capital {s.capital:,.2f} cannot pay the costs "
            f"of buying {result.market.n_assets} assets ({s.costs.describe()}); raise [portfolio] "
            "capital or lower the fixed costs"
        )


def file_report_options(strategy_file: Path | None) -> Any:
    """The file's [report] section (title, vol_window), honoured by every command that draws it."""
    from ballast.config import load_strategy_file
    from ballast.config.report import ReportOptions, report_options

    if strategy_file is None:
        return ReportOptions()
    return report_options(load_strategy_file(strategy_file).report, strategy_file)
