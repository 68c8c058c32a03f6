"""facecrop on a real Azurite: the faces listed by facedetection become PNG blobs."""

from __future__ import annotations

import io
from dataclasses import replace

import PIL.Image
import pytest

from classifiers import facecrop
from pipeline.classifier import NO_CONTEXT
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
    output = classifier(services, unique)(job, decode_image(picture()), NO_CONTEXT)

    urls = output["facesUrls"]
    assert [u.rsplit("/", 3)[-3:] for u in urls] == [["b1", "job-1", "face-000.png"], ["b1", "job-1", "face-001.png"]]
    first = PIL.Image.open(io.BytesIO(services.storage.read_blob_url(urls[0], 10**6) or b""))
    assert first.size == (50, 60) and first.getpixel((25, 30)) == (255, 0, 0)
    second = PIL.Image.open(io.BytesIO(services.storage.read_blob_url(urls[1], 10**6) or b""))
    assert second.size == (50, 50)  # clipped to the image

    again = classifier(services, unique)(job, decode_image(picture()), NO_CONTEXT)
    assert again == output  # a redelivered job overwrites its blobs, it does not add more


def test_no_faces_means_no_blobs(services: Services, unique: str) -> None:
    job = parse_job(job_message("job-2", ["facecrop"], output=faces()))
    assert classifier(services, unique)(job, decode_image(picture()), NO_CONTEXT) == {"facesUrls": []}


def test_missing_or_broken_facedetection_output_is_a_clear_error(services: Services, unique: str) -> None:
    with pytest.raises(MissingDependencyError, match="facecrop needs the output of facedetection"):
        classifier(services, unique)(parse_job(job_message("job-3", ["facecrop"])), decode_image(picture()), NO_CONTEXT)
    job = parse_job(job_message("job-4", ["facecrop"], output=faces((500, 500, 10, 10))))
    with pytest.raises(ClassifierError, match="outside the 200x100 image"):
        classifier(services, unique)(job, decode_image(picture()), NO_CONTEXT)


def test_forged_faces_past_the_cap_are_not_cropped_and_the_cap_is_recorded(services: Services, unique: str) -> None:
    crop = facecrop.FaceCropClassifier(storage=services.storage, container=f"faces{unique}", max_faces=5)
    job = parse_job(job_message("job-5", ["facecrop"], batch_id=f"b{unique}",
                                output=faces(*[(i, 0, 10, 10) for i in range(40)])))
    output = crop(job, decode_image(picture()), NO_CONTEXT)
    assert len(output["facesUrls"]) == 5 and output["faces_capped"] == {"limit": 5, "found": 40}
    written = [b.name for b in services.storage.container(f"faces{unique}").list_blobs()]
    assert sorted(written) == [f"b{unique}/job-5/face-{i:03d}.png" for i in range(5)]


def test_the_same_job_id_in_two_batches_gets_two_sets_of_crops(services: Services, unique: str) -> None:
    crop = classifier(services, unique)
    urls = [crop(parse_job(job_message("same", ["facecrop"], batch_id=batch, output=faces((10, 20, 50, 60)))),
                 decode_image(picture()), NO_CONTEXT)["facesUrls"][0] for batch in ("a", "b")]
    assert urls[0] != urls[1] and urls[0].endswith("/a/same/face-000.png") and urls[1].endswith("/b/same/face-000.png")
