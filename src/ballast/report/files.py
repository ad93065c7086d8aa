"""Writing report files: whole or not at all, and a full disk or a bad path is a user error."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ballast.errors import InputError


def make_folder(folder: Path) -> None:
    """``folder`` and its parents, or an InputError naming the path (e.g. a file in the way)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create folder {folder}: {exc.strerror or exc}") from None


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename, so a
    full disk or an interruption never leaves a half-written report behind. Returns the absolute path."""
    make_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path.resolve()
