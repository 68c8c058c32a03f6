"""A loopback stand-in for Computer Vision v3.2 and Face v1.0, answering the documented REST shapes.

It validates requests the way the services do (subscription key header, path, query
parameters, body type and image limits) and keeps the state the Face operations need (face
ids, face lists, persisted faces). Faces "in" an image are configured per test as fractions of
the image size with a person label: find-similar matches persisted faces of the same person.
A URL body is "downloaded" from ``remote`` (what the internet would serve); loopback URLs are
unreachable, as they are for the cloud. ``script`` queues canned failures or delays.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import PIL.Image

from classifiers.backends.azure.transfer import is_private_url

__all__ = ["KEY", "CognitiveStub", "Recorded", "StubFace", "running_stub"]

KEY = "0123456789abcdef0123456789abcdef"

_VISUAL_FEATURES = {"Categories", "Tags", "Description", "Faces", "ImageType", "Color", "Adult", "Objects", "Brands"}
_DETECTION_MODELS = {"detection_01", "detection_02", "detection_03"}
_RECOGNITION_MODELS = {"recognition_01", "recognition_02", "recognition_03", "recognition_04"}
_FORMATS = {"JPEG": "Jpeg", "PNG": "Png", "GIF": "Gif", "BMP": "Bmp"}
_LANDMARKS = (
    "pupilLeft", "pupilRight", "noseTip", "mouthLeft", "mouthRight", "eyebrowLeftOuter", "eyebrowLeftInner",
    "eyeLeftOuter", "eyeLeftTop", "eyeLeftBottom", "eyeLeftInner", "eyebrowRightInner", "eyebrowRightOuter",
    "eyeRightInner", "eyeRightTop", "eyeRightBottom", "eyeRightOuter", "noseRootLeft", "noseRootRight",
    "noseLeftAlarTop", "noseRightAlarTop", "noseLeftAlarOutTip", "noseRightAlarOutTip", "upperLipTop",
    "upperLipBottom", "underLipTop", "underLipBottom",
)
_OCR_LINES = (("HELLO", "WORLD"), ("IMAGINEM",))
_UNAUTHORIZED = {"error": {"code": "401", "message": (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource.")}}


@dataclass(frozen=True)
class StubFace:
    """A face the stub 'sees' in every image: a person label and a box in fractions of the image."""

    person: str
    box: tuple[float, float, float, float] = (0.25, 0.2, 0.3, 0.4)

    def rect(self, width: int, height: int) -> dict[str, int]:
        fx, fy, fw, fh = self.box
        return {"top": round(fy * height), "left": round(fx * width),
                "width": round(fw * width), "height": round(fh * height)}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Script:
    method: str
    path: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    times: int
    delay: float


@dataclass
class _Image:
    key: str
    width: int
    height: int
    format: str
    size: int


@dataclass
class _FaceList:
    name: str
    user_data: str | None
    recognition_model: str
    faces: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # persistedFaceId → (person, userData)


class _Reply(Exception):
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _error(status: int, code: str, message: str, inner: str | None = None) -> _Reply:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner:
        error = {"code": "InvalidRequest", "message": message, "innererror": {"code": inner, "message": message}}
    return _Reply(status, {"error": error})


class CognitiveStub:
    """The state and the answers; ``endpoint`` is what VISION_ENDPOINT / FACE_ENDPOINT point at."""

    def __init__(self, *, key: str = KEY, face_list_capacity: int = 1000, read_polls: int = 2) -> None:
        self.key = key
        self.face_list_capacity = face_list_capacity
        self.read_polls = read_polls
        self.faces: list[StubFace] = [StubFace("alice")]
        self.remote: dict[str, bytes] = {}
        self.limited_access = False
        self.requests: list[Recorded] = []
        self.face_lists: dict[str, _FaceList] = {}
        self._face_ids: dict[str, tuple[str, str]] = {}  # faceId → (person, recognition model)
        self._reads: dict[str, tuple[int, _Image]] = {}
        self._scripts: list[_Script] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- test controls ---------------------------------------------------------------------------
    def script(self, method: str, path: str, *, status: int = 200, body: Any = None,
               headers: dict[str, str] | None = None, times: int = 1, delay: float = 0.0) -> None:
        """The next ``times`` requests matching ``method`` and the ``path`` regex get this answer
        (after ``delay`` seconds; status 0 means answer normally after the delay)."""
        with self._lock:
            self._scripts.append(_Script(method, re.compile(path), status, body, headers or {}, times, delay))

    def calls(self, method: str, path: str) -> list[Recorded]:
        """Recorded requests whose path matches the regex ``path`` fully."""
        return [r for r in self.requests if r.method == method and re.fullmatch(path, r.path)]

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub._handle(self, "GET")

            def do_POST(self) -> None:
                stub._handle(self, "POST")

            def do_PUT(self) -> None:
                stub._handle(self, "PUT")

            def do_DELETE(self) -> None:
                stub._handle(self, "DELETE")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- HTTP --------------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        body = _read_body(handler)
        record = Recorded(method, parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()},
                          {k.lower(): v for k, v in handler.headers.items()}, body)
        with self._lock:
            self.requests.append(record)
        try:
            script = self._take_script(method, parts.path)
            if script is not None:
                time.sleep(script.delay)
                if script.status:
                    raise _Reply(script.status, script.body, script.headers)
            if handler.headers.get("Ocp-Apim-Subscription-Key") != self.key:
                raise _Reply(401, _UNAUTHORIZED)
            status, answer, headers = 200, self._route(method, parts.path, record), {}
            if isinstance(answer, _Reply):
                status, answer, headers = answer.status, answer.body, answer.headers
        except _Reply as reply:
            status, answer, headers = reply.status, reply.body, reply.headers
        data = b"" if answer is None else json.dumps(answer).encode()
        try:
            handler.send_response(status)
            if data:
                handler.send_header("Content-Type", "application/json; charset=utf-8")
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def _take_script(self, method: str, path: str) -> _Script | None:
        with self._lock:
            for script in self._scripts:
                if script.method == method and script.path.fullmatch(path) and script.times > 0:
                    script.times -= 1
                    return script
        return None

    def _route(self, method: str, path: str, r: Recorded) -> Any:
        routes: list[tuple[str, str, Any]] = [
            ("POST", r"/vision/v3\.2/analyze", self._analyze),
            ("POST", r"/vision/v3\.2/ocr", self._ocr),
            ("POST", r"/vision/v3\.2/read/analyze", self._read_submit),
            ("GET", r"/vision/v3\.2/read/analyzeResults/([0-9a-f-]+)", self._read_result),
            ("POST", r"/face/v1\.0/detect", self._detect),
            ("POST", r"/face/v1\.0/findsimilars", self._find_similar),
            ("GET", r"/face/v1\.0/facelists", self._list_face_lists),
            ("PUT", r"/face/v1\.0/facelists/([^/]+)", self._create_face_list),
            ("GET", r"/face/v1\.0/facelists/([^/]+)", self._get_face_list),
            ("POST", r"/face/v1\.0/facelists/([^/]+)/persistedfaces", self._add_face),
            ("DELETE", r"/face/v1\.0/facelists/([^/]+)/persistedfaces/([^/]+)", self._delete_face),
        ]
        for verb, pattern, action in routes:
            match = re.fullmatch(pattern, path, flags=re.IGNORECASE)
            if match and verb == method:
                return action(r, *match.groups())
        return _Reply(404, {"error": {"code": "404", "message": "Resource not found"}})

    # -- images ------------------------------------------------------------------------------------
    def _image(self, r: Recorded, *, max_bytes: int, vision: bool) -> _Image:
        """The image of a request (JSON {"url"} or octet-stream), checked as the service would."""
        content_type = r.headers.get("content-type", "").split(";")[0].strip()
        bad_url = (400, "InvalidRequest", "InvalidImageUrl") if vision else (400, "InvalidURL", None)
        if content_type == "application/json":
            try:
                url = json.loads(r.body)["url"]
            except (ValueError, KeyError, TypeError):
                raise _error(400, "BadArgument", "Request body is invalid.") from None
            base = url.split("?", 1)[0]
            if is_private_url(url) or base not in self.remote:
                status, code, inner = bad_url
                raise _error(status, code, "Failed to download image from the specified URL. "
                             "Invalid image URL or error downloading from target server.", inner)
            data, key = self.remote[base], base
        elif content_type == "application/octet-stream":
            data, key = r.body, hashlib.sha1(r.body).hexdigest()
        else:
            raise _error(415, "BadArgument", f"Unsupported media type {content_type!r}.")
        if len(data) > max_bytes:
            raise _error(400, "InvalidRequest" if vision else "InvalidImageSize",
                         "Image size is too big.", "InvalidImageSize" if vision else None)
        try:
            pil = PIL.Image.open(io.BytesIO(data))
            fmt = pil.format or ""
        except Exception:  # noqa: BLE001 - any undecodable body is an invalid image
            fmt = ""
        if fmt not in _FORMATS:
            raise _error(400, "InvalidRequest" if vision else "InvalidImage",
                         "Decoding error, image format unsupported.", "InvalidImageFormat" if vision else None)
        return _Image(key, pil.width, pil.height, _FORMATS[fmt], len(data))

    # -- Computer Vision ---------------------------------------------------------------------------
    def _analyze(self, r: Recorded) -> Any:
        features = [f for f in r.query.get("visualFeatures", "").split(",") if f]
        unknown = [f for f in features if f not in _VISUAL_FEATURES]
        if unknown:
            raise _error(400, "InvalidRequest", f"Unsupported visual feature {unknown[0]}.",
                         "NotSupportedVisualFeature")
        image = self._image(r, max_bytes=4 * 1024 * 1024, vision=True)
        w, h = image.width, image.height
        full: dict[str, Any] = {
            "categories": [{"name": "people_portrait", "score": 0.7421875,
                            "detail": {"celebrities": []}}],
            "adult": {"isAdultContent": False, "isRacyContent": False, "isGoryContent": False,
                      "adultScore": 0.0011, "racyScore": 0.0034, "goreScore": 0.0009},
            "tags": [{"name": "person", "confidence": 0.9913}, {"name": "indoor", "confidence": 0.8712}],
            "description": {"tags": ["person", "indoor"],
                            "captions": [{"text": "a person posing for the camera", "confidence": 0.4911}]},
            "faces": [{"age": 31, "gender": "Female", "faceRectangle": f.rect(w, h)} for f in self.faces],
            "color": {"dominantColorForeground": "Grey", "dominantColorBackground": "White",
                      "dominantColors": ["White", "Grey"], "accentColor": "8A6A3B", "isBwImg": False,
                      "isBWImg": False},
            "imageType": {"clipArtType": 0, "lineDrawingType": 0},
            "objects": [{"rectangle": {"x": round(w * 0.2), "y": round(h * 0.1), "w": round(w * 0.5),
                                       "h": round(h * 0.8)},
                         "object": "person", "confidence": 0.861}],
        }
        names = {"Categories": "categories", "Adult": "adult", "Tags": "tags", "Description": "description",
                 "Faces": "faces", "Color": "color", "ImageType": "imageType", "Objects": "objects"}
        answer = {names[f]: full[names[f]] for f in features if f in names}
        answer.update({"requestId": str(uuid.uuid4()), "modelVersion": "2021-05-01",
                       "metadata": {"width": w, "height": h, "format": image.format}})
        return answer

    def _ocr_words(self, w: int, h: int) -> Iterator[tuple[int, list[tuple[str, tuple[int, int, int, int]]]]]:
        for i, words in enumerate(_OCR_LINES):
            top = round(h * (0.1 + 0.2 * i))
            yield i, [(word, (round(w * (0.1 + 0.3 * j)), top, round(w * 0.25), round(h * 0.1)))
                      for j, word in enumerate(words)]

    def _ocr(self, r: Recorded) -> Any:
        if r.query.get("detectOrientation") not in ("true", "false", None):
            raise _error(400, "InvalidRequest", "detectOrientation must be true or false.", "BadArgument")
        image = self._image(r, max_bytes=4 * 1024 * 1024, vision=True)
        lines: list[dict[str, Any]] = []
        for _, words in self._ocr_words(image.width, image.height):
            boxes = [box for _, box in words]
            left, top = boxes[0][0], boxes[0][1]
            right = boxes[-1][0] + boxes[-1][2]
            lines.append({"boundingBox": f"{left},{top},{right - left},{boxes[0][3]}",
                          "words": [{"boundingBox": ",".join(map(str, box)), "text": text} for text, box in words]})
        first, last = lines[0]["boundingBox"].split(","), lines[-1]["boundingBox"].split(",")
        region = f"{first[0]},{first[1]},{max(int(line['boundingBox'].split(',')[2]) for line in lines)}," \
                 f"{int(last[1]) + int(last[3]) - int(first[1])}"
        return {"language": "en", "textAngle": 0.0, "orientation": "Up", "modelVersion": "2021-04-01",
                "regions": [{"boundingBox": region, "lines": lines}]}

    def _read_submit(self, r: Recorded) -> Any:
        image = self._image(r, max_bytes=4 * 1024 * 1024, vision=True)
        operation = str(uuid.uuid4())
        with self._lock:
            self._reads[operation] = (0, image)
        location = f"{self.endpoint}/vision/v3.2/read/analyzeResults/{operation}"
        return _Reply(202, None, {"Operation-Location": location, "apim-request-id": operation})

    def _read_result(self, r: Recorded, operation: str) -> Any:
        with self._lock:
            if operation not in self._reads:
                raise _error(404, "NotFound", "The requested operation was not found.")
            polls, image = self._reads[operation]
            self._reads[operation] = (polls + 1, image)
        stamp = "2026-11-24T16:00:00Z"
        if polls < self.read_polls:
            return {"status": "running" if polls else "notStarted", "createdDateTime": stamp,
                    "lastUpdatedDateTime": stamp}
        lines = []
        for _, words in self._ocr_words(image.width, image.height):
            def poly(b: tuple[int, int, int, int]) -> list[int]:
                x, y, w, h = b
                return [x, y, x + w, y, x + w, y + h, x, y + h]
            boxes = [box for _, box in words]
            span = (boxes[0][0], boxes[0][1], boxes[-1][0] + boxes[-1][2] - boxes[0][0], boxes[0][3])
            lines.append({"boundingBox": poly(span), "text": " ".join(t for t, _ in words),
                          "appearance": {"style": {"name": "other", "confidence": 0.878}},
                          "words": [{"boundingBox": poly(box), "text": t, "confidence": 0.98} for t, box in words]})
        return {"status": "succeeded", "createdDateTime": stamp, "lastUpdatedDateTime": stamp,
                "analyzeResult": {"version": "3.2.0", "modelVersion": "2022-04-30", "readResults": [
                    {"page": 1, "angle": 0.0, "width": image.width, "height": image.height, "unit": "pixel",
                     "lines": lines}]}}

    # -- Face --------------------------------------------------------------------------------------
    def _models(self, r: Recorded) -> tuple[str, str]:
        detection = r.query.get("detectionModel", "detection_01")
        recognition = r.query.get("recognitionModel", "recognition_01")
        if detection not in _DETECTION_MODELS:
            raise _error(400, "BadArgument", "'detectionModel' is invalid.")
        if recognition not in _RECOGNITION_MODELS:
            raise _error(400, "BadArgument", "'recognitionModel' is invalid.")
        return detection, recognition

    def _detect(self, r: Recorded) -> Any:
        detection, recognition = self._models(r)
        if r.query.get("returnFaceLandmarks") == "true" and detection == "detection_02":
            raise _error(400, "BadArgument", "'returnFaceLandmarks' is not supported by detection_02.")
        return_id = r.query.get("returnFaceId", "true") == "true"
        if return_id and self.limited_access:
            raise _Reply(403, {"error": {"code": "InvalidRequest", "message": "Invalid request has been sent.",
                                         "innererror": {"code": "UnsupportedFeature", "message": (
                                             "Feature is not supported, missing approval for one or more of the "
                                             "following features: Identification,Verification. Please apply for "
                                             "access at https://aka.ms/facerecognition")}}})
        ttl = int(r.query.get("faceIdTimeToLive", "86400"))
        if not 60 <= ttl <= 86400:
            raise _error(400, "BadArgument", "'faceIdTimeToLive' is invalid.")
        image = self._image(r, max_bytes=6 * 1024 * 1024, vision=False)
        attributes = [a for a in r.query.get("returnFaceAttributes", "").split(",") if a]
        faces = []
        for face in self.faces:
            rect = face.rect(image.width, image.height)
            answer: dict[str, Any] = {}
            if return_id:
                face_id = str(uuid.uuid4())
                with self._lock:
                    self._face_ids[face_id] = (face.person, recognition)
                answer["faceId"] = face_id
            if r.query.get("returnRecognitionModel") == "true":
                answer["recognitionModel"] = recognition
            answer["faceRectangle"] = rect
            if r.query.get("returnFaceLandmarks") == "true":
                answer["faceLandmarks"] = {
                    name: {"x": round(rect["left"] + rect["width"] * (0.2 + 0.6 * (i % 5) / 4), 1),
                           "y": round(rect["top"] + rect["height"] * (0.3 + 0.5 * (i // 5) / 5), 1)}
                    for i, name in enumerate(_LANDMARKS)
                }
            if attributes:
                answer["faceAttributes"] = {"qualityForRecognition": "high"} \
                    if "qualityForRecognition" in attributes else {}
            faces.append(answer)
        return faces

    def _find_similar(self, r: Recorded) -> Any:
        try:
            body = json.loads(r.body)
        except ValueError:
            raise _error(400, "BadArgument", "JSON parsing error.") from None
        face_id, list_id = body.get("faceId"), body.get("faceListId")
        limit = int(body.get("maxNumOfCandidatesReturned", 20))
        if not 1 <= limit <= 1000:
            raise _error(400, "BadArgument", "'maxNumOfCandidatesReturned' is invalid.")
        if body.get("mode", "matchPerson") not in ("matchPerson", "matchFace"):
            raise _error(400, "BadArgument", "'mode' is invalid.")
        if sum(k in body for k in ("faceListId", "largeFaceListId", "faceIds")) != 1:
            raise _error(400, "BadArgument", "Only one of faceListId, largeFaceListId and faceIds is allowed.")
        with self._lock:
            if face_id not in self._face_ids:
                raise _error(400, "BadArgument", "Face ID is invalid.")
            person, recognition = self._face_ids[face_id]
            face_list = self.face_lists.get(list_id or "")
            if face_list is None:
                raise _error(404, "FaceListNotFound", f"Face list '{list_id}' is not found.")
            if face_list.recognition_model != recognition:
                raise _error(400, "BadArgument", "'recognitionModel' is incompatible.")
            hits = [{"persistedFaceId": pid, "confidence": 0.9321}
                    for pid, (who, _) in face_list.faces.items() if who == person]
        return hits[:limit]

    def _list_face_lists(self, r: Recorded) -> Any:
        with self._lock:
            return [{"faceListId": k, "name": v.name, "userData": v.user_data} for k, v in self.face_lists.items()]

    def _create_face_list(self, r: Recorded, list_id: str) -> Any:
        if not re.fullmatch(r"[a-z0-9-_]{1,64}", list_id):
            raise _error(400, "BadArgument", "Face list ID is invalid.")
        try:
            body = json.loads(r.body)
        except ValueError:
            raise _error(400, "BadArgument", "JSON parsing error.") from None
        if not body.get("name"):
            raise _error(400, "BadArgument", "'name' is empty.")
        recognition = body.get("recognitionModel", "recognition_01")
        if recognition not in _RECOGNITION_MODELS:
            raise _error(400, "BadArgument", "'recognitionModel' is invalid.")
        with self._lock:
            if list_id in self.face_lists:
                raise _error(409, "FaceListExists", "Face list already exists.")
            if len(self.face_lists) >= 64:
                raise _error(403, "QuotaExceeded", "Face list number reached limit.")
            self.face_lists[list_id] = _FaceList(body["name"], body.get("userData"), recognition)
        return None

    def _get_face_list(self, r: Recorded, list_id: str) -> Any:
        with self._lock:
            face_list = self.face_lists.get(list_id)
            if face_list is None:
                raise _error(404, "FaceListNotFound", f"Face list '{list_id}' is not found.")
            answer = {"faceListId": list_id, "name": face_list.name, "userData": face_list.user_data,
                      "persistedFaces": [{"persistedFaceId": pid, "userData": data}
                                         for pid, (_, data) in face_list.faces.items()]}
            if r.query.get("returnRecognitionModel") == "true":
                answer["recognitionModel"] = face_list.recognition_model
            return answer

    def _add_face(self, r: Recorded, list_id: str) -> Any:
        detection = r.query.get("detectionModel", "detection_01")
        if detection not in _DETECTION_MODELS:
            raise _error(400, "BadArgument", "'detectionModel' is invalid.")
        with self._lock:
            face_list = self.face_lists.get(list_id)
            if face_list is None:
                raise _error(404, "FaceListNotFound", f"Face list '{list_id}' is not found.")
            if len(face_list.faces) >= self.face_list_capacity:
                raise _error(403, "QuotaExceeded", "Face list is full.")
        image = self._image(r, max_bytes=6 * 1024 * 1024, vision=False)
        try:
            left, top, width, height = (int(v) for v in r.query["targetFace"].split(","))
        except (KeyError, ValueError):
            raise _error(400, "BadArgument", "Invalid argument targetFace.") from None
        target = {"left": left, "top": top, "width": width, "height": height}
        person = next((f.person for f in self.faces
                       if _overlap(f.rect(image.width, image.height), target) > 0.5), None)
        if person is None:
            raise _error(400, "InvalidImage", "No face detected in the image.")
        persisted = str(uuid.uuid4())
        with self._lock:
            face_list.faces[persisted] = (person, r.query.get("userData"))
        return {"persistedFaceId": persisted}

    def _delete_face(self, r: Recorded, list_id: str, persisted_id: str) -> Any:
        """Face List - Delete Face: 200 with an empty body; 404 for an unknown list or persisted face."""
        with self._lock:
            face_list = self.face_lists.get(list_id)
            if face_list is None:
                raise _error(404, "FaceListNotFound", f"Face list '{list_id}' is not found.")
            if face_list.faces.pop(persisted_id, None) is None:
                raise _error(404, "PersistedFaceNotFound", f"Persisted face '{persisted_id}' is not found.")
        return None


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body, sent with Content-Length or chunked (the SDKs stream uploads chunked)."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _overlap(a: dict[str, int], b: dict[str, int]) -> float:
    left, top = max(a["left"], b["left"]), max(a["top"], b["top"])
    right = min(a["left"] + a["width"], b["left"] + b["width"])
    bottom = min(a["top"] + a["height"], b["top"] + b["height"])
    inter = max(0, right - left) * max(0, bottom - top)
    return inter / (a["width"] * a["height"] + b["width"] * b["height"] - inter)


class running_stub:
    """Context manager: a started stub, stopped on exit."""

    def __init__(self, **options: Any) -> None:
        self.stub = CognitiveStub(**options)

    def __enter__(self) -> CognitiveStub:
        self.stub.start()
        return self.stub

    def __exit__(self, *exc: object) -> None:
        self.stub.stop()
