"""The local host's HTTP side: route templates matched the way Azure Functions matches them, served by waitress.

A function's ``route`` is an ASP.NET-style template under the ``api/`` prefix:

- literal segments match case-insensitively (``batches``);
- ``{name}`` matches one non-empty segment, ``{name?}`` may be left out, ``{name=value}``
  has a default, ``{name:int}`` (``int``, ``long``, ``bool``, ``guid``, ``alpha``) constrains it;
- ``{*name}`` takes the rest of the path, slashes included (possibly empty).

Where several templates match, the most specific wins (literal before constrained before plain
before catch-all, segment by segment), as in Functions. The function gets a ``func.HttpRequest``
with ``route_params`` (percent-decoded) and ``params`` (the query string; a repeated key gives its
values joined by commas, as the Functions host does). Bodies above 100 MiB get 413, as in Azure.

HTTP itself (framing, chunked bodies, bad lengths, slow or stalled clients) is left to waitress, a
proven pure-Python server: a request reaches a function only once its whole body has arrived. On
top of it, only a ``Host`` the server is known by is answered (no DNS rebinding onto 127.0.0.1).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import azure.functions as func
from waitress.server import create_server

__all__ = ["MAX_BODY_BYTES", "READ_TIMEOUT", "ROUTE_PREFIX", "HttpServer", "RouteTable", "RouteTemplate",
           "allowed_hosts", "wsgi_app"]

_log = logging.getLogger(__name__)

ROUTE_PREFIX = "api"
MAX_BODY_BYTES = 100 * 1024 * 1024
"""The Functions host's request size limit (maxRequestLength, 100 MiB)."""
READ_TIMEOUT = 30
"""Seconds a connection may stay silent (stalled headers, a half-sent body, an idle keep-alive) before it is closed."""

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


def allowed_hosts(bind: str, port: int) -> frozenset[str]:
    """The ``Host`` values a server bound to ``bind``:``port`` answers: loopback names, and the bind address."""
    names = {"127.0.0.1", "localhost", "[::1]"}
    if bind not in ("", "0.0.0.0", "::"):
        names.add(f"[{bind}]" if ":" in bind else bind)
    # A browser leaves the port out only when it is the scheme's default.
    return frozenset({f"{name}:{port}" for name in names} | (names if port == 80 else set()))


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {key[5:].replace("_", "-").title(): str(value) for key, value in environ.items()
               if key.startswith("HTTP_")}
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            headers[name] = str(environ[key])
    return headers


_StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def wsgi_app(routes: Sequence[Route], *, hosts: Callable[[], Iterable[str]]) -> Callable[..., Iterable[bytes]]:
    """A WSGI application serving ``routes`` under ``/api/`` to requests whose ``Host`` is in ``hosts()``."""
    table = RouteTable(routes)

    def reply(start_response: _StartResponse, method: str, status: int, body: bytes,
              headers: Mapping[str, str]) -> list[bytes]:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        pairs = [(k, v) for k, v in headers.items() if k.lower() != "content-length"]
        start_response(f"{status} {reason}", [*pairs, ("Content-Length", str(len(body)))])
        return [b"" if method == "HEAD" else body]

    def app(environ: dict[str, Any], start_response: _StartResponse) -> list[bytes]:
        method = str(environ["REQUEST_METHOD"])
        host = str(environ.get("HTTP_HOST", "")).lower()
        if not host:
            return reply(start_response, method, 400, b'{"error": "a Host header is required"}', _JSON)
        if host not in set(hosts()):
            # Another name resolving to us (DNS rebinding): a browser on that site must not reach this API.
            _log.warning("refused a request for Host %r", host[:100])
            return reply(start_response, method, 421, b'{"error": "this server does not answer for that Host"}',
                         _JSON)
        target = str(environ.get("REQUEST_URI", ""))
        if not target.startswith("/"):
            return reply(start_response, method, 400, b'{"error": "request target must be a path"}', _JSON)
        path = urlsplit(target).path.lstrip("/")
        head, _, rest = path.partition("/")
        found = table.find(method, rest) if head.lower() == ROUTE_PREFIX else None
        if found is None:
            return reply(start_response, method, 404, b'{"error": "no such route"}', _JSON)
        if found is False:
            return reply(start_response, method, 405, b'{"error": "method not allowed"}', _JSON)
        assert isinstance(found, tuple)
        route, params = found
        # waitress has read the whole body (de-chunked, its length checked) before calling us.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        request = request_for(method, f"http://{host}{target}", _headers(environ), body, params)
        try:
            response = route.call(request)
        except Exception:
            _log.exception("%s failed", route.function_name)
            return reply(start_response, method, 500, b'{"error": "internal error"}', _JSON)
        headers = dict(response.headers)
        if response.mimetype and not any(k.lower() == "content-type" for k in headers):
            charset = f"; charset={response.charset}" if response.mimetype.startswith("text/") else ""
            headers["Content-Type"] = response.mimetype + charset
        return reply(start_response, method, response.status_code, response.get_body() or b"", headers)

    return app


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class HttpServer:
    """The routes served by waitress on ``host``:``port`` (0: any free port) until ``close``.

    ``hosts`` adds ``Host`` values to answer besides the loopback names and the bind address (a
    server bound beyond loopback, reached through a name). A connection silent for ``read_timeout``
    seconds is closed; ``threads`` requests run at once, while waiting clients hold no thread.
    """

    def __init__(self, *, routes: Sequence[Route], host: str = "127.0.0.1", port: int = 0,
                 hosts: Iterable[str] = (), read_timeout: int = READ_TIMEOUT, threads: int = 8) -> None:
        if not _is_loopback(host) and not hosts:
            _log.warning("HTTP served on %s: only requests for Host %s or a loopback name are answered", host, host)
        extra = frozenset(h.lower() for h in hosts)
        self._server: Any = create_server(
            wsgi_app(routes, hosts=lambda: self.hosts), host=host, port=port, threads=threads,
            channel_timeout=read_timeout, cleanup_interval=max(1, read_timeout // 4),
            max_request_body_size=MAX_BODY_BYTES, asyncore_use_poll=True, ident="imaginem")
        self.server_port = int(self._server.effective_port)
        self.hosts = allowed_hosts(host, self.server_port) | extra
        self._closed = threading.Event()
        self._serving = threading.Event()

    def serve_forever(self) -> None:
        """Answer requests until ``close`` (call it from another thread)."""
        self._serving.set()
        try:
            self._server.run()
        except OSError:
            if not self._closed.is_set():
                raise

    def close(self) -> None:
        """Stop listening, drop every connection and wait for the requests in hand."""
        if self._closed.is_set():
            return
        self._closed.set()
        server = self._server

        def close_all() -> None:  # runs in the serving thread, the only one that may touch its sockets
            for channel in list(server._map.values()):
                channel.close()

        if self._serving.is_set():
            server.trigger.pull_trigger(close_all)
        else:
            close_all()
        server.task_dispatcher.shutdown(timeout=5)
