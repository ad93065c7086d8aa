"""Logging for the live service: a human line per event on a terminal, or one JSON object per
line (``--log-json``) for a log collector; every event carries its fields as ``extra``."""

from __future__ import annotations

import json
import logging
from datetime import datetime


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, message and any ``extra`` fields."""

    SKIP = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in self.SKIP})
        return json.dumps(out, default=str)


def setup_logging(as_json: bool, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if as_json else logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger("ballast")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
