"""Sample images for the main job: photos shipped in ``sample_photos/`` (from scikit-image's data, public domain
and CC0: see its SOURCES.md) and a sign rendered with a Debian font."""

from __future__ import annotations

import shutil
from pathlib import Path

import PIL.Image
import PIL.ImageDraw
import PIL.ImageFont

__all__ = ["FONT_PATHS", "PHOTOS", "render_text", "write_samples"]

FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)


def _font(size: int) -> PIL.ImageFont.FreeTypeFont | PIL.ImageFont.ImageFont:
    for path in FONT_PATHS:
        if Path(path).exists():
            return PIL.ImageFont.truetype(path, size)
    return PIL.ImageFont.load_default(size)


def render_text(lines: list[str], size: int = 48) -> PIL.Image.Image:
    """Black text on white, as a scanned sign would look."""
    font = _font(size)
    width = max(int(font.getlength(line)) for line in lines) + 2 * size
    image = PIL.Image.new("RGB", (width, (len(lines) + 1) * int(size * 1.5)), "white")
    draw = PIL.ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((size, size // 2 + i * int(size * 1.5)), line, fill="black", font=font)
    return image


PHOTOS = Path(__file__).with_name("sample_photos")
_ORDER = ("astronaut.jpg", "chelsea-the-cat.jpg", "coffee.jpg", "camera.png", "sign.png", "astronaut-again.jpg")


def write_samples(folder: Path) -> list[Path]:
    """Write the sample photos as JPEG/PNG files into ``folder`` and return their paths.

    astronaut-again.jpg is the same face again, cropped, scaled and brighter: facematch should find the first one.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in _ORDER:
        path = folder / name
        if name == "sign.png":
            render_text(["IMAGINEM PIPELINE", "reads text offline"]).save(path)
        elif name == "camera.png":  # shipped in grayscale, a third of the bytes; the pixels are the same
            with PIL.Image.open(PHOTOS / name) as gray:
                gray.convert("RGB").save(path)
        else:
            shutil.copyfile(PHOTOS / name, path)
        paths.append(path)
    return paths
