"""Every TOML section of a strategy file: parsed, validated with pydantic, errors naming file and field.

``strategy.py`` is the file and its strategy sections, ``treasury.py`` ``[yield]``, ``[[flows]]`` and
``[treasury]``, ``sweep.py`` ``[sweep]``, ``live.py`` ``[live]``; ``fields.py`` words the errors.
A new section goes here, next to the others.
"""

from ballast.config.strategy import StrategyFile, build_target, load_strategy, load_strategy_file

__all__ = ["StrategyFile", "build_target", "load_strategy", "load_strategy_file"]
