"""The CLI's consoles: tables on stdout at their full width when piped, messages on stderr."""

from __future__ import annotations

import os

from rich.console import Console

__all__ = ["PIPED_WIDTH", "errors", "output"]

PIPED_WIDTH = 4096
"""Wide enough for any table row: a file or a pipe has no edge to wrap at (rich would use 80)."""


def output() -> Console:
    """A console on stdout; when it is not a terminal (and COLUMNS is unset), rows are not cut at 80."""
    console = Console()
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = Console(width=PIPED_WIDTH)
    return console


def errors() -> Console:
    return Console(stderr=True)
