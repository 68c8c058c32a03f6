"""Job messages with chosen labels, as the last step of a pipeline receives them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def job_message(job_id: str, *, batch_id: str = "batch-1", tags: Sequence[tuple[str, float]] = (),
                caption: str | None = None, text: str | None = None,
                face_matches: Sequence[str] = ()) -> dict[str, Any]:
    output: dict[str, Any] = {
        "generalclassification": {
            "tags": [{"name": n, "confidence": c} for n, c in tags],
            "categories": [],
            "description": {"tags": [], "captions": [] if caption is None else [{"text": caption, "confidence": 0.5}]},
        },
    }
    if text is not None:
        output["ocr"] = {"ocr": {"regions": []}, "OCR_fullText": text}
    if face_matches:
        output["facematch"] = {"matches": [{"faceId": f"{job_id}-face", "faceRectangle": {},
                                            "matches": [{"id": m, "image_url": "u", "confidence": 0.7}
                                                        for m in face_matches]}]}
    return {
        "job_definition": {
            "id": job_id,
            "batch_id": batch_id,
            "input": {"image_url": f"https://example.invalid/{job_id}.jpg",
                      "image_parameters": {"original_name": f"{job_id}.jpg"}},
            "processing_pipeline": ["generalclassification", "pipelineoutput"],
            "processing_step": 1,
        },
        "job_output": output,
    }
