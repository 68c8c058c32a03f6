"""HTTP responses of the app's functions (dashboard, dependencies API): JSON, errors, the security headers."""

from __future__ import annotations

import json
from collections.abc import Mapping

import azure.functions as func

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "error", "json_response"]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
"""Only the app's own files run; no inline script or style, no other origin (previews are blob: URLs)."""

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def json_response(value: object, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(value), status_code=status, mimetype="application/json",
                             headers=dict(SECURITY_HEADERS))


def error(status: int, message: str) -> func.HttpResponse:
    return json_response({"error": message}, status)
