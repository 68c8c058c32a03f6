"""Whether an image is clip art or a line drawing, in Azure Computer Vision's terms, from pixel
statistics: clip art is large flat areas of few colours; a line drawing is dark strokes on a
light, colourless ground."""

from __future__ import annotations

from typing import Any

import numpy as np
import PIL.Image

__all__ = ["analyze_image_type", "clip_art_score"]

_SIDE = 256
_TOP_COLORS = 16
# clipArtType 3, 2, 1 from the clip-art score; below the last, 0 (not clip art).
_CLIP_ART_LEVELS = ((0.75, 3), (0.55, 2), (0.4, 1))


def _small(pil: PIL.Image.Image) -> np.ndarray:
    small = pil.convert("RGB")
    # Nearest keeps flat colours flat; an averaging filter would invent blends at every edge.
    small.thumbnail((_SIDE, _SIDE), PIL.Image.Resampling.NEAREST)
    return np.asarray(small, dtype=np.int16)


def clip_art_score(rgb: np.ndarray) -> float:
    """0–1: the mean of the share of pixels equal to their right and lower neighbours and the
    share of the 16 most common exact colours. Sensor noise keeps both low in photos, even
    smooth grey ones; JPEG noise in clip art stays near the edges."""
    if min(rgb.shape[:2]) < 2:
        return 0.0
    same_x = (np.diff(rgb, axis=1) == 0).all(axis=2)[:-1, :]
    same_y = (np.diff(rgb, axis=0) == 0).all(axis=2)[:, :-1]
    flat = float((same_x & same_y).mean())
    keys = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    counts = np.sort(np.unique(keys, return_counts=True)[1])[::-1]
    top = float(counts[:_TOP_COLORS].sum() / keys.size)
    return (flat + top) / 2


def _is_line_drawing(rgb: np.ndarray) -> bool:
    grey = rgb.mean(axis=2)
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    light, dark = float((grey > 190).mean()), float((grey < 90).mean())
    colourless = float((chroma > 40).mean()) < 0.05
    return colourless and light > 0.6 and 0.005 < dark < 0.3 and light + dark > 0.85


def analyze_image_type(pil: PIL.Image.Image) -> dict[str, Any]:
    """Azure's ``imageType``: clipArtType 0 (not) … 3 (good clip art), lineDrawingType 0 or 1."""
    rgb = _small(pil)
    score = clip_art_score(rgb)
    clip_art = next((level for bound, level in _CLIP_ART_LEVELS if score >= bound), 0)
    return {"clipArtType": clip_art, "lineDrawingType": int(_is_line_drawing(rgb))}
