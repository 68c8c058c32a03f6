"""The local host's HTTP side: route templates matched the way Azure Functions matches them.

A function's ``route`` is an ASP.NET-style template under the ``api/`` prefix:

- literal segments match case-insensitively (``batches``);
- ``{name}`` matches one non-empty segment, ``{name?}`` may be left out, ``{name=value}``
  has a default, ``{name:int}`` (``int``, ``long``, ``bool``, ``guid``, ``alpha``) constrains it;
- ``{*name}`` takes the rest of the path, slashes included (possibly empty).

Where several templates match, the most specific wins (literal before constrained before plain
before catch-all, segment by segment), as in Functions. The function gets a ``func.HttpRequest``
with ``route_params`` (percent-decoded) and ``params`` (the query string; a repeated key gives its
values joined by commas, as the Functions host does). Bodies above 100 MiB get 413, as in Azure.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import azure.functions as func

__all__ = ["MAX_BODY_BYTES", "ROUTE_PREFIX", "RouteTable", "RouteTemplate", "handler_for"]

_log = logging.getLogger(__name__)

ROUTE_PREFIX = "api"
MAX_BODY_BYTES = 100 * 1024 * 1024
"""The Functions host's request size limit (maxRequestLength, 100 MiB)."""

_JSON = {"Content-Type": "application/json"}
_PARAMETER = re.compile(r"^\{(?P<star>\*)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<kind>[a-z]+))?"
                        r"(?P<optional>\?)?(?:=(?P<default>[^}]*))?\}$")
_CONSTRAINTS: dict[str, Callable[[str], bool]] = {
    "int": lambda v: re.fullmatch(r"-?\d{1,10}", v) is not None and -2**31 <= int(v) < 2**31,
    "long": lambda v: re.fullmatch(r"-?\d{1,19}", v) is not None and -2**63 <= int(v) < 2**63,
    "bool": lambda v: v.lower() in ("true", "false"),
    "alpha": lambda v: re.fullmatch(r"[A-Za-z]+", v) is not None,
    "guid": lambda v: _is_guid(v),
}


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class Route(Protocol):
    """What the host knows of an HTTP function (``pipeline.host.localhost.HttpRoute``)."""

    @property
    def function_name(self) -> str: ...
    @property
    def route(self) -> str: ...
    @property
    def methods(self) -> tuple[str, ...]: ...
    @property
    def call(self) -> Callable[..., Any]: ...


@dataclass(frozen=True)
class _Segment:
    literal: str | None = None
    name: str = ""
    kind: str | None = None
    optional: bool = False
    default: str | None = None
    catch_all: bool = False

    @property
    def rank(self) -> int:
        """Lower is more specific."""
        if self.literal is not None:
            return 0
        if self.catch_all:
            return 4
        return 1 if self.kind else 2


class RouteTemplate:
    """One route template; ``match(path)`` gives its route parameters or None."""

    def __init__(self, template: str) -> None:
        self.template = template
        self._segments = [self._segment(part) for part in template.strip("/").split("/") if part]
        for index, segment in enumerate(self._segments):
            if segment.catch_all and index != len(self._segments) - 1:
                raise ValueError(f"route {template!r}: a catch-all parameter must come last")

    @staticmethod
    def _segment(part: str) -> _Segment:
        if "{" not in part and "}" not in part:
            return _Segment(literal=part.lower())
        found = _PARAMETER.match(part)
        if found is None:
            raise ValueError(f"route segment {part!r} is not a literal or a {{parameter}}")
        kind = found.group("kind")
        if kind is not None and kind not in _CONSTRAINTS:
            raise ValueError(f"route segment {part!r}: unknown constraint {kind!r}")
        return _Segment(name=found.group("name"), kind=kind, optional=bool(found.group("optional")),
                        default=found.group("default"), catch_all=bool(found.group("star")))

    @property
    def precedence(self) -> tuple[int, ...]:
        return tuple(s.rank for s in self._segments)

    def match(self, path: str) -> dict[str, str] | None:
        """``path`` is the part after ``api/``, still percent-encoded."""
        parts = [p for p in path.strip("/").split("/")] if path.strip("/") else []
        params: dict[str, str] = {}
        for index, segment in enumerate(self._segments):
            if segment.catch_all:
                rest = "/".join(parts[index:])
                params[segment.name] = unquote(rest)
                return params
            if index >= len(parts):
                if segment.literal is None and (segment.optional or segment.default is not None):
                    if segment.default is not None:
                        params[segment.name] = segment.default
                    continue
                return None
            value = unquote(parts[index])
            if segment.literal is not None:
                if value.lower() != segment.literal:
                    return None
                continue
            if not value or (segment.kind is not None and not _CONSTRAINTS[segment.kind](value)):
                return None
            params[segment.name] = value
        return params if len(parts) <= len(self._segments) else None


class RouteTable:
    """The app's HTTP functions, most specific template first."""

    def __init__(self, routes: Sequence[Route]) -> None:
        compiled = [(RouteTemplate(r.route), r) for r in routes]
        self._routes = sorted(compiled, key=lambda pair: pair[0].precedence)

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None | bool:
        """(route, params) for the request; False when a route matches the path but not the method."""
        path_matched = False
        for template, route in self._routes:
            params = template.match(path)
            if params is None:
                continue
            if method.upper() in route.methods:
                return route, params
            path_matched = True
        return False if path_matched else None


def _query(query: str) -> dict[str, str]:
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        values.setdefault(key, []).append(value)
    return {key: ",".join(found) for key, found in values.items()}


def request_for(method: str, url: str, headers: Mapping[str, str], body: bytes,
                route_params: Mapping[str, str]) -> func.HttpRequest:
    return func.HttpRequest(method, url, headers=dict(headers), params=_query(urlsplit(url).query),
                            route_params=dict(route_params), body=body)


def handler_for(routes: Sequence[Route]) -> type[BaseHTTPRequestHandler]:
    """A request handler class serving ``routes`` under ``/api/``."""
    table = RouteTable(routes)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            url = urlsplit(self.path)
            path = url.path.lstrip("/")
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self.close_connection = True
                self._reply(413, b'{"error": "request body too large"}', _JSON)
                return
            body = self.rfile.read(length) if length else b""
            head, _, rest = path.partition("/")
            found = table.find(self.command, rest) if head.lower() == ROUTE_PREFIX else None
            if found is None:
                self._reply(404, b'{"error": "no such route"}', _JSON)
                return
            if found is False:
                self._reply(405, b'{"error": "method not allowed"}', _JSON)
                return
            assert isinstance(found, tuple)
            route, params = found
            request = request_for(self.command, f"http://{self.headers.get('Host', '')}{self.path}",
                                  dict(self.headers.items()), body, params)
            try:
                response = route.call(request)
            except Exception:
                _log.exception("%s failed", route.function_name)
                self._reply(500, b'{"error": "internal error"}', _JSON)
                return
            headers = dict(response.headers)
            if response.mimetype and not any(k.lower() == "content-type" for k in headers):
                charset = f"; charset={response.charset}" if response.mimetype.startswith("text/") else ""
                headers["Content-Type"] = response.mimetype + charset
            self._reply(response.status_code, response.get_body() or b"", headers)

        def _reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:
            _log.debug("http: " + format, *args)

    return Handler
