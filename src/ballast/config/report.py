"""The strategy file's optional ``[report]`` section: how the tearsheet is drawn.

[report]
title = "Treasury rules compared"   # page heading (default: the strategy names)
vol_window = 30                     # periods in the rolling-volatility window
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ballast.config.fields import validation_message
from ballast.errors import InputError


class ReportOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1)
    vol_window: int | None = Field(default=None, ge=2)


def report_options(section: dict[str, Any] | None, source: Path | None) -> ReportOptions:
    """Validate a ``[report]`` table; mistakes name the file and the key."""
    try:
        return ReportOptions.model_validate(section or {})
    except ValidationError as exc:
        where = f"{source}: " if source is not None else ""
        raise InputError(validation_message(exc, "[report]", prefix=where, whole="section")) from None
