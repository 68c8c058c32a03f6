"""The CLI's consoles: tables on stdout, fitted to the terminal (or a fixed width when piped), messages on stderr."""

from __future__ import annotations

import os

from rich.console import Console

__all__ = ["PIPED_WIDTH", "errors", "output"]

PIPED_WIDTH = 120
"""The width of tables written to a file or a pipe (rich would use 80): wide enough for a row of ids and states,
narrow enough to read in an editor; long cells fold onto more lines of their row. COLUMNS overrides it."""


def output() -> Console:
    """A console on stdout; when it is not a terminal (and COLUMNS is unset), tables are laid out for PIPED_WIDTH."""
    console = Console()
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = Console(width=PIPED_WIDTH)
    return console


def errors() -> Console:
    """A console on stderr whose messages are never wrapped: a piped message stays one greppable line."""
    return Console(stderr=True, soft_wrap=True)
