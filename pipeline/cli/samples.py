"""Sample images for the main job, from installed packages (scikit-image's data, a Debian font)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageDraw
import PIL.ImageEnhance
import PIL.ImageFont

__all__ = ["FONT_PATHS", "render_text", "write_samples"]

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


def write_samples(folder: Path) -> list[Path]:
    """Write the sample photos as JPEG/PNG files into ``folder`` and return their paths."""
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    astronaut = PIL.Image.fromarray(data.astronaut())
    # The same face again, cropped, scaled and brighter: facematch should find the first one.
    again = PIL.ImageEnhance.Brightness(astronaut.crop((60, 0, 420, 360)).resize((480, 480))).enhance(1.2)
    images = {
        "astronaut.jpg": astronaut,
        "chelsea-the-cat.jpg": PIL.Image.fromarray(data.chelsea()),
        "coffee.jpg": PIL.Image.fromarray(data.coffee()),
        "camera.png": PIL.Image.fromarray(np.asarray(data.camera())).convert("RGB"),
        "sign.png": render_text(["IMAGINEM PIPELINE", "reads text offline"]),
        "astronaut-again.jpg": again,
    }
    paths = []
    for name, image in images.items():
        path = folder / name
        image.save(path, quality=92) if name.endswith(".jpg") else image.save(path)
        paths.append(path)
    return paths
