"""Build jobs and read queues in tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pipeline.storage import Storage


def job_message(job_id: str, pipeline: Sequence[str], *, batch_id: str = "b1", step: int = 0,
                image_url: str = "https://example.invalid/a.jpg", output: dict[str, Any] | None = None,
                **extra: Any) -> dict[str, Any]:
    return {
        "job_definition": {
            "id": job_id,
            "batch_id": batch_id,
            "input": {"image_url": image_url, "image_classifiers": [], "image_parameters": {}},
            "processing_pipeline": list(pipeline),
            "processing_step": step,
            **extra,
        },
        "job_output": output or {},
    }


def drain(storage: Storage, queue: str) -> list[str]:
    """Every message now on the queue (received and deleted)."""
    client = storage.queue(queue)
    bodies = []
    while True:
        batch = list(client.receive_messages(max_messages=32, visibility_timeout=30))
        if not batch:
            return bodies
        for message in batch:
            bodies.append(message.content)
            client.delete_message(message)


def peek_count(storage: Storage, queue: str) -> int:
    return len(storage.queue(queue).peek_messages(max_messages=32))


def loads(body: str) -> dict[str, Any]:
    return json.loads(body)  # type: ignore[no-any-return]
