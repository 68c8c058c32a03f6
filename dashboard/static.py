"""The page's files (``dashboard/static``), served as they are: no build step, nothing from elsewhere."""

from __future__ import annotations

from pathlib import Path

import azure.functions as func

from pipeline.responses import SECURITY_HEADERS, error

__all__ = ["STATIC_DIR", "static_file"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
          ".png": "image/png", ".ico": "image/x-icon"}


def static_file(path: str) -> func.HttpResponse:
    """A file of STATIC_DIR by its name; the page itself for the empty path and for page routes."""
    name = path.strip("/")
    if not name or "." not in name.rsplit("/", 1)[-1]:
        name = "index.html"  # page addresses (#/results, …) all load the one page
    file = (STATIC_DIR / name).resolve()
    if not file.is_relative_to(STATIC_DIR) or not file.is_file() or file.suffix not in _TYPES:
        return error(404, "no such file")
    headers = dict(SECURITY_HEADERS)
    headers["Cache-Control"] = "no-cache"
    return func.HttpResponse(file.read_bytes(), mimetype=_TYPES[file.suffix], headers=headers)
