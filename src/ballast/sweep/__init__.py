"""Parameter sweeps: many configurations through one batched kernel, locally or on Dask.

``ballast.sweep`` is both this package and the function: once the package is imported it
shadows the lazily exported function on ``ballast``, so the package itself is callable.
"""

import sys
import types
from typing import Any

from ballast.sweep.runner import sweep, walk_forward

__all__ = ["sweep", "walk_forward"]


class _CallablePackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
