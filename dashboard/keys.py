"""Which batch ids, job ids and blob names can exist at all, checked before storage is asked.

A batch or job id is a ``pipelinelogs`` key: Azure Table storage refuses ``/ \\ # ?`` and control
characters in keys and keys above 1 KiB, with an error rather than "not found". A blob name has at
most 1,024 characters and 254 segments. A request for anything else is answered 400 with the rule.
"""

from __future__ import annotations

import re

__all__ = ["MAX_BLOB_NAME", "MAX_KEY", "bad_blob_name", "bad_key"]

MAX_KEY = 1024
MAX_BLOB_NAME = 1024
_MAX_SEGMENTS = 254
_FORBIDDEN = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


def bad_key(kind: str, value: str) -> str | None:
    """Why ``value`` cannot be a ``kind`` (batch or job) id, or None when it can."""
    if not value:
        return f"a {kind} id is not empty"
    if len(value) > MAX_KEY:
        return f"a {kind} id has at most {MAX_KEY} characters (this one has {len(value)})"
    if _FORBIDDEN.search(value):
        return f"a {kind} id never contains '/', '\\', '#', '?' or control characters"
    return None


def bad_blob_name(name: str) -> str | None:
    """Why ``name`` cannot be a blob's name, or None when it can."""
    if len(name) > MAX_BLOB_NAME:
        return f"a blob name has at most {MAX_BLOB_NAME} characters (this one has {len(name)})"
    if name.count("/") >= _MAX_SEGMENTS:
        return f"a blob name has at most {_MAX_SEGMENTS} segments"
    return None
