"""Where the local host serves the dashboard's page (``dashboard/blueprint.py`` routes ``dashboard/{*path}``)."""

from __future__ import annotations

__all__ = ["PAGE_PATH", "page_url"]

PAGE_PATH = "/api/dashboard/"


def page_url(port: int, host: str = "127.0.0.1") -> str:
    """Where the local host serves the page."""
    return f"http://{host}:{port}{PAGE_PATH}"
