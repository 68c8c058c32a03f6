"""Getting a job's image in each of its five image steps, before and after "fetch once, decode once".

The photos of ``bench/throughput.py`` (``photos()``: six skimage photos, JPEG q90) at 512×384,
3 MP and 12 MP, served by a loopback HTTP server (an image_url outside the storage account), a
real Azurite for the working copies. Each step takes what today's local classifiers take from
the image: generalclassification and ocr the full image (``pil``), facedetection a 960 px copy
(``scaled(960)``, YuNet), facecrop ``pil`` and faceprint ``rgb`` (as when faces were found).
Measured per step, wall-clock: getting the image plus decoding the pixels that step uses.

- **before**: the code before this change (``pipeline/images.py`` of commit fd54dca, loaded from
  git): every step fetches the URL and decodes the whole photo, then makes its copy.
- **after, other worker each**: every step on a fresh ``JobImages`` (no cache): the first fetches
  the URL and stores the working copy, the others read the working copy from Azurite.
- **after, one worker**: the five steps on one ``JobImages``: its decoded-image cache serves them.
- **blob**: the same photo as a blob of ``inputimages`` (what ``imaginem submit`` and
  ``bench/throughput.py`` send): read directly by every step, no working copy; the blob upload is not
  timed.

The loopback server answers at once: an origin on the internet makes each URL fetch slower, so the
URL "before" column is a best case.

Variants are interleaved (their order rotates per photo) in one run; the table shows medians over
photos and rounds, and each column's sum over the five steps.

    .venv/bin/python bench/image_once.py [--rounds 2] [--sizes 512,3mp,12mp]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throughput import SIZES, photos  # noqa: E402
from pipeline.host.azurite import start_azurite  # noqa: E402
from pipeline.images import ImageFetcher  # noqa: E402
from pipeline.images.cache import DecodedImages  # noqa: E402
from pipeline.images.job_images import JobImages  # noqa: E402
from pipeline.images.netguard import AddressPolicy  # noqa: E402
from pipeline.images.working_copy import WorkingCopies  # noqa: E402
from pipeline.job import Job, parse_job  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.storage import Storage  # noqa: E402

BEFORE = "fd54dca"
PIPELINE = ["generalclassification", "ocr", "facedetection", "facecrop", "faceprint", "facematch", "pipelineoutput"]
NEEDS: dict[str, Callable[[Any], object]] = {
    "generalclassification": lambda image: image.pil,
    "ocr": lambda image: image.pil,
    "facedetection": lambda image: image.scaled(960),
    "facecrop": lambda image: image.pil,
    "faceprint": lambda image: image.rgb,
}
VARIANTS = ("URL before", "URL after, other workers", "URL after, one worker",
            "blob before", "blob after, other workers")


def old_images() -> types.ModuleType:
    """``pipeline/images.py`` as it was before this change, as a module of its own."""
    source = subprocess.run(["git", "show", f"{BEFORE}:pipeline/images.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader("images_before", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, "images_before.py", "exec"), module.__dict__)
    return module


class Photos(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.photos: dict[str, bytes] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = server.photos[self.path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.daemon_threads = True

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_port}{path}"


def job(url: str) -> Job:
    message = {"job_definition": {"id": f"j-{uuid.uuid4().hex[:10]}", "batch_id": "bench-image-once",
                                  "input": {"image_url": url, "image_classifiers": [], "image_parameters": {}},
                                  "processing_pipeline": PIPELINE, "processing_step": 0}, "job_output": {}}
    return parse_job(json.dumps(message), default_pipeline=tuple(PIPELINE))


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sizes", default="512,3mp,12mp")
    args = parser.parse_args()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]

    old = old_images()
    settings = Settings()
    azurite = start_azurite()
    server = Photos()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        storage = Storage(azurite.connection_string)
        options: dict[str, Any] = {"max_bytes": settings.image_max_bytes, "max_pixels": settings.image_max_pixels,
                                   "timeout": 20.0, "blobs": storage,
                                   "addresses": AddressPolicy(allow=["127.0.0.1"])}
        before_fetcher = old.ImageFetcher(**options)
        fetcher = ImageFetcher(**options)
        copies = WorkingCopies(storage=storage, max_bytes=settings.image_max_bytes)

        def fresh() -> JobImages:
            return JobImages(fetcher=fetcher, copies=copies, cache=DecodedImages(max_bytes=settings.image_cache_bytes))

        def before(url: str) -> list[float]:
            return [timed(lambda need=need: need(before_fetcher.fetch(url))) for need in NEEDS.values()]

        def after(url: str, *, one_worker: bool) -> list[float]:
            current, entity, spent = job(url), {}, []
            shared = fresh()
            for need in NEEDS.values():
                images = shared if one_worker else fresh()
                record: dict[str, Any] = {}

                def step(images: JobImages = images, record: dict[str, Any] = record, need: Any = need,
                         current: Job = current) -> None:
                    image = images.get(current, entity, record)
                    need(image)
                    images.keep(current, image)

                spent.append(timed(step))
                entity.update(record)  # the step's own merge
                current = current.advanced()
            return spent

        def blob(path: str) -> str:
            """The photo served at ``path`` as a blob of inputimages (what ``imaginem submit`` uploads)."""
            return storage.upload_blob("inputimages", f"bench-image-once{path}", server.photos[path],
                                       content_type="image/jpeg")

        run: dict[str, Callable[[str], list[float]]] = {
            VARIANTS[0]: lambda path: before(server.url(path)),
            VARIANTS[1]: lambda path: after(server.url(path), one_worker=False),
            VARIANTS[2]: lambda path: after(server.url(path), one_worker=True),
            VARIANTS[3]: lambda path: before(blob(path)),
            VARIANTS[4]: lambda path: after(blob(path), one_worker=False),
        }
        spent: dict[tuple[str, str], list[list[float]]] = {}
        for size in sizes:  # warm-up: connections, containers, code paths
            server.photos[f"/warm-{size}.jpg"] = photos(SIZES[size])[0]
            for variant in VARIANTS:
                run[variant](f"/warm-{size}.jpg")
        rotation = 0
        for round_ in range(args.rounds):
            for size in sizes:
                for index, data in enumerate(photos(SIZES[size])):
                    path = f"/{size}-{round_}-{index}.jpg"
                    server.photos[path] = data
                    order = VARIANTS[rotation % len(VARIANTS):] + VARIANTS[: rotation % len(VARIANTS)]
                    rotation += 1
                    for variant in order:
                        spent.setdefault((size, variant), []).append(run[variant](path))
    finally:
        server.shutdown()
        server.server_close()
        azurite.stop()

    table = Table(title="getting the image + decoding what the step uses, ms per step (median)")
    table.add_column("size")
    table.add_column("step", no_wrap=True)
    for variant in VARIANTS:
        table.add_column(variant, justify="right")
    for size in sizes:
        for i, name in enumerate([*NEEDS, "sum of the five"]):
            cells = []
            for variant in VARIANTS:
                rows = spent[(size, variant)]
                values = [sum(r) for r in rows] if i == len(NEEDS) else [r[i] for r in rows]
                cells.append(f"{statistics.median(values):.1f}")
            table.add_row(size if i == 0 else "", name, *cells, end_section=i == len(NEEDS))
    Console().print(table)


if __name__ == "__main__":
    main()
