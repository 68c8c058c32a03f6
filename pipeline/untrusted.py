"""Showing values that came from a message, an image or a user, so that they cannot forge a log line."""

from __future__ import annotations

import re

__all__ = ["one_line"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(value: object, limit: int = 300) -> str:
    """``value`` as text on one line: control characters escaped (``\\r\\n`` → ``\\x0d\\x0a``), cut at ``limit``."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"
