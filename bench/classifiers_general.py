"""generalclassification's local backend: milliseconds per image for each part, at 640×480 and ~3 MP.

Parts: the tags model (crop + resize + EfficientNet-Lite0 on onnxruntime; target ≤ 40 ms),
open_nsfw, colour, image type, the text detector at 256 px (run whatever the gate says; its cost per
photo with the gate is bench/tags_cost.py's), and the whole analyze. Also the one-time conversion of the
weights to ONNX, the session loads, and the peak RSS once everything is loaded.

    .venv/bin/python bench/classifiers_general.py [--repeat 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import io
import resource
import statistics
import tempfile
import time
from collections.abc import Callable

import PIL.Image
from rich.console import Console
from rich.table import Table
from skimage import data

from classifiers.backends.local.adult import AdultScorer
from classifiers.backends.local.colors import analyze_colors
from classifiers.backends.local.dlib_faces import DlibModels
from classifiers.backends.local.efficientnet_model import EfficientNetLite0Model
from classifiers.backends.local.imagenet_analyzer import LocalImageAnalyzer
from classifiers.backends.local.imagenet_tagger import ImageNetTagger, preprocess
from classifiers.backends.local.imagetype import analyze_image_type
from classifiers.backends.local.people import PeopleFinder
from classifiers.backends.local.text_presence import TextPresence
from classifiers.backends.local.yunet_faces import make_local_detector
from pipeline.images import Image, decode_image

SIZES = {"640×480": (640, 480), "3 MP (2048×1536)": (2048, 1536)}
TAGS_TARGET_MS = 40.0


def photo(size: tuple[int, int]) -> Image:
    """scikit-image's coffee photo scaled to ``size`` and JPEG-encoded, as a job would bring it."""
    pil = PIL.Image.fromarray(data.coffee()).resize(size, PIL.Image.Resampling.BICUBIC)  # type: ignore[no-untyped-call]
    buffer = io.BytesIO()
    pil.save(buffer, format="JPEG", quality=90)
    return decode_image(buffer.getvalue(), url="bench.jpg")


def median_ms(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    run()  # warm-up: first-run allocations are not what a running worker pays
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.9))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    console = Console()

    with tempfile.TemporaryDirectory():
        rss_before = peak_rss_mb()
        model = EfficientNetLite0Model()
        start = time.perf_counter()
        model.onnx()
        convert_s = time.perf_counter() - start
        tagger = ImageNetTagger(model=model, threads=args.threads)
        start = time.perf_counter()
        tagger.load()
        tags_load_s = time.perf_counter() - start
        adult = AdultScorer(threads=args.threads)
        start = time.perf_counter()
        adult.load()
        adult_load_s = time.perf_counter() - start
        rss_loaded = peak_rss_mb()
        people = PeopleFinder(faces=make_local_detector(DlibModels(threads=args.threads)))
        text = TextPresence(threads=1)
        analyzer = LocalImageAnalyzer(tagger=tagger, adult=adult, people=people, text=text)

        table = Table(title=f"generalclassification, local backend (median / p90 ms of {args.repeat}, "
                            f"{args.threads} onnxruntime threads)")
        table.add_column("part")
        for size in SIZES:
            table.add_column(size, justify="right")
        images = {size: photo(dims) for size, dims in SIZES.items()}
        parts: dict[str, Callable[[Image], object]] = {
            "tags model (resize + EfficientNet-Lite0)": lambda im: tagger.tags(tagger.probabilities(im)),
            "  of which crop + resize to 224": preprocess,
            "adult (open_nsfw)": adult.score,
            "people (face detector)": lambda im: people.find(im, worn=0.0),
            "color": lambda im: analyze_colors(im.pil),
            "imageType": lambda im: analyze_image_type(im.pil),
            "text detector at 256 px (ungated, 1 thread)": text.find,
            "whole analyze": analyzer.analyze,
        }
        tags_worst = 0.0
        for label, part in parts.items():
            cells = []
            for image in images.values():
                median, p90 = median_ms(lambda p=part, im=image: p(im), args.repeat)  # type: ignore[misc]
                cells.append(f"{median:.1f} / {p90:.1f}")
                if label.startswith("tags model"):
                    tags_worst = max(tags_worst, median)
            table.add_row(label, *cells)
        console.print(table)
        verdict = "meets" if tags_worst <= TAGS_TARGET_MS else "MISSES"
        console.print(f"tags model: worst median {tags_worst:.1f} ms, {verdict} the {TAGS_TARGET_MS:.0f} ms target")
        console.print(f"one-time conversion to ONNX {convert_s:.2f} s; session loads: tags {tags_load_s:.2f} s, "
                      f"open_nsfw {adult_load_s:.2f} s")
        console.print(f"peak RSS: {rss_before:.0f} MB after imports, {rss_loaded:.0f} MB with both models loaded, "
                      f"{peak_rss_mb():.0f} MB at the end")


if __name__ == "__main__":
    main()
