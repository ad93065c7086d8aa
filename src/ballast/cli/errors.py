"""One rule for every command: a user's mistake is one ``error: …`` line and exit 2; anything
else is a bug and keeps its traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from ballast.cli.output import fail
from ballast.errors import InputError

P = ParamSpec("P")
R = TypeVar("R")


def mistakes() -> tuple[type[BaseException], ...]:
    """The exceptions that mean the input (a file, a flag, a ledger address) is wrong."""
    from pydantic import ValidationError

    found: list[type[BaseException]] = [InputError, ValueError, KeyError, FileNotFoundError, ValidationError]
    try:  # the live extras may be missing; then their errors cannot happen either
        from ballast.live.database import LedgerUnavailable
        from ballast.live.lease import LeaseError
    except ImportError:
        return tuple(found)
    return (*found, LedgerUnavailable, LeaseError)


def message(exc: BaseException) -> str:
    """The exception's text (a KeyError's key without the quotes ``str`` would add)."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc)


def user_mistakes(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so that `mistakes` end in ``error: …`` + exit 2 and bugs stay visible."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except Exception as exc:
            if isinstance(exc, mistakes()):
                fail(message(exc))
            raise

    return run
