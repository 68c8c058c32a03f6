"""Sample images for the classifier tests and benchmarks: scikit-image's photographs and text
rendered with DejaVu Sans (Debian package fonts-dejavu-core), each as a decoded ``Image``."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageDraw
import PIL.ImageFont
from skimage import data

from pipeline.images import Image, decode_image

__all__ = ["ASTRONAUT_FACE", "dejavu_sans", "encode", "photo", "resized", "text_image"]

# Where the astronaut's face lies in skimage's 512x512 picture: left, top, right, bottom.
ASTRONAUT_FACE = (170, 20, 290, 150)
_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)


def encode(picture: np.ndarray | PIL.Image.Image, fmt: str = "PNG", name: str = "sample") -> Image:
    """Encode pixels as a real file would arrive, then decode them as the pipeline does."""
    pil = picture if isinstance(picture, PIL.Image.Image) else PIL.Image.fromarray(picture)
    buffer = io.BytesIO()
    pil.convert("RGB").save(buffer, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return decode_image(buffer.getvalue(), url=f"{name}.{fmt.lower()}")


def photo(name: str, fmt: str = "PNG") -> Image:
    """One of skimage.data's pictures by name (astronaut, camera, coffee, chelsea, ...), in RGB."""
    pixels = np.asarray(getattr(data, name)())
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    return encode(pixels, fmt, name)


def resized(image: Image, width: int, height: int, fmt: str = "JPEG") -> Image:
    return encode(image.pil.resize((width, height), PIL.Image.Resampling.LANCZOS), fmt, f"resized-{width}x{height}")


def dejavu_sans() -> Path:
    """DejaVu Sans, found where Debian puts it or through fontconfig."""
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    if shutil.which("fc-match"):
        found = subprocess.run(["fc-match", "-f", "%{file}", "DejaVu Sans"], capture_output=True, text=True,
                               check=False).stdout.strip()
        if found.endswith("DejaVuSans.ttf") and Path(found).is_file():
            return Path(found)
    raise FileNotFoundError("DejaVu Sans is not installed: apt-get install fonts-dejavu-core")


def text_image(lines: list[str], size: int = 48, width: int | None = None, fmt: str = "PNG") -> Image:
    """Black text on white, one line per entry, left-aligned with a margin of one em."""
    font = PIL.ImageFont.truetype(str(dejavu_sans()), size)
    line_height = int(size * 1.5)
    needed = max(int(font.getlength(line)) for line in lines) + 2 * size
    pil = PIL.Image.new("RGB", (max(width or 0, needed), (len(lines) + 1) * line_height), "white")
    draw = PIL.ImageDraw.Draw(pil)
    for i, line in enumerate(lines):
        draw.text((size, size // 2 + i * line_height), line, fill="black", font=font)
    return encode(pil, fmt, "text")
