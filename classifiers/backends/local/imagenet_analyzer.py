"""The local ``ImageAnalyzer``: Azure Computer Vision's analyze output, computed offline.

Tags and categories come from EfficientNet-Lite0 (ImageNet), adult scores from open_nsfw,
colour and image type from pixel statistics. There is no offline captioner, so
``description.captions`` is always empty.
"""

from __future__ import annotations

from typing import Any

from pipeline.images import Image

from .adult import AdultScorer
from .colors import analyze_colors
from .imagenet_tagger import ImageNetTagger
from .imagetype import analyze_image_type

__all__ = ["LocalImageAnalyzer", "MODEL_VERSION"]

MODEL_VERSION = "local-efficientnet-lite0-opennsfw"


class LocalImageAnalyzer:
    backend = "local"

    def __init__(self, *, tagger: ImageNetTagger, adult: AdultScorer) -> None:
        self._tagger = tagger
        self._adult = adult

    def analyze(self, image: Image) -> dict[str, Any]:
        probabilities = self._tagger.probabilities(image)
        tags = self._tagger.tags(probabilities)
        return {
            "tags": tags,
            "categories": self._tagger.categories(probabilities),
            "description": {"tags": [t["name"] for t in tags], "captions": []},
            "color": analyze_colors(image.pil),
            "imageType": analyze_image_type(image.pil),
            "adult": self._adult.score(image),
            "metadata": {"width": image.width, "height": image.height, "format": image.format.capitalize()},
            "modelVersion": MODEL_VERSION,
        }
