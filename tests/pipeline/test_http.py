"""The local host's route matching, as Functions matches route templates (no network: the table itself)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

import azure.functions as func
import pytest
import requests

from pipeline.host.http import RouteTable, RouteTemplate, handler_for


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


@pytest.fixture
def served() -> Iterator[tuple[str, list[func.HttpRequest]]]:
    seen: list[func.HttpRequest] = []

    def call(req: func.HttpRequest) -> func.HttpResponse:
        seen.append(req)
        return func.HttpResponse("ok", mimetype="text/plain")

    routes = [R("job", "batches/{batch}/jobs/{job}", ("GET",), call)]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(routes))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


def test_the_request_carries_route_params_and_the_query_string(served: tuple[str, list[func.HttpRequest]]) -> None:
    base, seen = served
    answer = requests.get(f"{base}/api/batches/b%201/jobs/j?label=cat&label=dog&x=", timeout=5)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    request = seen[0]
    assert request.route_params == {"batch": "b 1", "job": "j"}
    assert dict(request.params) == {"label": "cat,dog", "x": ""}  # repeated keys joined, as the Functions host does
    assert request.url.endswith("/api/batches/b%201/jobs/j?label=cat&label=dog&x=")
    assert requests.post(f"{base}/api/batches/b/jobs/j", timeout=5).status_code == 405
    assert requests.get(f"{base}/batches/b/jobs/j", timeout=5).status_code == 404
