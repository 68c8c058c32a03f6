"""CPU milliseconds of one offline OCR reading at 3 MP, single-threaded, per photo and reader variant.

Photos: the six of ``bench/throughput.py`` at 2048×1536 (astronaut, coffee, chelsea, rocket,
camera, page: skimage's page cropped to 4:3), a rendered 3 MP document page of 24 lines, and the
same page upside down. Variants, called in turn on each photo (interleaved, so load on the machine
hits them alike):

- ``before``: the reader of commit ``BEFORE`` (loaded from git), RapidOCR's own pipeline: one
  detection at long side 960, and a second full detection of each turned copy it reads again;
- ``single``: today's reader with one detection pass at 960 (``coarse_side=None``); turned copies
  are re-read on the same boxes;
- ``coarse N``: today's reader with a coarse pass at long side N and fine passes where needed.

Each cell is the median CPU time (``time.process_time``; onnxruntime with one thread) of
``--repeat`` calls; the text column says what the default reader read. The last line prints
the load average.

    .venv/bin/python bench/ocr_speed.py [--repeat 3] [--coarse 384,480,640]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the project root first, so `bench.` imports work
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import PIL.Image  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.throughput import PHOTOS, SIZES, photos  # noqa: E402
from classifiers.backends.local.rapid_ocr import RapidTextReader  # noqa: E402
from pipeline.cli.samples import render_text  # noqa: E402
from pipeline.images import Image, decode_image  # noqa: E402

BEFORE = "fd54dca"
_MODULE = "classifiers/backends/local/rapid_ocr.py"
DOCUMENT = [
    "Minutes of the annual meeting of the village library",
    "The meeting opened at seven with thirty members present.",
    "The treasurer reported that the roof repairs are paid for",
    "and that the reading room will get new lamps in spring.",
]


def _encoded(pil: PIL.Image.Image, name: str) -> Image:
    buffer = io.BytesIO()
    pil.convert("RGB").save(buffer, format="JPEG", quality=90)
    return decode_image(buffer.getvalue(), url=f"{name}.jpg")


def pictures() -> dict[str, Image]:
    width, height = SIZES["3mp"]
    out = {name: decode_image(data, url=f"{name}.jpg") for name, data in zip(PHOTOS, photos(SIZES["3mp"]),
                                                                              strict=True)}
    page = PIL.Image.new("RGB", (width, height), "white")
    text = render_text(DOCUMENT * 6, size=40)
    page.paste(text.crop((0, 0, min(width, text.width), min(height, text.height))), (40, 40))
    out["document"] = _encoded(page, "document")
    out["document upside down"] = _encoded(page.rotate(180), "document-180")
    return out


def before_reader() -> RapidTextReader | None:
    """The reader class as it was at ``BEFORE``, or None outside a git checkout with that commit."""
    root = Path(__file__).resolve().parents[1]
    try:
        source = subprocess.run(["git", "show", f"{BEFORE}:{_MODULE}"], cwd=root, capture_output=True, text=True,
                                check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("rapid_ocr_before")
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    exec(compile(source, f"{BEFORE}:{_MODULE}", "exec"), module.__dict__)  # noqa: S102 - our own history
    reader: RapidTextReader = module.RapidTextReader(threads=1)
    return reader


def cpu_ms(call: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        call()
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--coarse", default="384,480,640", help="comma-separated coarse sides to compare")
    args = parser.parse_args()
    readers: dict[str, Any] = {}
    old = before_reader()
    if old is not None:
        readers["before"] = old
    readers["single"] = RapidTextReader(threads=1, coarse_side=None)
    for side in (int(s) for s in args.coarse.split(",")):
        readers[f"coarse {side}"] = RapidTextReader(threads=1, coarse_side=side)
    default = RapidTextReader(threads=1)
    images = pictures()
    for reader in (*readers.values(), default):
        reader.read(images["page"])  # loads the models and warms the sessions
    rows = {name: {} for name in images}
    texts = {}
    for name, image in images.items():
        for variant, reader in readers.items():  # interleaved: every variant on this photo, then the next photo
            rows[name][variant] = cpu_ms(lambda r=reader, i=image: r.read(i), args.repeat)
        texts[name] = default.read(image)["OCR_fullText"]
    table = Table(title=f"ocr CPU ms per reading at 3 MP, 1 thread, median of {args.repeat}")
    table.add_column("photo")
    for variant in readers:
        table.add_column(variant, justify="right")
    table.add_column("read (default reader)")
    for name in images:
        text = texts[name].replace("\n", " / ")
        table.add_row(name, *(f"{rows[name][v]:.0f}" for v in readers), text[:40] + ("…" if len(text) > 40 else ""))
    console = Console(width=160)
    console.print(table)
    console.print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", highlight=False)


if __name__ == "__main__":
    main()
