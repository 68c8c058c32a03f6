"""The local host's HTTP side: route matching as Functions matches templates, and raw-socket probes of the
server with the requests a hostile or broken client sends (bad lengths, chunked bodies, stalls, other Hosts)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import azure.functions as func
import pytest
import requests

from pipeline.host.http import MAX_BODY_BYTES, HttpServer, RouteTable, RouteTemplate, allowed_hosts


@dataclass(frozen=True)
class R:
    function_name: str
    route: str
    methods: tuple[str, ...] = ("GET",)
    call: Callable[..., Any] = lambda req: func.HttpResponse("")


@pytest.mark.parametrize(("template", "path", "expected"), [
    ("batches/{batch}", "batches/b-1", {"batch": "b-1"}),
    ("batches/{batch}", "BATCHES/b-1", {"batch": "b-1"}),
    ("batches/{batch}", "batches", None),
    ("batches/{batch}", "batches/b/extra", None),
    ("batches/{batch}/jobs/{job}", "batches/b/jobs/0000-a%20b.jpg", {"batch": "b", "job": "0000-a b.jpg"}),
    ("images/{container}/{*blob}", "images/faces/b/j/face-000.png",
     {"container": "faces", "blob": "b/j/face-000.png"}),
    ("dashboard/{*path}", "dashboard", {"path": ""}),
    ("dashboard/{*path}", "dashboard/", {"path": ""}),
    ("items/{id:int}", "items/42", {"id": "42"}),
    ("items/{id:int}", "items/x", None),
    ("items/{id:guid}", "items/0f8fad5b-d9cb-469f-a165-70867728950e", {"id": "0f8fad5b-d9cb-469f-a165-70867728950e"}),
    ("items/{id?}", "items", {}),
    ("items/{page=1}", "items", {"page": "1"}),
    ("items/{page=1}", "items/3", {"page": "3"}),
])
def test_templates_match_like_functions(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert RouteTemplate(template).match(path) == expected


def test_a_literal_beats_a_parameter_beats_a_catch_all() -> None:
    table = RouteTable([R("all", "x/{*rest}"), R("param", "x/{name}"), R("literal", "x/special")])
    found = {path: table.find("GET", path)[0].function_name for path in ("x/special", "x/other", "x/a/b")}  # type: ignore[index]
    assert found == {"x/special": "literal", "x/other": "param", "x/a/b": "all"}


def test_a_path_with_another_method_is_405_and_an_unknown_path_404() -> None:
    table = RouteTable([R("get", "things", ("GET",))])
    assert table.find("POST", "things") is False
    assert table.find("GET", "nothing") is None


def test_a_catch_all_must_come_last() -> None:
    with pytest.raises(ValueError, match="catch-all"):
        RouteTemplate("{*rest}/more")


@dataclass
class Served:
    base: str
    port: int
    seen: list[func.HttpRequest]


READ_TIMEOUT = 1


@pytest.fixture
def served() -> Iterator[Served]:
    seen: list[func.HttpRequest] = []

    def call(req: func.HttpRequest) -> func.HttpResponse:
        seen.append(req)
        return func.HttpResponse(f"got {len(req.get_body())} bytes", mimetype="text/plain")

    routes = [R("job", "batches/{batch}/jobs/{job}", ("GET",), call), R("upload", "uploads", ("POST",), call)]
    server = HttpServer(routes=routes, port=0, read_timeout=READ_TIMEOUT)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Served(f"http://127.0.0.1:{server.server_port}", server.server_port, seen)
    server.close()
    thread.join(10)
    assert not thread.is_alive()


def test_the_request_carries_route_params_and_the_query_string(served: Served) -> None:
    base, seen = served.base, served.seen
    answer = requests.get(f"{base}/api/batches/b%201/jobs/j?label=cat&label=dog&x=", timeout=5)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    request = seen[0]
    assert request.route_params == {"batch": "b 1", "job": "j"}
    assert dict(request.params) == {"label": "cat,dog", "x": ""}  # repeated keys joined, as the Functions host does
    assert request.url.endswith("/api/batches/b%201/jobs/j?label=cat&label=dog&x=")
    assert requests.post(f"{base}/api/batches/b/jobs/j", timeout=5).status_code == 405
    assert requests.get(f"{base}/batches/b/jobs/j", timeout=5).status_code == 404
    assert requests.get(f"{base}/api/batches/a%2Fb/jobs/j", timeout=5).status_code == 200
    assert seen[-1].route_params["batch"] == "a/b"  # an encoded slash stays inside its segment


def _exchange(port: int, raw: bytes, *, wait: float = 5.0, shut: bool = False) -> bytes:
    """Send ``raw`` on a fresh connection; everything the server answers until it closes or ``wait`` passes."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(raw)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            received += data
        return received


def _statuses(answer: bytes) -> list[int]:
    return [int(status) for status in re.findall(rb"HTTP/1\.[01] (\d{3}) ", answer)]


def _post(port: int, headers: str, body: bytes = b"", host: str | None = None) -> bytes:
    host = host or f"127.0.0.1:{port}"
    return f"POST /api/uploads HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{headers}\r\n".encode() + body


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "+5", " 5 5"])
def test_a_content_length_that_is_not_a_number_is_400_and_never_processed(served: Served, length: str) -> None:
    answer = _exchange(served.port, _post(served.port, f"Content-Length: {length}\r\n", b"hello"))
    assert _statuses(answer) == [400] and served.seen == []


def test_a_body_above_the_limit_is_413_before_it_is_read(served: Served) -> None:
    answer = _exchange(served.port, _post(served.port, f"Content-Length: {MAX_BODY_BYTES + 1}\r\n", b"x" * 1000))
    assert _statuses(answer) == [413] and served.seen == []


def test_a_chunked_body_is_read_whole_and_not_taken_for_a_second_request(served: Served) -> None:
    chunks = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    answer = _exchange(served.port, _post(served.port, "Transfer-Encoding: chunked\r\n", chunks))
    assert _statuses(answer) == [200] and answer.endswith(b"got 11 bytes")
    assert [r.get_body() for r in served.seen] == [b"hello world"]


def test_a_body_shorter_than_its_length_is_never_processed(served: Served) -> None:
    # The client gives up half way (closes its side), or stalls half way: either way no function runs.
    assert _exchange(served.port, _post(served.port, "Content-Length: 100\r\n", b"x" * 50), shut=True) == b""
    began = time.monotonic()
    assert _exchange(served.port, _post(served.port, "Content-Length: 100\r\n", b"x" * 50), wait=15) == b""
    assert time.monotonic() - began < 10 and served.seen == []


def test_a_stalled_connection_is_closed_after_the_read_timeout(served: Served) -> None:
    began = time.monotonic()
    partial = f"GET /api/batches/b/jobs/j HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n".encode()
    assert _exchange(served.port, partial, wait=15) == b""
    assert READ_TIMEOUT <= time.monotonic() - began < 10 and served.seen == []


def test_a_kept_alive_connection_serves_one_request_after_another(served: Served) -> None:
    one = f"GET /api/batches/b/jobs/{{}} HTTP/1.1\r\nHost: localhost:{served.port}\r\n\r\n"
    raw = (one.format("j1") + one.format("j2")).encode()
    assert _statuses(_exchange(served.port, raw, wait=3)) == [200, 200]
    assert [r.route_params["job"] for r in served.seen] == ["j1", "j2"]


@pytest.mark.parametrize("host", ["evil.example:{port}", "127.0.0.1:1", "127.0.0.1.nip.io:{port}", "localhost"])
def test_a_request_for_another_host_is_refused(served: Served, host: str) -> None:
    raw = f"GET /api/batches/b/jobs/j HTTP/1.1\r\nHost: {host.format(port=served.port)}\r\nConnection: close\r\n\r\n"
    answer = _exchange(served.port, raw.encode())
    assert _statuses(answer) == [421] and served.seen == []


def test_a_request_without_a_host_is_refused(served: Served) -> None:
    answer = _exchange(served.port, b"GET /api/batches/b/jobs/j HTTP/1.0\r\n\r\n")
    assert _statuses(answer) == [400] and served.seen == []


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "LOCALHOST:{port}", "[::1]:{port}"])
def test_the_loopback_names_with_the_port_are_answered(served: Served, host: str) -> None:
    raw = f"GET /api/batches/b/jobs/j HTTP/1.1\r\nHost: {host.format(port=served.port)}\r\nConnection: close\r\n\r\n"
    assert _statuses(_exchange(served.port, raw.encode())) == [200]


def test_a_server_bound_elsewhere_answers_its_own_address_and_the_names_it_is_given() -> None:
    assert "10.1.2.3:8080" in allowed_hosts("10.1.2.3", 8080) and "127.0.0.1:8080" in allowed_hosts("10.1.2.3", 8080)
    assert "evil.example:8080" not in allowed_hosts("0.0.0.0", 8080)
    server = HttpServer(routes=[R("x", "x")], port=0, hosts=["Imaginem.lan:9000"])
    try:
        assert "imaginem.lan:9000" in server.hosts
    finally:
        server.close()
