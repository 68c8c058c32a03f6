"""An upload from the page → a new batch: every file checked first, then stored, then sent.

The form is ``multipart/form-data`` with ``files`` (images), ``urls`` (one per line) and
``classifiers`` (comma-separated; their dependencies are added). Nothing is stored or sent
unless every file and URL passes: too many, too large, not an image, a bad URL or an unknown
classifier is a 4xx with a message for the page.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from email.utils import collapse_rfc2231_value

from pipeline.dependencies import UnknownClassifierError
from pipeline.errors import InputImageError
from pipeline.images.check import check_image
from pipeline.services import Services
from pipeline.submit import INPUT_CONTAINER, Submitter, new_batch_id

__all__ = ["MAX_URL_LENGTH", "UploadError", "UploadForm", "parse_form", "submit_upload"]

MAX_URL_LENGTH = 2048
_MAX_NAME = 200
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UploadError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class UploadForm:
    files: list[tuple[str, bytes]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    classifiers: list[str] = field(default_factory=list)


def _field_value(headers: Message, parameter: str) -> str | None:
    value = headers.get_param(parameter, header="content-disposition")
    if value is None:
        return None
    return collapse_rfc2231_value(value)  # ``filename*=UTF-8''caf%C3%A9.png`` (RFC 7578 allows it) or plain


def original_name(raw: str) -> str:
    """The file's name as the user gave it, kept as data: HTML's form encoding undone, control characters out."""
    # Browsers encode exactly these three in a multipart file name (WHATWG HTML, multipart/form-data).
    name = raw.replace("%0A", "\n").replace("%0D", "\r").replace("%22", '"')
    return _CONTROL.sub("", name).strip()[:_MAX_NAME] or "image"


def parse_form(content_type: str, body: bytes) -> UploadForm:
    found = _BOUNDARY.search(content_type or "")
    if not content_type.lower().startswith("multipart/form-data") or found is None:
        raise UploadError(415, "send the files as multipart/form-data")
    delimiter = b"--" + found.group(1).encode("latin-1")
    form = UploadForm()
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, separator, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            raise UploadError(400, "a part of the form has no headers")
        data = data.removesuffix(b"\r\n")
        # Browsers send a file's name as raw UTF-8 in the part's header (WHATWG HTML), not RFC 2047.
        headers = HeaderParser().parsestr(head.decode("utf-8", "replace") + "\r\n\r\n")
        name, filename = _field_value(headers, "name"), _field_value(headers, "filename")
        if name == "files" and filename is not None:
            if data or filename:
                form.files.append((original_name(filename), data))
        elif name == "urls":
            form.urls += [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
        elif name == "classifiers":
            form.classifiers += [c.strip() for c in data.decode("utf-8", "replace").split(",") if c.strip()]
    return form


def _check_image(name: str, data: bytes, *, max_bytes: int, max_pixels: int) -> str:
    """The MIME type of an acceptable image, else UploadError naming the file (the check `imaginem submit` makes)."""
    try:
        return check_image(name, data, max_bytes=max_bytes, max_pixels=max_pixels)
    except InputImageError as e:
        raise UploadError(413 if e.too_large else 415, str(e)) from None


def _blob_name(index: int, name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")  # café → cafe
    slug = re.sub(r"[^A-Za-z0-9._]+", "-", folded).strip("-.")[:80] or "image"
    return f"{index:04d}-{slug}"


def submit_upload(form: UploadForm, *, services: Services, max_files: int) -> dict[str, object]:
    settings = services.settings
    count = len(form.files) + len(form.urls)
    if count == 0:
        raise UploadError(400, "nothing to submit: add image files or URLs")
    if count > max_files:
        raise UploadError(413, f"{count} images is more than the limit of {max_files} per upload "
                          "(DASHBOARD_MAX_FILES)")
    kinds = [_check_image(name, data, max_bytes=settings.image_max_bytes, max_pixels=settings.image_max_pixels)
             for name, data in form.files]
    for url in form.urls:
        if not re.match(r"^https?://[^\s/]+", url, re.IGNORECASE) or len(url) > MAX_URL_LENGTH:
            raise UploadError(400, f"{url[:100]!r} is not an http(s) URL")
    try:
        pipeline = (services.dependencies.resolve(form.classifiers) if form.classifiers
                    else list(settings.pipeline_definition))
    except UnknownClassifierError as e:
        raise UploadError(400, str(e)) from None
    if "pipelineoutput" not in pipeline:
        pipeline.append("pipelineoutput")  # the results pages read what it writes

    batch_id = new_batch_id()
    submitter = Submitter(services)
    jobs = []
    # Every blob first, then every message: a failure on the way leaves no job half-submitted.
    for index, ((name, data), kind) in enumerate(zip(form.files, kinds, strict=True)):
        job_id = _blob_name(index, name)
        url = services.storage.upload_blob(INPUT_CONTAINER, f"{batch_id}/{job_id}", data, content_type=kind)
        jobs.append(submitter.image_job(image_url=url, batch_id=batch_id, job_id=job_id, pipeline=pipeline,
                                        parameters={"original_name": name, "mime_type": kind}))
    for index, url in enumerate(form.urls, start=len(form.files)):
        name = url.rstrip("/").rsplit("/", 1)[-1]
        jobs.append(submitter.image_job(image_url=url, batch_id=batch_id, job_id=_blob_name(index, name),
                                        pipeline=pipeline, parameters={"original_name": original_name(name),
                                                                       "mime_type": "image/unknown"}))
    for job in jobs:
        submitter.send(job)
    return {"batch_id": batch_id, "pipeline": pipeline, "jobs": [job.id for job in jobs]}
