"""facecrop on a real Azurite: the faces listed by facedetection become PNG blobs."""

from __future__ import annotations

import io
from dataclasses import replace

import PIL.Image
import pytest

from classifiers import facecrop
from pipeline.errors import ClassifierError, MissingDependencyError
from pipeline.images import decode_image
from pipeline.job import parse_job
from pipeline.services import Services
from tests.pipeline.helpers import job_message

pytestmark = pytest.mark.azurite


def picture() -> bytes:
    pil = PIL.Image.new("RGB", (200, 100), (0, 0, 255))
    pil.paste((255, 0, 0), (10, 20, 60, 80))
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG")
    return buffer.getvalue()


def faces(*rects: tuple[int, int, int, int]) -> dict[str, object]:
    return {"facedetection": {"faces": [
        {"faceId": f"f{i}", "faceRectangle": {"left": left, "top": top, "width": width, "height": height}}
        for i, (left, top, width, height) in enumerate(rects)]}}


def classifier(services: Services, unique: str) -> facecrop.FaceCropClassifier:
    return facecrop.build(replace(services, settings=replace(services.settings, faces_container=f"faces{unique}")))


def test_each_face_becomes_a_png_blob_with_a_deterministic_name(services: Services, unique: str) -> None:
    job = parse_job(job_message("job-1", ["facecrop"], output=faces((10, 20, 50, 60), (150, 50, 100, 100))))
    output = classifier(services, unique)(job, decode_image(picture()))

    urls = output["facesUrls"]
    assert [u.rsplit("/", 3)[-3:] for u in urls] == [["b1", "job-1", "face-000.png"], ["b1", "job-1", "face-001.png"]]
    first = PIL.Image.open(io.BytesIO(services.storage.read_blob_url(urls[0], 10**6) or b""))
    assert first.size == (50, 60) and first.getpixel((25, 30)) == (255, 0, 0)
    second = PIL.Image.open(io.BytesIO(services.storage.read_blob_url(urls[1], 10**6) or b""))
    assert second.size == (50, 50)  # clipped to the image

    again = classifier(services, unique)(job, decode_image(picture()))
    assert again == output  # a redelivered job overwrites its blobs, it does not add more


def test_no_faces_means_no_blobs(services: Services, unique: str) -> None:
    job = parse_job(job_message("job-2", ["facecrop"], output=faces()))
    assert classifier(services, unique)(job, decode_image(picture())) == {"facesUrls": []}


def test_missing_or_broken_facedetection_output_is_a_clear_error(services: Services, unique: str) -> None:
    with pytest.raises(MissingDependencyError, match="facecrop needs the output of facedetection"):
        classifier(services, unique)(parse_job(job_message("job-3", ["facecrop"])), decode_image(picture()))
    job = parse_job(job_message("job-4", ["facecrop"], output=faces((500, 500, 10, 10))))
    with pytest.raises(ClassifierError, match="outside the 200x100 image"):
        classifier(services, unique)(job, decode_image(picture()))
