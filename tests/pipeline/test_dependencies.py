"""The dependency resolver and the HTTP API over it (called the way the Functions host calls it)."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from pipeline.api import dependencies_blueprint
from pipeline.dependencies import Dependencies, UnknownClassifierError
from pipeline.errors import ConfigurationError


def test_resolver_puts_dependencies_first_once() -> None:
    deps = Dependencies.load()
    assert deps.resolve(["facematch"]) == ["facedetection", "faceprint", "facematch"]
    assert deps.resolve(["facecrop", "facematch", "ocr"]) == ["facedetection", "facecrop", "faceprint",
                                                             "facematch", "ocr"]
    assert deps.resolve([]) == []


def test_unknown_names_and_cycles_are_clear_errors() -> None:
    with pytest.raises(UnknownClassifierError, match="unknown classifier.*'nope'"):
        Dependencies.load().resolve(["ocr", "nope"])
    with pytest.raises(ConfigurationError, match="depends on itself"):
        Dependencies({"a": ["b"], "b": ["a"]}).resolve(["a"])
    with pytest.raises(ConfigurationError, match="not listed"):
        Dependencies({"a": ["ghost"]})


def call(method: str, body: bytes = b"") -> tuple[int, object]:
    app = func.FunctionApp()
    app.register_functions(dependencies_blueprint(Dependencies.load()))
    [function] = app.get_functions()
    request = func.HttpRequest(method, "http://localhost/api/dependencies", body=body)
    response = function.get_user_function()(request)
    return response.status_code, json.loads(response.get_body())


def test_get_lists_the_graph() -> None:
    status, graph = call("GET")
    assert status == 200
    assert graph == json.loads(Dependencies.load.__defaults__[0].read_text())  # type: ignore[index]


def test_post_orders_a_pipeline() -> None:
    assert call("POST", b'["facematch"]') == (200, ["facedetection", "faceprint", "facematch"])


@pytest.mark.parametrize("body, error", [(b"[\"nope\"]", "unknown classifier"), (b"{not json", "not JSON"),
                                          (b'{"a": 1}', "JSON list"), (b"", "JSON list")])
def test_post_rejects_bad_bodies_with_400(body: bytes, error: str) -> None:
    status, answer = call("POST", body)
    assert status == 400 and error in answer["error"]  # type: ignore[index]
