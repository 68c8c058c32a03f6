"""CPU milliseconds per 3 MP photo of the offline face work, before and after, side by side.

Variants run interleaved (photo by photo, repeat by repeat) on fresh decoded images, onnxruntime on
one thread; the table shows the median over the repeats of the process CPU time (every thread,
so yuface's OpenMP threads count) and of the wall time.

- facedetection before: YuNet on a 960 px copy, yuface's default OpenMP threads, unsure candidates
  checked by dlib-bin's CNN; between: still 960 px, one thread, the CNN on onnxruntime; after: the
  defaults (640 px, one thread, the CNN on onnxruntime).
- people before: generalclassification's people finder running ``detect`` of the before variant;
  after: ``sure_faces`` (480 px, no check, no landmarks).
- faceprint: ``DlibFacePrinter.prints`` of the faces found (unchanged; loaded before timing).

    .venv/bin/python bench/faces_speed.py [--repeats 3] [--size 3mp]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the project root first, so `bench.` imports work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.throughput import PHOTOS, SIZES, photos  # noqa: E402
from classifiers.backends.local.dlib_faces import DlibFacePrinter, DlibModels  # noqa: E402
from classifiers.backends.local.yunet_faces import YuNetFaceDetector  # noqa: E402
from pipeline.images import Image, decode_image  # noqa: E402
from pipeline.job import parse_job  # noqa: E402

__all__ = ["main", "variants"]

_JOB = parse_job({"job_definition": {"id": "faces-speed", "input": {"image_url": "b.jpg"},
                                     "processing_pipeline": ["facedetection"]}})


def variants(models: DlibModels) -> dict[str, Callable[[Image], Any]]:
    """Each variant's work on one image."""
    before = YuNetFaceDetector(models=models, max_side=960, threads=2,  # yuface's OpenMP default: one per core
                               confirm=lambda chip: len(models.cnn(chip, 0)) > 0)
    one_thread = YuNetFaceDetector(models=models, max_side=960)  # only the thread count and the check changed
    after = YuNetFaceDetector(models=models)
    before.load(), after.load()
    _ = models.cnn
    return {
        "facedetection before": lambda image: before.detect(image, _JOB),
        "960 px, 1 thread, onnx check": lambda image: one_thread.detect(image, _JOB),
        "facedetection after": lambda image: after.detect(image, _JOB),
        "people before": lambda image: before.detect(image, _JOB),
        "people after": lambda image: after.sure_faces(image),
    }


def _timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = work()
    return (time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000, result


def _check_costs(models: DlibModels, repeats: int) -> tuple[float, float]:
    """CPU ms of one 200×200 check by dlib-bin's CNN and by its ONNX conversion."""
    chip = np.asarray(decode_image(photos((200, 200))[0], url="chip.jpg").pil)
    dlib_ms = statistics.median(_timed(lambda: models.cnn(chip, 0))[0] for _ in range(repeats))
    onnx_ms = statistics.median(_timed(lambda: models.checker.score(chip))[0] for _ in range(repeats))
    return dlib_ms, onnx_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", choices=sorted(SIZES), default="3mp")
    args = parser.parse_args()
    models = DlibModels(threads=1)
    work = variants(models)
    printer = DlibFacePrinter(models=models)
    printer.load()
    data = photos(SIZES[args.size])
    cpu: dict[tuple[str, str], list[float]] = {}
    wall: dict[tuple[str, str], list[float]] = {}
    found: dict[tuple[str, str], int] = {}
    for _ in range(args.repeats):
        for name, encoded in zip(PHOTOS, data, strict=True):
            for variant, run in work.items():
                image = decode_image(encoded, url=f"{name}.jpg")
                c, w, faces = _timed(lambda run=run, image=image: run(image))  # type: ignore[misc]
                cpu.setdefault((name, variant), []).append(c)
                wall.setdefault((name, variant), []).append(w)
                found[(name, variant)] = len(faces)
                if variant == "facedetection after":
                    c, w, _ = _timed(lambda image=image, faces=faces: printer.prints(image, faces, _JOB))  # type: ignore[misc]
                    cpu.setdefault((name, "faceprint"), []).append(c)
                    wall.setdefault((name, "faceprint"), []).append(w)
                    found[(name, "faceprint")] = len(faces)
    columns = [*work, "faceprint"]
    table = Table(title=f"Face work per {args.size} photo: CPU ms (wall ms) [faces], median of {args.repeats}")
    table.add_column("photo")
    for column in columns:
        table.add_column(column, justify="right")
    for name in (*PHOTOS, "mean"):
        cells = []
        for column in columns:
            if name == "mean":
                c = statistics.mean(statistics.median(cpu[(p, column)]) for p in PHOTOS)
                w = statistics.mean(statistics.median(wall[(p, column)]) for p in PHOTOS)
                cells.append(f"{c:.0f} ({w:.0f})")
            else:
                cells.append(f"{statistics.median(cpu[(name, column)]):.0f} "
                             f"({statistics.median(wall[(name, column)]):.0f}) [{found[(name, column)]}]")
        table.add_row(name, *cells)
    console = Console()
    console.print(table)
    dlib_ms, onnx_ms = _check_costs(models, args.repeats)
    console.print(f"one CNN check (200×200 chip): dlib-bin {dlib_ms:.0f} ms CPU, onnxruntime {onnx_ms:.0f} ms CPU")


if __name__ == "__main__":
    main()
