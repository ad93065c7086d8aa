"""Every TOML section of a strategy file: parsed, validated with pydantic, errors naming file and field.

``strategy.py``: the file and the strategy's sections; ``treasury.py``: ``[yield]``, ``[[flows]]``,
``[treasury]``; ``sweep.py``: ``[sweep]``; ``live.py``: ``[live]``; ``report.py``: ``[report]``;
``fields.py`` words the errors. A new section goes here, next to the others.
"""

from ballast.config.strategy import StrategyFile, build_target, load_strategy, load_strategy_file

__all__ = ["StrategyFile", "build_target", "load_strategy", "load_strategy_file"]
