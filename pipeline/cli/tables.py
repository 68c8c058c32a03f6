"""Tables that fit the width they are shown at: job ids and states whole, the rest shortened or left out.

Each column says how it gives way when the table is too wide: ``keep`` columns (ids, outcomes) are
never cut; ``middle`` columns (URLs) lose their middle to an ellipsis; ``fold`` columns (labels,
exceptions) wrap onto more lines; and columns are left out, least important first, when even that
is not enough. Rows stay on the lines a reader greps for: a kept cell is never wrapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["Column", "fit_table", "middle", "print_table"]

_EDGE = 3
"""Characters a column adds to a row besides its cells: one space either side and a rule."""
_MIN_SHRUNK = 12


def middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, its middle replaced by an ellipsis (a URL keeps host and file)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


@dataclass
class Column:
    name: str
    cells: list[str] = field(default_factory=list)
    give: Literal["keep", "middle", "fold"] = "fold"
    drop: int = 0
    """Left out when the table does not fit: the smallest first; 0 is never left out."""
    justify: Literal["left", "right"] = "left"

    @property
    def natural(self) -> int:
        return max([len(self.name), *(max((len(line) for line in c.splitlines()), default=0) for c in self.cells)])

    @property
    def least(self) -> int:
        return self.natural if self.give == "keep" else min(self.natural, _MIN_SHRUNK)


def _overhead(columns: Sequence[Column]) -> int:
    return _EDGE * len(columns) + 1


def fit_table(columns: Sequence[Column], *, width: int, title: str | None = None,
              show_lines: bool = False) -> tuple[Table, int, list[str]]:
    """The table for ``width`` columns, the width to print it at (more only when the kept cells need it), and the
    names of the columns left out."""
    shown = list(columns)
    while sum(c.least for c in shown) + _overhead(shown) > width and any(c.drop for c in shown):
        shown.remove(min((c for c in shown if c.drop), key=lambda c: c.drop))
    room = width - _overhead(shown) - sum(c.natural for c in shown if c.give == "keep")
    flexible = [c for c in shown if c.give != "keep"]
    widths = {id(c): c.natural for c in shown}
    wanted = sum(c.natural for c in flexible)
    if wanted > room and flexible:
        # Shared in proportion to what each wants, never below its least.
        spare = max(0, room - sum(c.least for c in flexible))
        extra = sum(c.natural - c.least for c in flexible) or 1
        for c in flexible:
            widths[id(c)] = c.least + (c.natural - c.least) * spare // extra
    table = Table(title=Text(title) if title else None, title_justify="left", show_lines=show_lines)
    for c in shown:
        w = widths[id(c)]
        if c.give == "keep":
            table.add_column(c.name, no_wrap=True, min_width=w, justify=c.justify)
        else:
            table.add_column(c.name, overflow="fold", width=w, justify=c.justify)
    for row in range(max((len(c.cells) for c in shown), default=0)):
        cells = []
        for c in shown:
            text = c.cells[row] if row < len(c.cells) else ""
            cells.append(Text(middle(text, widths[id(c)]) if c.give == "middle" else text))  # data, not markup
        table.add_row(*cells)
    needed = sum(widths[id(c)] for c in shown) + _overhead(shown)
    return table, max(width, needed), [c.name for c in columns if c not in shown]


def print_table(console: Console, columns: Sequence[Column], *, title: str | None = None,
                show_lines: bool = False, hint: str = "") -> None:
    """Print the fitted table; when columns were left out, a line names them (with ``hint``: where to see them)."""
    table, width, dropped = fit_table(columns, width=console.width, title=title, show_lines=show_lines)
    console.print(table, width=width, crop=False)
    if dropped:
        console.print(f"left out at {console.width} columns: {', '.join(dropped)}{hint}", style="dim",
                      highlight=False, markup=False)
