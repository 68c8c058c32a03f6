"""The CLI's consoles: tables on stdout, fitted to the terminal (or a fixed width when piped), messages on stderr."""

from __future__ import annotations

import os

from rich.console import Console

__all__ = ["PIPED_WIDTH", "TABLE_WIDTH", "errors", "output"]

PIPED_WIDTH = 4096
"""Wide enough for any row: a file or a pipe has no edge to wrap at (rich would use 80)."""
TABLE_WIDTH = 120
"""The width `status` and `results` lay their tables out for when piped: wide enough for a row of ids and states,
narrow enough to read in an editor (a job's 600-character outputs fold within it). COLUMNS overrides it."""


def output(*, piped_width: int = PIPED_WIDTH) -> Console:
    """A console on stdout; when it is not a terminal (and COLUMNS is unset), ``piped_width`` wide."""
    console = Console()
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = Console(width=piped_width)
    return console


def errors() -> Console:
    """A console on stderr whose messages are never wrapped: a piped message stays one greppable line."""
    return Console(stderr=True, soft_wrap=True)
