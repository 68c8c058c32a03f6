"""Every local classifier in one table: median ms per image at 640×480 and ~3 MP, facematch search
at 10k / 100k / 1M stored prints, and the peak memory of a worker holding every model.

Targets on 2 cores: facedetection ≤ 80 ms at 640×480, faceprint ≤ 70 ms per face, ocr ≤ 700 ms
for a text image, generalclassification ≤ 40 ms (the tags model), facematch search ≤ 100 ms at 1M.
The per-part breakdowns are in classifiers_general.py, classifiers_faces_ocr.py and facematch_search.py.

    .venv/bin/python bench/classifier_speed.py [--repeat 10] [--skip-million]
    .venv/bin/python bench/classifier_speed.py --worker   # only: a worker's memory with the seven classifiers
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

# This file's name would hide the `classifiers` package: the project first, bench/ (for its siblings) last.
_BENCH = Path(__file__).resolve().parent
sys.path = [str(_BENCH.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH] + [str(_BENCH)]

import numpy as np  # noqa: E402
from classifiers_faces_ocr import page, portrait, timed  # noqa: E402
from classifiers_general import photo  # noqa: E402
from facematch_search import build_index  # noqa: E402
from facematch_search import median_ms as search_ms  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from classifiers.backends.factory import local_image_analyzer  # noqa: E402
from classifiers.backends.local.dlib_faces import DlibFaceDetector  # noqa: E402
from classifiers.backends.local.models import ModelCache  # noqa: E402
from pipeline.classifier import NO_CONTEXT  # noqa: E402
from pipeline.job import parse_job  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

SIZES = {"640×480": (640, 480), "3 MP": (2048, 1536)}
TARGETS = {"generalclassification: tags model": "≤ 40", "generalclassification: whole output": "",
           "ocr": "≤ 700", "facedetection": "≤ 80", "facedetection (HOG, before YuNet)": "",
           "faceprint (per face)": "≤ 70"}


def _memory_mib() -> tuple[float, float]:
    """This process's resident memory now and at its peak (VmRSS, VmHWM), MiB."""
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _seven_classifiers(settings: Settings) -> list[Any]:
    """The seven classifiers built as one worker of the Functions app builds them."""
    from classifiers.catalogue import CATALOGUE
    from pipeline.services import Services

    services = Services.from_settings(settings)
    return [spec.build(services) for spec in CATALOGUE]


def _run(classifier: Any, job: Any, image: Any) -> dict[str, Any]:
    output: dict[str, Any] = classifier(job, image if classifier.needs_image else None, NO_CONTEXT)
    return output


def worker_memory() -> None:
    """One job through the seven classifiers of one worker (local models, Azurite, SQLite); its memory."""
    from pipeline.host.azurite import start_azurite

    emulator = start_azurite()
    try:
        with tempfile.TemporaryDirectory() as data:
            settings = replace(Settings.from_env({}), storage_connection_string=emulator.connection_string,
                               data_dir=Path(data))
            before = _memory_mib()[0]
            classifiers = _seven_classifiers(settings)
            job = parse_job({"job_definition": {"id": "bench-worker", "input": {"image_url": "portrait.jpg"},
                                                "processing_pipeline": [c.name for c in classifiers]}})
            image = portrait((1024, 768))
            for classifier in classifiers:
                job = job.with_output(classifier.name, _run(classifier, job, image))
            failed = [c.name for c in classifiers if not isinstance(job.job_output.get(c.name), dict)]
            rss, peak = _memory_mib()
    finally:
        emulator.stop()
    table = Table(title="One worker with the seven local classifiers, after one job (MiB)")
    for column in ("before building", "RSS after the job", "peak RSS (VmHWM)"):
        table.add_column(column, justify="right")
    table.add_row(f"{before:.0f}", f"{rss:.0f}", f"{peak:.0f}")
    Console(width=120).print(table)
    faces = len(job.job_output.get("facedetection", {}).get("faces", []))
    Console().print(f"faces found and printed: {faces}; classifiers without output: {', '.join(failed) or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--skip-million", action="store_true", help="search at 10k and 100k only")
    parser.add_argument("--worker", action="store_true", help="only a worker's memory with the seven classifiers")
    args = parser.parse_args()
    if args.worker:
        worker_memory()
        return

    job = parse_job({"job_definition": {"id": "bench", "input": {"image_url": "bench.jpg"},
                                        "processing_pipeline": ["facedetection"]}})
    models = ModelCache(threads=2)
    analyzer = local_image_analyzer(models)
    tagger, reader, detector, printer = models.tags, models.ocr, models.face_detector, models.face_printer
    hog = DlibFaceDetector(models=models.face_networks)

    rows: list[tuple[str, str, str, str]] = []
    cells: dict[str, dict[str, float]] = {name: {} for name in TARGETS}
    for label, size in SIZES.items():
        picture, text, face = photo(size), page(size), portrait(size)
        faces = detector.detect(face, job)
        cells["generalclassification: tags model"][label] = timed(partial(tagger.probabilities, picture),
                                                                  args.repeat)[0]
        cells["generalclassification: whole output"][label] = timed(partial(analyzer.analyze, picture),
                                                                    args.repeat)[0]
        cells["ocr"][label] = timed(partial(reader.read, text), max(3, args.repeat // 2))[0]
        cells["facedetection"][label] = timed(partial(detector.detect, face, job), args.repeat)[0]
        cells["facedetection (HOG, before YuNet)"][label] = timed(partial(hog.detect, face, job), args.repeat)[0]
        cells["faceprint (per face)"][label] = timed(partial(printer.prints, face, faces[:1], job), args.repeat)[0]
    for name, by_size in cells.items():
        rows.append((name, *(f"{by_size[label]:.0f}" for label in SIZES), TARGETS[name]))  # type: ignore[arg-type]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rng = np.random.default_rng(7)
    for n in (10_000, 100_000) + (() if args.skip_million else (1_000_000,)):
        index, prints, _, _ = build_index(n, rng)
        rows.append((f"facematch search, {n:,} prints (1 face)", f"{search_ms(index, prints, 1, rng):.1f}", "",
                     "≤ 100 at 1M"))
        del index, prints

    table = Table(title="Local classifiers: median ms (2 cores)")
    for column in ("classifier", *SIZES, "target ms"):
        table.add_column(column, justify="left" if column == "classifier" else "right")
    for row in rows:
        table.add_row(*row)
    Console(width=120).print(table)
    Console().print(f"peak memory of this process holding every model: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
