"""HTTP functions: ``GET /api/dependencies`` (the graph) and ``POST /api/dependencies`` (a list → a pipeline).

Answers carry the same security headers as the dashboard's (``pipeline.responses``).
"""

from __future__ import annotations

import json

import azure.functions as func

from pipeline.dependencies import Dependencies, UnknownClassifierError
from pipeline.responses import json_response as _json

__all__ = ["dependencies_blueprint"]


def dependencies_blueprint(dependencies: Dependencies) -> func.Blueprint:
    blueprint = func.Blueprint(http_auth_level=func.AuthLevel.ANONYMOUS)

    @blueprint.function_name("dependencies")
    @blueprint.route(route="dependencies", methods=["GET", "POST"])
    def handle(req: func.HttpRequest) -> func.HttpResponse:
        if req.method == "GET":
            return _json({name: list(dependencies.needs(name)) for name in dependencies.classifiers})
        try:
            requested = json.loads(req.get_body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return _json({"error": f"body is not JSON: {e}"}, 400)
        except RecursionError:  # the json module recurses once per nesting level
            return _json({"error": "body is nested too deeply to be a list of classifier names"}, 400)
        if not isinstance(requested, list) or not all(isinstance(n, str) for n in requested):
            return _json({"error": 'body must be a JSON list of classifier names, e.g. ["facematch"]'}, 400)
        try:
            return _json(dependencies.resolve(requested))
        except UnknownClassifierError as e:
            return _json({"error": str(e)}, 400)

    return blueprint
