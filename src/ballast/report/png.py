"""PNG export of the tearsheet's figures through kaleido, driving a locally installed Chromium.

kaleido (v1) renders with a real Chrome/Chromium. We point it at the system browser (Debian's
``/usr/bin/chromium``, or ``BALLAST_CHROMIUM`` / ``BROWSER_PATH``) and keep it offline: plotly.js
comes from the plotly package and MathJax (a CDN script by default) is switched off.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ballast.errors import InputError
from ballast.report.files import make_folder

if TYPE_CHECKING:
    from ballast.report.plotting import Figure

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
WIDTH = 1100


def chromium_path() -> str | None:
    """The browser to render with: an explicit setting first, then the usual system locations."""
    for var in ("BALLAST_CHROMIUM", "BROWSER_PATH"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return value
    for path in CANDIDATES:
        if Path(path).is_file() and os.access(path, os.X_OK):
            return path
    return shutil.which("chromium") or shutil.which("google-chrome")


def png_unavailable() -> str | None:
    """Why PNG export cannot run here (kaleido or the browser missing), or None: checked before
    any work, so a command can say so up front instead of failing after the backtest."""
    import importlib.util

    if importlib.util.find_spec("kaleido") is None:
        return "PNG export needs kaleido: pip install 'ballast[png]' (and a Chromium, e.g. apt-get install chromium)"
    if chromium_path() is None:
        return (
            "PNG export needs Chromium or Chrome; install it (apt-get install chromium) "
            "or set BALLAST_CHROMIUM to its path"
        )
    return None


def export(figures: Sequence["Figure"], directory: Path, scale: float = 2.0) -> list[Path]:
    """Write ``<key>.png`` for each figure; a missing kaleido or browser is a clear user error."""
    problem = png_unavailable()
    if problem is not None:
        raise InputError(problem)
    import kaleido

    browser = chromium_path()
    assert browser is not None  # png_unavailable() found one
    make_folder(directory)
    paths = [directory / f"{f.key}.png" for f in figures]
    specs = [
        {
            "fig": without_buttons(f.figure.to_dict()),
            "path": p,
            "opts": {"format": "png", "width": WIDTH, "height": int(f.figure.layout.height or 400), "scale": scale},
        }
        for f, p in zip(figures, paths, strict=True)
    ]
    previous = os.environ.get("BROWSER_PATH")
    os.environ["BROWSER_PATH"] = browser  # choreographer (kaleido's browser driver) reads this
    try:
        kaleido.write_fig_from_object_sync(specs, kopts={"mathjax": False})
    finally:
        if previous is None:
            os.environ.pop("BROWSER_PATH", None)
        else:
            os.environ["BROWSER_PATH"] = previous
    missing = [str(p) for p in paths if not p.is_file() or p.stat().st_size == 0]
    if missing:
        raise RuntimeError(f"kaleido did not write {', '.join(missing)}")
    return paths


def without_buttons(spec: dict[str, Any]) -> dict[str, Any]:
    """A figure without its interactive buttons (the log/linear toggle): a PNG cannot press them."""
    spec.get("layout", {}).pop("updatemenus", None)
    return spec
