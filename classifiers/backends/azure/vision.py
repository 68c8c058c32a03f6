"""Computer Vision v3.2 backends: analyze (generalclassification) and OCR / Read (ocr)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from azure.cognitiveservices.vision.computervision import ComputerVisionClient

from classifiers.backends.azure.calls import ServiceCaller
from classifiers.backends.azure.geometry import polygon_to_box, unscale_box_string, unscale_rect
from classifiers.backends.azure.sending import send_image
from classifiers.backends.azure.transfer import OCR_LIMITS, READ_LIMITS, VISION_LIMITS, Payload, Transfer
from classifiers.backends.ocr_text import full_text
from pipeline.errors import ClassifierError, RetryableError
from pipeline.images import Image

__all__ = ["VISUAL_FEATURES", "AzureImageAnalyzer", "AzureTextReader", "read_to_ocr"]

_log = logging.getLogger(__name__)

VISUAL_FEATURES = ("Categories", "Tags", "Description", "Faces", "Color", "ImageType", "Adult", "Objects")
_ORIENTATIONS = ("Up", "Right", "Down", "Left")


class AzureImageAnalyzer:
    """generalclassification on Computer Vision's analyze operation, one call per image."""

    backend = "azure"

    def __init__(self, *, client: ComputerVisionClient, caller: ServiceCaller, transfer: Transfer,
                 language: str = "en") -> None:
        self._client: Any = client  # the SDKs are untyped
        self._caller = caller
        self._transfer = transfer
        self._language = language

    def analyze(self, image: Image) -> dict[str, Any]:
        features = list(VISUAL_FEATURES)
        answer, sent = send_image(
            caller=self._caller, what="analyze", transfer=self._transfer,
            payload=self._transfer.payload(image, VISION_LIMITS), load=lambda: image, limits=VISION_LIMITS,
            by_url=lambda url: self._client.analyze_image(
                url, visual_features=features, language=self._language, raw=True),
            by_stream=lambda stream: self._client.analyze_image_in_stream(
                stream, visual_features=features, language=self._language, raw=True),
        )
        result: dict[str, Any] = answer.response.json()
        return _restore_scale(result, image, sent)


def _restore_scale(result: dict[str, Any], image: Image, sent: Payload) -> dict[str, Any]:
    """Coordinates and metadata of the original image, whatever copy was sent."""
    scale = sent.scale
    for face in result.get("faces") or []:
        if isinstance(face.get("faceRectangle"), dict):
            face["faceRectangle"] = unscale_rect(face["faceRectangle"], scale)
    for obj in result.get("objects") or []:
        if isinstance(obj.get("rectangle"), dict):
            obj["rectangle"] = unscale_rect(obj["rectangle"], scale)
    metadata = result.setdefault("metadata", {})
    metadata["width"], metadata["height"] = image.width, image.height
    if sent.data is not None and sent.data is not image.data:
        metadata["format"] = image.format.capitalize()
    return result


def _union(boxes: Sequence[str]) -> str:
    parts = [[int(v) for v in box.split(",")] for box in boxes]
    left, top = min(p[0] for p in parts), min(p[1] for p in parts)
    right, bottom = max(p[0] + p[2] for p in parts), max(p[1] + p[3] for p in parts)
    return f"{left},{top},{right - left},{bottom - top}"


def read_to_ocr(analyze_result: dict[str, Any], scale: float = 1.0) -> dict[str, Any]:
    """A Read API ``analyzeResult`` in the OCR API's shape: one region per page, "l,t,w,h" boxes."""
    pages = analyze_result.get("readResults") or []
    regions: list[dict[str, Any]] = []
    language, angle = "unk", 0.0
    for page in pages:
        language = page.get("language") or language
        lines: list[dict[str, Any]] = []
        for line in page.get("lines", []):
            words = [
                {"boundingBox": polygon_to_box(w["boundingBox"], scale), "text": w.get("text", ""),
                 **({"confidence": w["confidence"]} if "confidence" in w else {})}
                for w in line.get("words", [])
            ]
            lines.append({"boundingBox": polygon_to_box(line["boundingBox"], scale), "words": words})
        if lines:
            regions.append({"boundingBox": _union([line["boundingBox"] for line in lines]), "lines": lines})
    if pages:
        angle = float(pages[0].get("angle") or 0.0)
    quarter = round(angle / 90)
    return {
        "language": language,
        # Read's angle is clockwise degrees; OCR's textAngle is the radians that undo it
        "textAngle": -math.radians(angle - 90 * quarter),
        "orientation": _ORIENTATIONS[quarter % 4],
        "regions": regions,
        "modelVersion": analyze_result.get("modelVersion", ""),
    }


class AzureTextReader:
    """ocr on Computer Vision: the synchronous OCR API, or the asynchronous Read API (``mode="read"``)."""

    backend = "azure"

    def __init__(
        self,
        *,
        client: ComputerVisionClient,
        caller: ServiceCaller,
        transfer: Transfer,
        mode: str = "ocr",
        read_wait: float = 60.0,
        poll_interval: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if mode not in ("ocr", "read"):
            raise ValueError(f"mode must be ocr or read, not {mode!r}")
        self.mode = mode
        self._client: Any = client  # the SDKs are untyped
        self._caller = caller
        self._transfer = transfer
        self._read_wait = read_wait
        self._poll_interval = poll_interval
        self._sleep = sleep

    def read(self, image: Image) -> dict[str, Any]:
        ocr = self._read_api(image) if self.mode == "read" else self._ocr_api(image)
        return {"ocr": ocr, "OCR_fullText": full_text(ocr)}

    def _ocr_api(self, image: Image) -> dict[str, Any]:
        answer, sent = send_image(
            caller=self._caller, what="ocr", transfer=self._transfer,
            payload=self._transfer.payload(image, OCR_LIMITS), load=lambda: image, limits=OCR_LIMITS,
            by_url=lambda url: self._client.recognize_printed_text(url, detect_orientation=True, raw=True),
            by_stream=lambda stream: self._client.recognize_printed_text_in_stream(
                stream, detect_orientation=True, raw=True),
        )
        ocr: dict[str, Any] = answer.response.json()
        for region in ocr.get("regions", []):
            region["boundingBox"] = unscale_box_string(region["boundingBox"], sent.scale)
            for line in region.get("lines", []):
                line["boundingBox"] = unscale_box_string(line["boundingBox"], sent.scale)
                for word in line.get("words", []):
                    word["boundingBox"] = unscale_box_string(word["boundingBox"], sent.scale)
        return ocr

    def _read_api(self, image: Image) -> dict[str, Any]:
        answer, sent = send_image(
            caller=self._caller, what="read", transfer=self._transfer,
            payload=self._transfer.payload(image, READ_LIMITS), load=lambda: image, limits=READ_LIMITS,
            by_url=lambda url: self._client.read(url, raw=True),
            by_stream=lambda stream: self._client.read_in_stream(stream, raw=True),
        )
        location = answer.response.headers.get("Operation-Location", "")
        operation_id = urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]
        if not operation_id:
            raise ClassifierError("Computer Vision read answered 202 without an Operation-Location header")
        deadline = time.monotonic() + self._read_wait
        interval = self._poll_interval
        while True:
            result = self._caller("read result", lambda: self._client.get_read_result(
                operation_id, raw=True)).response.json()
            status = str(result.get("status", "")).lower()
            if status == "succeeded":
                return read_to_ocr(result.get("analyzeResult") or {}, sent.scale)
            if status == "failed":
                raise ClassifierError(f"Computer Vision read operation {operation_id} failed: {result}")
            if time.monotonic() + interval > deadline:
                raise RetryableError(
                    f"Computer Vision read operation {operation_id} still {status or 'pending'} "
                    f"after {self._read_wait:g} s"
                )
            self._sleep(interval)
            interval = min(interval * 1.5, 2.0)
