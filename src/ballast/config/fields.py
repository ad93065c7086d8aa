"""Where in a strategy file a pydantic error points: one wording for every TOML section."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

# Fields named with a trailing underscore because the TOML key is a Python keyword or a module name.
ALIASES = {"json_": "json", "yield_": "yield"}


def field_path(loc: tuple[Any, ...], section: str | None = None, whole: str = "") -> str:
    """``[section] a.b`` for an error location (list indices dropped, ``json_`` read as ``json``).

    Without ``section`` the location's first part is the section (``[data] prices``; a top-level
    key alone is just its name). ``whole`` names the section itself when the error has no field.
    """
    parts = [ALIASES.get(str(p), str(p)) for p in loc if not isinstance(p, int)]
    if section is None:
        if len(parts) <= 1:
            return parts[0] if parts else "top level"
        section, parts = f"[{parts[0]}]", parts[1:]
    return f"{section} {'.'.join(parts) or whole}".rstrip()


def validation_message(
    exc: ValidationError, section: str | None = None, prefix: str = "", sep: str = "\n", whole: str = ""
) -> str:
    """Every error of ``exc`` as ``{prefix}{field}: {message}``, joined by ``sep``."""
    return sep.join(f"{prefix}{field_path(e['loc'], section, whole)}: {e['msg']}" for e in exc.errors())
