"""Human-facing output: messages and progress on stderr, quiet when asked or not on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

T = TypeVar("T")

#: Verbosity: -1 quiet, 0 normal, 1+ verbose. Set once by the CLI's top-level options.
verbosity = 0

# soft_wrap: a message is one line in a log, never broken at an assumed 80 columns.
_stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def stderr() -> Console:
    """Return the rich console that writes to stderr."""
    return _stderr


def info(message: str) -> None:
    """Print a status line on stderr unless quiet."""
    if verbosity >= 0:
        _stderr.print(message, markup=False)


def plural(count: int, word: str, many: str | None = None) -> str:
    """``count`` and ``word`` in the right number: plural(1, "subject") -> "1 subject", plural(3, "identity",
    "identities") -> "3 identities" (``many`` defaults to ``word`` + "s")."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def warn(message: str) -> None:
    """Print ``painctl: warning: <message>`` on stderr (also when quiet: it is about the results)."""
    _stderr.print(f"painctl: warning: {message}", markup=False)


def debug(message: str) -> None:
    """Print a line on stderr only with -v."""
    if verbosity >= 1:
        _stderr.print(message, markup=False, style="dim")


def progress_enabled() -> bool:
    """True when a progress bar should be drawn: not quiet and stderr is a terminal."""
    return verbosity >= 0 and sys.stderr.isatty()


def track(items: Iterable[T], total: int | None = None, description: str = "working") -> Iterator[T]:
    """Yield from ``items`` while drawing a rich progress bar on stderr (when enabled)."""
    if not progress_enabled():
        yield from items
        return
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=_stderr, transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
