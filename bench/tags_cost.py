"""What the text tag adds to generalclassification, in milliseconds per 3 MP photo, single-threaded.

On the six photos of bench/throughput.py (astronaut, coffee, chelsea, rocket, camera, page at
2048×1536): the pixel statistics beyond the image type they replace, the gate's verdict, and the
text detector (rapidocr's DB model at 256 px, with its resize) where the gate lets it run. Also the
detector at 256/320/384 px ungated, for comparison. Every variant of a photo runs interleaved in
one loop, so the shared cores' noise hits them alike. Target: ≤ 40 ms added on average.

    .venv/bin/python bench/tags_cost.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the project root first, so `bench.` imports work
    sys.path = [str(Path(__file__).resolve().parents[1])] + [
        p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.throughput import PHOTOS, SIZES, photos  # noqa: E402
from classifiers.backends.local.efficientnet_model import EfficientNetLite0Model  # noqa: E402
from classifiers.backends.local.imagenet_tagger import ImageNetTagger  # noqa: E402
from classifiers.backends.local.imagetype import analyze_image_type, pixel_statistics  # noqa: E402
from classifiers.backends.local.text_presence import TextPresence, worth_a_look  # noqa: E402
from pipeline.images import Image, decode_image  # noqa: E402

TARGET_MS = 40.0
COMPARED_SIDES = (256, 320, 384)


def _ms(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    tagger = ImageNetTagger(model=EfficientNetLite0Model(), threads=1)
    detectors = {side: TextPresence(threads=1, side=side) for side in COMPARED_SIDES}
    for detector in detectors.values():
        detector.load()
    gated = detectors[256]
    data = photos(SIZES["3mp"])
    table = Table(title=f"text tag cost per 3 MP photo (median ms of {args.repeat}, 1 onnxruntime thread)")
    for column in ("photo", "statistics added", "gate", "detector if gated", "added", "text found",
                   *(f"ungated {side} px" for side in COMPARED_SIDES)):
        table.add_column(column, justify="left" if column in ("photo", "gate", "text found") else "right")
    added_all: list[float] = []
    for name, blob in zip(PHOTOS, data, strict=True):
        share = tagger.share(tagger.probabilities(decode_image(blob, url=f"{name}.jpg")), "text_")
        times: dict[str, list[float]] = {}
        opened = False
        found = ""
        for _ in range(args.repeat + 1):  # the first round warms up and is dropped
            # A fresh decode each round: the shared downscaled copies are part of what a job pays.
            image: Image = decode_image(blob, url=f"{name}.jpg")
            base = _ms(lambda im=image: analyze_image_type(im.pil))  # type: ignore[misc]
            stats_ms = _ms(lambda im=image: pixel_statistics(im.pil))  # type: ignore[misc]
            stats = pixel_statistics(image.pil)
            opened = worth_a_look(stats, share)
            detector_ms = _ms(lambda im=image: gated.find(im)) if opened else 0.0  # type: ignore[misc]
            rounds = {"stats": stats_ms - base, "detector": detector_ms}
            for side, detector in detectors.items():
                fresh = decode_image(blob, url=f"{name}.jpg")
                rounds[f"ungated {side}"] = _ms(lambda d=detector, im=fresh: d.find(im))  # type: ignore[misc]
            if opened and not found:
                regions = gated.find(image)
                found = f"{regions.lines} lines, {regions.coverage:.0%}" if regions.lines else "none"
            for key, value in rounds.items():
                times.setdefault(key, []).append(value)
        median = {key: statistics.median(values[1:]) for key, values in times.items()}
        added = median["stats"] + median["detector"]
        added_all.append(added)
        table.add_row(name, f"{median['stats']:.1f}", "runs" if opened else "skips",
                      f"{median['detector']:.1f}" if opened else "–", f"{added:.1f}", found or "not looked",
                      *(f"{median[f'ungated {side}']:.1f}" for side in COMPARED_SIDES))
    mean = statistics.mean(added_all)
    table.add_row("mean", "", "", "", f"{mean:.1f}", "", end_section=True)
    console = Console(width=140)
    console.print(table)
    console.print(f"added per photo: {mean:.1f} ms on average, "
                  f"{'meets' if mean <= TARGET_MS else 'MISSES'} the {TARGET_MS:.0f} ms target")


if __name__ == "__main__":
    main()
