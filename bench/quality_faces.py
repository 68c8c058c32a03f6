"""Face quality on the evaluation set ``bench/eval/faces.json``: detection recall and precision per
image class (a found face counts when its box overlaps a true one with IoU ≥ 0.4), and matching:
same-person and false-match rates over every pair of true faces from different photos, with the
prints faceprint makes and facematch's threshold.

    .venv/bin/python bench/quality_faces.py [--distances]   # --distances: the histogram of docs/facematch.md
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the project first, (a bench module named like a package would hide it)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import PIL.Image  # noqa: E402

from bench.eval.fetch import fetch_all  # noqa: E402
from bench.quality_rows import Row  # noqa: E402
from pipeline.images import Image, decode_image  # noqa: E402
from pipeline.job import Job, parse_job  # noqa: E402

__all__ = ["CLASSES", "EVAL_FILE", "Photo", "distances", "load", "measure"]

EVAL_FILE = Path(__file__).resolve().parent / "eval" / "faces.json"
CLASSES = ("frontal", "turned", "small", "group", "negatives")
IOU = 0.4
Box = tuple[int, int, int, int]  # left, top, width, height


@dataclass(frozen=True)
class Photo:
    name: str
    image_class: str
    image: Image
    faces: list[tuple[Box, str]]  # true box, who


def load(path: Path = EVAL_FILE) -> list[Photo]:
    """The evaluation photos, fetched on first use into .eval/ and scaled as their entry says."""
    entries = json.loads(path.read_text())
    photos = []
    for entry, file in zip(entries, fetch_all(e["source"] for e in entries), strict=True):
        pil = PIL.Image.open(file).convert("RGB")
        if "scale" in entry:
            size = (round(pil.width * entry["scale"]), round(pil.height * entry["scale"]))
            pil = pil.resize(size, PIL.Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        pil.save(buffer, format="PNG")
        image = decode_image(buffer.getvalue(), url=f"{entry['name']}.png")
        faces = [(tuple(f["box"]), f["person"]) for f in entry["faces"]]
        photos.append(Photo(entry["name"], entry["class"], image, faces))  # type: ignore[arg-type]
    return photos


def _iou(a: Box, b: Box) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _box(face: dict[str, Any]) -> Box:
    r = face["faceRectangle"]
    return r["left"], r["top"], r["width"], r["height"]


def matched(found: Sequence[Box], truth: Sequence[Box]) -> int:
    """How many true faces a found box claims (greedy by IoU, each box used once)."""
    pairs = sorted(((_iou(f, t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth)), reverse=True)
    used_f: set[int] = set()
    used_t: set[int] = set()
    for iou, i, j in pairs:
        if iou >= IOU and i not in used_f and j not in used_t:
            used_f.add(i)
            used_t.add(j)
    return len(used_t)


def _job(name: str) -> Job:
    return parse_job({"job_definition": {"id": f"quality-{name}", "input": {"image_url": f"{name}.png"},
                                         "processing_pipeline": ["facedetection"]}})


def detection_rows(photos: Sequence[Photo], detect: Callable[[Image, Job], list[dict[str, Any]]]) -> list[Row]:
    rows = []
    totals = [0, 0, 0]
    for image_class in CLASSES:
        of_class = [p for p in photos if p.image_class == image_class]
        true = found = hit = 0
        for photo in of_class:
            boxes = [_box(f) for f in detect(photo.image, _job(photo.name))]
            truth = [box for box, _ in photo.faces]
            true, found, hit = true + len(truth), found + len(boxes), hit + matched(boxes, truth)
        totals = [totals[0] + true, totals[1] + found, totals[2] + hit]
        if image_class == "negatives":
            rows.append(Row(image_class, "false faces", float(found - hit), "= 0", len(of_class)))
            continue
        rows.append(Row(image_class, "face recall", hit / true if true else 1.0, "≥ 0.97", true))
        rows.append(Row(image_class, "face precision", hit / found if found else 1.0, "≥ 0.97", found))
    true, found, hit = totals
    rows.append(Row("all", "face recall", hit / true, "≥ 0.97", true))
    rows.append(Row("all", "face precision", hit / found if found else 1.0, "≥ 0.97", found))
    return rows


def distances(photos: Sequence[Photo], prints: Callable[[Image, list[dict[str, Any]], Job], list[dict[str, Any]]]
              ) -> tuple[list[float], list[float]]:
    """Print distances of same-person and of different-person face pairs from different photos."""
    faces = []
    for photo in photos:
        given = [{"faceRectangle": {"left": b[0], "top": b[1], "width": b[2], "height": b[3]}} for b, _ in photo.faces]
        for (_, who), printed in zip(photo.faces, prints(photo.image, given, _job(photo.name)), strict=True):
            faces.append((photo.name, who, np.asarray(printed["print"], dtype=np.float32)))
    same, different = [], []
    for (photo_a, who_a, a), (photo_b, who_b, b) in itertools.combinations(faces, 2):
        if photo_a != photo_b:
            (same if who_a == who_b else different).append(float(np.linalg.norm(a - b)))
    return same, different


def matching_rows(same: Sequence[float], different: Sequence[float], threshold: float) -> list[Row]:
    matches = sum(d <= threshold for d in same)
    false = sum(d <= threshold for d in different)
    return [
        Row("matching", f"same-person match (d ≤ {threshold:g})", matches / len(same), "≥ 0.95", len(same)),
        Row("matching", "false matches", float(false), "= 0", len(different)),
    ]


def measure() -> list[Row]:
    """Every face row of bench/quality.py, with the offline backends the pipeline builds by default."""
    from classifiers.backends.local.dlib_faces import DlibFacePrinter, DlibModels
    from classifiers.backends.local.yunet_faces import make_local_detector
    from pipeline.settings import SETTINGS

    threshold = float(next(s.default for s in SETTINGS if s.name == "FACE_MATCH_THRESHOLD"))
    models = DlibModels()
    photos = load()
    rows = detection_rows(photos, make_local_detector(models).detect)
    return rows + matching_rows(*distances(photos, DlibFacePrinter(models=models).prints), threshold)


def _histogram(same: Sequence[float], different: Sequence[float]) -> None:
    edges = np.arange(0.0, 1.25, 0.05)
    s, _ = np.histogram(same, edges)
    d, _ = np.histogram(different, edges)
    print("| distance | same person | different people |\n|---|---|---|")
    for lo, a, b in zip(edges, s, d, strict=False):
        if a or b:
            print(f"| {lo:.2f}–{lo + 0.05:.2f} | {a} | {b} |")
    print(f"\nsame: n={len(same)} max={max(same):.3f}; different: n={len(different)} min={min(different):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--distances", action="store_true", help="print the distance histogram only")
    args = parser.parse_args()
    if args.distances:
        from classifiers.backends.local.dlib_faces import DlibFacePrinter, DlibModels

        _histogram(*distances(load(), DlibFacePrinter(models=DlibModels()).prints))
        return
    for row in measure():
        print(row)


if __name__ == "__main__":
    main()
