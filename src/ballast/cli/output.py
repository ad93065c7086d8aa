"""What every command shares for talking to the user: the consoles, ``fail``, the compile notice,
and the report files a backtest writes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """``error: message`` on stderr, then exit ``code`` (2: the user's input was wrong)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)  # "[live] x" is not markup
    raise typer.Exit(code)


_announced = [False]


def announce_compile() -> None:
    """In a pipe or CI no spinner shows, so say once, on stderr, why the first run is silent for
    a while: when numba's cache for the walk is cold (or cannot be read), the kernel compiles."""
    if _announced[0] or console.is_terminal:
        return
    _announced[0] = True
    try:
        from ballast.engine.kernel import simulate

        if simulate._cache._cache_file._load_index():  # numba's index of compiled versions, if current
            return
    except Exception:
        pass
    print("compiling the kernel (first run only, up to ~1 min)...", file=sys.stderr, flush=True)


def png_warning(png: Path | None) -> str | None:
    """Say before any work when --png cannot be honoured (no kaleido or browser); returns why."""
    if png is None:
        return None
    from ballast.report.png import png_unavailable

    problem = png_unavailable()
    if problem is not None:
        err.print(f"[yellow]--png: {escape(problem)}; the HTML and the summary are still written[/]")
    return problem


def write_report(result: Any, path: Path, options: Any, quiet: bool = False) -> Path:
    """The HTML tearsheet of one result, with the file's [report] options."""
    try:
        from ballast.report.html import write_tearsheet
    except ImportError:
        fail("the HTML report is not available in this installation")
    written: Path = write_tearsheet([result], path, title=options.title, vol_window=options.vol_window)
    if not quiet:
        console.print(f"report: {written}")
    return written
