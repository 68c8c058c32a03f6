"""Colour scheme of an image in Azure Computer Vision's terms, from pixel statistics.

Every pixel of a small copy is named with one of Azure's twelve colour names (by hue,
saturation and value); the background is the border ring, the foreground the centre. The
accent colour is the most vivid frequent colour, as hex without '#'.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import PIL.Image

__all__ = ["COLOR_NAMES", "analyze_colors", "color_names"]

COLOR_NAMES = ("Black", "Blue", "Brown", "Grey", "Green", "Orange", "Pink", "Purple", "Red", "Teal",
               "White", "Yellow")
_SIDE = 96  # colour statistics are stable at this size and cost well under a millisecond
_BORDER = 0.2  # the outer fifth on each side is taken as background
_CHROMA_BW = 24  # largest channel spread (0–255) that still reads as grey
_BW_SHARE = 0.01  # an image is black-and-white when fewer pixels than this are coloured
_DOMINANT_SHARE = 0.2
_FOREGROUND_SHARE = 0.2
_BLACK, _BLUE, _BROWN, _GREY, _GREEN, _ORANGE, _PINK, _PURPLE, _RED, _TEAL, _WHITE, _YELLOW = range(12)


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hue in degrees, saturation 0–1, value 0–1 and chroma 0–255 of an N×3 uint8 array."""
    x = rgb.astype(np.float32)
    high, low = x.max(axis=1), x.min(axis=1)
    chroma = high - low
    safe = np.where(chroma == 0, 1.0, chroma)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    hue = np.select(
        [high == r, high == g],
        [((g - b) / safe) % 6, (b - r) / safe + 2],
        (r - g) / safe + 4,
    ) * 60.0
    saturation = np.where(high == 0, 0.0, chroma / np.where(high == 0, 1.0, high))
    return hue, saturation, high / 255.0, chroma


def color_names(rgb: np.ndarray) -> np.ndarray:
    """Index into ``COLOR_NAMES`` for each row of an N×3 uint8 array."""
    hue, sat, val, chroma = _hsv(rgb)
    names = np.full(len(rgb), _GREY, dtype=np.int8)
    grey = (chroma < _CHROMA_BW) | (sat < 0.15)
    names[grey & (val < 0.2)] = _BLACK
    names[grey & (val > 0.85)] = _WHITE
    coloured = ~grey
    names[coloured & (val < 0.15)] = _BLACK
    hues = [(15, _RED), (45, _ORANGE), (70, _YELLOW), (160, _GREEN), (200, _TEAL), (260, _BLUE),
            (300, _PURPLE), (340, _PINK), (361, _RED)]
    picked = np.full(len(rgb), _RED, dtype=np.int8)
    for bound, name in reversed(hues):
        picked[hue < bound] = name
    # Dark or dull oranges and reds are what people call brown; light, soft reds are pink.
    brown = ((picked == _ORANGE) | (picked == _RED) | (picked == _YELLOW)) & (val < 0.6) & (sat > 0.25)
    picked[brown & (picked != _YELLOW)] = _BROWN
    picked[brown & (picked == _YELLOW) & (val < 0.45)] = _BROWN
    pink = ((picked == _RED) | (picked == _PURPLE)) & (val > 0.7) & (sat < 0.5)
    picked[pink] = _PINK
    mask = coloured & (val >= 0.15)
    names[mask] = picked[mask]
    return names


def _shares(names: np.ndarray) -> np.ndarray:
    return np.bincount(names.ravel(), minlength=len(COLOR_NAMES)) / max(names.size, 1)


def _most_common(names: np.ndarray) -> str:
    return COLOR_NAMES[int(_shares(names).argmax())]


def _foreground(centre: np.ndarray, border: np.ndarray) -> str:
    """The colour the centre has most in excess of the border (the subject), if it is a real part
    of the centre; otherwise the centre's most common colour."""
    inside, outside = _shares(centre), _shares(border)
    excess = np.where(inside >= _FOREGROUND_SHARE, inside - outside, -1.0)
    if excess.max() > 0:
        return COLOR_NAMES[int(excess.argmax())]
    return COLOR_NAMES[int(inside.argmax())]


def _accent(pixels: np.ndarray) -> str:
    """Hex of the most vivid colour that is not a stray pixel: saturation × value × √share."""
    bins = (pixels >> 4).astype(np.int32)  # 16 levels per channel
    keys = bins[:, 0] * 256 + bins[:, 1] * 16 + bins[:, 2]
    counts = np.bincount(keys, minlength=4096)
    present = np.flatnonzero(counts)
    centres = np.stack([present // 256, (present // 16) % 16, present % 16], axis=1) * 16 + 8
    _, sat, val, _ = _hsv(centres.astype(np.uint8))
    weight = (0.05 + sat * val) * np.sqrt(counts[present] / len(pixels))
    best = present[int(weight.argmax())]
    mean = pixels[keys == best].mean(axis=0).round().astype(int)
    return "".join(f"{int(c):02X}" for c in mean)


def analyze_colors(pil: PIL.Image.Image) -> dict[str, Any]:
    """Azure's ``color`` object: dominantColorForeground/Background, dominantColors, accentColor, isBWImg."""
    small = pil.convert("RGB")
    small.thumbnail((_SIDE, _SIDE), PIL.Image.Resampling.BOX)
    rgb = np.asarray(small, dtype=np.uint8)
    height, width = rgb.shape[:2]
    names = color_names(rgb.reshape(-1, 3)).reshape(height, width)
    border_y, border_x = max(1, round(height * _BORDER)), max(1, round(width * _BORDER))
    centre = np.zeros((height, width), dtype=bool)
    centre[border_y:height - border_y, border_x:width - border_x] = True
    if not centre.any():
        centre[:] = True
    background = ~centre if (~centre).any() else centre
    counts = np.bincount(names.ravel(), minlength=len(COLOR_NAMES)) / names.size
    order = [int(i) for i in np.argsort(-counts, kind="stable") if counts[i] >= _DOMINANT_SHARE]
    chroma = rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2)
    return {
        "dominantColorForeground": _foreground(names[centre], names[background]),
        "dominantColorBackground": _most_common(names[background]),
        "dominantColors": [COLOR_NAMES[i] for i in order[:3]] or [_most_common(names.ravel())],
        "accentColor": _accent(rgb.reshape(-1, 3)),
        "isBWImg": bool((chroma > _CHROMA_BW).mean() < _BW_SHARE),
    }
