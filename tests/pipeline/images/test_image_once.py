"""A job's image is fetched from outside once per job and decoded once per worker, at the sizes its steps need.

Against a real Azurite and a loopback HTTP server that counts its requests (reached through
``IMAGE_FETCH_ALLOW``, as a local run sets it).
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import PIL.Image
import PIL.ImageOps
import pytest

from pipeline.classifier import StepContext
from pipeline.dependencies import Dependencies
from pipeline.errors import ConfigurationError, NotAnImageError
from pipeline.images import Image, decode_image
from pipeline.images.cache import DecodedImages
from pipeline.images.working_copy import WORKING_COPY, WORKINGCOPIES, WorkingCopies
from pipeline.job import Job
from pipeline.job_record import PIPELINELOGS
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.step import Outcome, StepRunner
from pipeline.storage import Storage
from tests.pipeline.classifiers import Noop
from tests.pipeline.helpers import drain, job_message
from tests.pipeline.test_step import QueuesOf


def photo(size: tuple[int, int] = (1200, 900), *, orientation: int = 1, quality: int = 90) -> bytes:
    """A JPEG of skimage's astronaut at ``size``, its EXIF orientation tag set to ``orientation``."""
    import skimage.data

    image = PIL.Image.fromarray(skimage.data.astronaut()).resize(size, PIL.Image.Resampling.LANCZOS)
    exif = PIL.Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, exif=exif.tobytes())
    return buffer.getvalue()


def reference(data: bytes) -> PIL.Image.Image:
    """The full decode the pipeline did before images were decoded lazily."""
    pil = PIL.Image.open(io.BytesIO(data))
    pil.load()
    return (PIL.ImageOps.exif_transpose(pil) or pil).convert("RGB")


# --- decoding at the size a step needs ------------------------------------------------------------

@pytest.mark.parametrize("orientation", range(1, 9))
def test_draft_copies_match_a_full_decode_then_resize(orientation: int) -> None:
    data = photo((1600, 1000), orientation=orientation)
    full = reference(data)
    for max_side in (960, 224, 100):
        image = decode_image(data, url="a.jpg")
        assert (image.width, image.height) == full.size
        copy, scale = image.scaled(max_side)
        expected_size = (round(full.width * scale), round(full.height * scale))
        assert copy.size == expected_size and max(copy.size) == max_side
        expected = full.resize(expected_size, PIL.Image.Resampling.BILINEAR, reducing_gap=2.0)
        difference = np.abs(np.asarray(copy, dtype=np.int16) - np.asarray(expected, dtype=np.int16))
        assert difference.mean() < 2.0, (orientation, max_side, difference.mean())
        assert image.decoded_bytes < len(data) + 4 * full.width * full.height  # the full pixels were not decoded
        decoded = decode_image(data, url="a.jpg")
        _ = decoded.pil
        from_full = np.asarray(decoded.scaled(max_side)[0], dtype=np.int16)  # the same whichever way it was made
        assert np.abs(from_full - np.asarray(copy, dtype=np.int16)).mean() < 1.0
    image = decode_image(data, url="a.jpg")
    assert np.array_equal(image.rgb, np.asarray(full))  # the full decode is exactly the one it was


def test_copies_at_one_dct_scale_share_one_reduced_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    data = photo((2048, 1536))
    opened: list[int] = []
    real_open = Image._open

    def counted(self: Image) -> PIL.Image.Image:
        opened.append(1)
        return real_open(self)

    monkeypatch.setattr(Image, "_open", counted)
    image = decode_image(data, url="a.jpg")
    copies = {side: np.asarray(image.scaled(side)[0]) for side in (512, 480, 256)}
    # 512 and 480 px both need the 1/4 DCT scale: decoded once; 256 px comes from the validating 1/8 decode.
    assert len(opened) == 1
    for side, copy in copies.items():  # the same pixels as a fresh image's copy of that size alone
        alone = decode_image(data, url="a.jpg").scaled(side)[0]
        assert np.array_equal(copy, np.asarray(alone)), side
    _ = image.pil  # once decoded in full, the reduced decode is let go: it holds the full image, the copies
    copy_bytes = sum(4 * c.shape[0] * c.shape[1] for c in copies.values())  # and the validating 1/8 decode
    assert image.decoded_bytes == len(data) + 4 * 2048 * 1536 + copy_bytes + 4 * 256 * 192


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF"])
def test_other_formats_are_decoded_in_full_once_and_scaled_from_it(fmt: str) -> None:
    buffer = io.BytesIO()
    PIL.Image.open(io.BytesIO(photo((640, 480)))).save(buffer, format=fmt)
    image = decode_image(buffer.getvalue(), url=f"a.{fmt.lower()}")
    full = reference(buffer.getvalue())
    copy, scale = image.scaled(320)
    assert copy.size == (320, 240) and scale == 0.5
    assert np.array_equal(image.rgb, np.asarray(full))


@pytest.mark.parametrize("cut", [0.3, 0.9, 0.999])
def test_a_truncated_jpeg_fails_when_fetched_not_in_a_classifier(cut: float) -> None:
    data = photo((2000, 1500))
    with pytest.raises(NotAnImageError, match="corrupt or truncated"):
        decode_image(data[: int(len(data) * cut)], url="cut.jpg")


def test_a_shared_image_decodes_once_for_many_threads() -> None:
    image = decode_image(photo((1600, 1200)), url="a.jpg")
    results: list[Any] = []
    barrier = threading.Barrier(8)

    def use(i: int) -> None:
        barrier.wait()
        results.append(image.scaled(400)[0] if i % 2 else image.pil)

    threads = [threading.Thread(target=use, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(r) for r in results if r.size == (400, 300)}) == 1
    assert len({id(r) for r in results if r.size == (1600, 1200)}) == 1


# --- the decoded-image cache ----------------------------------------------------------------------

def test_the_cache_is_bounded_by_the_memory_its_images_hold() -> None:
    images = [decode_image(photo((800, 600)), url=f"{i}.jpg") for i in range(4)]
    for image in images:
        _ = image.rgb
    one = images[0].decoded_bytes
    assert one > 800 * 600 * 3
    cache = DecodedImages(max_bytes=int(one * 2.5))
    for i, image in enumerate(images):
        cache.put(("b", str(i), image.url), image)
    assert len(cache) == 2 and cache.nbytes <= cache.max_bytes
    assert cache.get(("b", "0", "0.jpg")) is None and cache.get(("b", "3", "3.jpg")) is images[3]

    cache.get(("b", "2", "2.jpg"))  # used last: the other one goes first
    cache.put(("b", "0", "0.jpg"), images[0])
    assert cache.get(("b", "2", "2.jpg")) is images[2] and cache.get(("b", "3", "3.jpg")) is None

    small = decode_image(photo((800, 600)), url="small.jpg")
    cache = DecodedImages(max_bytes=small.decoded_bytes + 1000)
    cache.put(("b", "s", "small.jpg"), small)
    assert len(cache) == 1
    _ = small.rgb  # the image grew after it was kept: measured again when handed back
    cache.put(("b", "s", "small.jpg"), small)
    assert len(cache) == 0
    assert len(DecodedImages(max_bytes=0)) == 0


def test_the_cache_setting_may_be_zero_but_not_negative() -> None:
    assert Settings.from_env({}).image_cache_bytes == 256 * 1024 * 1024
    assert Settings.from_env({"IMAGE_CACHE_BYTES": "0"}).image_cache_bytes == 0
    with pytest.raises(ConfigurationError, match="IMAGE_CACHE_BYTES"):
        Settings.from_env({"IMAGE_CACHE_BYTES": "-1"})


# --- fetched from outside once per job ------------------------------------------------------------

class Photos(ThreadingHTTPServer):
    """Serves ``photos`` (path → bytes) and counts the requests for each path."""

    def __init__(self) -> None:
        self.photos: dict[str, bytes] = {}
        self.requests: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests[self.path] = server.requests.get(self.path, 0) + 1
                body = server.photos.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.daemon_threads = True

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_port}{path}"


@pytest.fixture
def photos() -> Iterator[Photos]:
    server = Photos()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def loopback(settings: Settings) -> Services:
    """Services whose fetcher may reach the loopback photo server."""
    allowed = replace(settings, image_fetch_allow=("127.0.0.1",))
    return Services(settings=allowed, storage=Storage(allowed.storage_connection_string),
                    dependencies=Dependencies.load())


class Looks:
    """An image step that uses what the real ones use (a scaled copy, the full pixels) and keeps the image."""

    needs_image = True

    def __init__(self, name: str, *, max_side: int | None = None) -> None:
        self.name = name
        self.max_side = max_side
        self.seen: list[Image] = []

    def __call__(self, job: Job, image: Image | None, context: StepContext) -> dict[str, Any]:
        assert image is not None
        self.seen.append(image)
        pixels = image.scaled(self.max_side)[0] if self.max_side else image.pil
        return {"size": [image.width, image.height], "used": list(pixels.size),
                "mean": float(np.asarray(pixels).mean())}


def seven_steps(unique: str) -> list[Any]:
    """Like the default pipeline: five image steps, then two without the image."""
    return [Looks(f"general{unique}", max_side=224), Looks(f"ocr{unique}"), Looks(f"detect{unique}", max_side=960),
            Looks(f"crop{unique}"), Looks(f"print{unique}"), Noop(f"match{unique}"), Noop(f"output{unique}")]


def run_job(runners: list[StepRunner], services: Services, body: str, steps: list[Any]) -> list[Outcome]:
    """Every step of a job, step i on runner i modulo their number (workers of their own)."""
    outcomes = []
    for index, step in enumerate(steps):
        runner = runners[index % len(runners)]
        outcomes.append(runner.run(body, queue=step.name, classifier=step))
        if index + 1 < len(steps):
            [body] = drain(services.storage, steps[index + 1].name)
    return outcomes


def entity(services: Services, batch: str, job: str) -> dict[str, Any]:
    return dict(services.storage.table(PIPELINELOGS).get_entity(batch, job))


def working_copy_bytes(services: Services, batch: str, job: str) -> bytes:
    blob = services.storage.container(WORKINGCOPIES).get_blob_client(f"{batch}/{job}/original")
    return blob.download_blob().readall()


@pytest.mark.azurite
@pytest.mark.parametrize("workers", [1, 7])
def test_an_outside_image_is_fetched_once_for_a_whole_job(
    loopback: Services, photos: Photos, unique: str, workers: int
) -> None:
    data = photos.photos["/photo.jpg"] = photo(orientation=6)
    runners = [StepRunner(services=loopback, max_dequeue_count=2, served_queues=QueuesOf(unique))
               for _ in range(workers)]
    steps = seven_steps(unique)
    batch = f"b{unique}"
    body = json.dumps(job_message("job", [s.name for s in steps], batch_id=batch,
                                  image_url=photos.url("/photo.jpg")))

    assert run_job(runners, loopback, body, steps) == [Outcome.SUCCESS] * 7
    assert photos.requests == {"/photo.jpg": 1}
    stored = entity(loopback, batch, "job")
    assert stored["image_url"] == photos.url("/photo.jpg")  # still the image of record
    assert loopback.storage.blob_path(stored[WORKING_COPY]) == (WORKINGCOPIES, f"{batch}/job/original")
    assert working_copy_bytes(loopback, batch, "job") == data  # the exact bytes it got
    outputs = [json.loads(stored[f"{s.name}_output"]) for s in steps[:5]]
    assert {tuple(o["size"]) for o in outputs} == {(900, 1200)}  # upright, as EXIF says
    seen = [s.seen[0] for s in steps[:5]]
    assert all(image.url == photos.url("/photo.jpg") for image in seen)
    assert len({id(image) for image in seen}) == (1 if workers == 1 else 5)  # one worker decodes once
    timings = [json.loads(stored[f"{s.name}_timings"]) for s in steps[:5]]
    assert all("fetch_ms" in t for t in timings)
    assert "decode_ms" in timings[0] and "decode_ms" in timings[1]  # the scaled copy, then the full image
    if workers == 1:
        assert [("decode_ms" in t) for t in timings[2:]] == [True, False, False]  # only the 960 copy was new


@pytest.mark.azurite
def test_images_of_the_input_containers_are_read_directly_and_not_copied(loopback: Services, unique: str) -> None:
    url = loopback.storage.upload_blob("inputimages", f"b{unique}/photo.jpg", photo(), content_type="image/jpeg")
    runners = [StepRunner(services=loopback, max_dequeue_count=2, served_queues=QueuesOf(unique)) for _ in range(2)]
    steps = seven_steps(unique)
    body = json.dumps(job_message("job", [s.name for s in steps], batch_id=f"b{unique}", image_url=url))
    assert run_job(runners, loopback, body, steps) == [Outcome.SUCCESS] * 7
    assert WORKING_COPY not in entity(loopback, f"b{unique}", "job")
    assert not list(loopback.storage.container(WORKINGCOPIES).list_blobs(name_starts_with=f"b{unique}/"))


@pytest.mark.azurite
def test_a_job_reads_only_its_own_working_copy(
    loopback: Services, photos: Photos, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    photos.photos["/a.jpg"] = photo((600, 400))
    photos.photos["/b.jpg"] = photo((300, 200))
    batch = f"b{unique}"
    first, second = Looks(f"first{unique}"), Looks(f"second{unique}")
    names = [first.name, second.name]

    def runner() -> StepRunner:
        return StepRunner(services=loopback, max_dequeue_count=2, served_queues=QueuesOf(unique))

    body_a = json.dumps(job_message("a", names, batch_id=batch, image_url=photos.url("/a.jpg")))
    assert runner().run(body_a, queue=first.name, classifier=first) == Outcome.SUCCESS
    stolen = entity(loopback, batch, "a")[WORKING_COPY]
    drain(loopback.storage, second.name)

    # Job b's entity names job a's working copy (forged, or a bug): b's step refuses it and fetches its own.
    body_b = json.dumps(job_message("b", names, batch_id=batch, image_url=photos.url("/b.jpg"), step=1))
    loopback.storage.table(PIPELINELOGS).upsert_entity({"PartitionKey": batch, "RowKey": "b", WORKING_COPY: stolen})
    with caplog.at_level(logging.WARNING, logger="pipeline.images.working_copy"):
        assert runner().run(body_b, queue=second.name, classifier=second) == Outcome.SUCCESS
    assert json.loads(entity(loopback, batch, "b")[f"{second.name}_output"])["size"] == [300, 200]
    assert photos.requests == {"/a.jpg": 1, "/b.jpg": 1}
    assert "is not the job's own" in caplog.text

    copies = WorkingCopies(storage=loopback.storage, max_bytes=10**6)
    assert copies.read(stolen, batch_id=batch, job_id="a") == photos.photos["/a.jpg"]
    own = stolen.replace(f"{batch}/a/", f"{batch}/b/")
    for forged in (stolen, own.replace(WORKINGCOPIES, "inputimages"), own.replace("/original", "/other"),
                   stolen.replace(f"{batch}/a/", f"{batch}/b/../a/"), own.replace(batch, f"x{batch}"),
                   photos.url("/a.jpg")):
        assert copies.read(forged, batch_id=batch, job_id="b") is None, forged
    assert photos.requests == {"/a.jpg": 1, "/b.jpg": 1}


@pytest.mark.azurite
@pytest.mark.parametrize("damage", ["missing", "not an image", "truncated"])
def test_a_missing_or_damaged_working_copy_falls_back_to_the_original(
    loopback: Services, photos: Photos, unique: str, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    data = photos.photos["/photo.jpg"] = photo((600, 400))
    batch = f"b{unique}"
    steps = [Looks(f"first{unique}"), Looks(f"second{unique}"), Looks(f"third{unique}")]
    body = json.dumps(job_message("job", [s.name for s in steps], batch_id=batch, image_url=photos.url("/photo.jpg")))

    def runner() -> StepRunner:
        return StepRunner(services=loopback, max_dequeue_count=2, served_queues=QueuesOf(unique))

    assert runner().run(body, queue=steps[0].name, classifier=steps[0]) == Outcome.SUCCESS
    blob = loopback.storage.container(WORKINGCOPIES).get_blob_client(f"{batch}/job/original")
    if damage == "missing":
        blob.delete_blob()
    else:
        blob.upload_blob(b"<html>gone</html>" if damage == "not an image" else data[: len(data) // 2], overwrite=True)
    [body] = drain(loopback.storage, steps[1].name)
    with caplog.at_level(logging.INFO):
        assert runner().run(body, queue=steps[1].name, classifier=steps[1]) == Outcome.SUCCESS
    assert photos.requests == {"/photo.jpg": 2}
    assert ("is missing" if damage == "missing" else "working copy is damaged") in caplog.text
    assert working_copy_bytes(loopback, batch, "job") == data  # the step that fetched again stored it again
    [body] = drain(loopback.storage, steps[2].name)
    assert runner().run(body, queue=steps[2].name, classifier=steps[2]) == Outcome.SUCCESS
    assert photos.requests == {"/photo.jpg": 2}
    assert "image_error" not in entity(loopback, batch, "job")


@pytest.mark.azurite
def test_a_truncated_outside_image_is_an_image_error_and_no_working_copy(
    loopback: Services, photos: Photos, unique: str
) -> None:
    data = photo((2000, 1500))
    photos.photos["/cut.jpg"] = data[: len(data) * 2 // 3]
    batch = f"b{unique}"
    steps = [Looks(f"first{unique}"), Looks(f"second{unique}")]
    body = json.dumps(job_message("job", [s.name for s in steps], batch_id=batch, image_url=photos.url("/cut.jpg")))
    runner = StepRunner(services=loopback, max_dequeue_count=2, served_queues=QueuesOf(unique))
    assert runner.run(body, queue=steps[0].name, classifier=steps[0]) == Outcome.FAILED
    stored = entity(loopback, batch, "job")
    assert stored["image_error"].startswith("NotAnImageError:") and "truncated" in stored["image_error"]
    assert WORKING_COPY not in stored and steps[0].seen == []
