"""The local ``ImageAnalyzer``: Azure Computer Vision's analyze output, computed offline.

Tags and categories come from EfficientNet-Lite0 (ImageNet), people from the local face detector
and what ImageNet sees people wear (``people``), adult scores from open_nsfw, colour and image
type from pixel statistics. There is no offline captioner: ``description.captions`` holds one
caption composed from those findings, marked ``"composed": true`` (``caption``).
"""

from __future__ import annotations

from typing import Any

from pipeline.images import Image

from .adult import AdultScorer
from .caption import compose_caption
from .colors import analyze_colors
from .imagenet_tagger import ImageNetTagger
from .imagetype import analyze_image_type
from .people import PeopleFinder, people_categories, people_tags

__all__ = ["LocalImageAnalyzer", "MODEL_VERSION"]

MODEL_VERSION = "local-efficientnet-lite0-opennsfw-faces"
_PEOPLE_TAGS = {"person", "people", "human face", "group"}


class LocalImageAnalyzer:
    backend = "local"

    def __init__(self, *, tagger: ImageNetTagger, adult: AdultScorer, people: PeopleFinder) -> None:
        self._tagger = tagger
        self._adult = adult
        self._people = people

    def analyze(self, image: Image) -> dict[str, Any]:
        probabilities = self._tagger.probabilities(image)
        people = self._people.find(image, worn=self._tagger.share(probabilities, "people_"))
        # The people finder alone says whether someone is there; ImageNet's own "person" would disagree.
        tags = people_tags(people) + [t for t in self._tagger.tags(probabilities) if t["name"] not in _PEOPLE_TAGS]
        categories = people_categories(people, image.width) + [
            c for c in self._tagger.categories(probabilities) if not c["name"].startswith("people_")]
        return {
            "tags": tags,
            "categories": categories,
            "description": {"tags": [t["name"] for t in tags], "captions": compose_caption(people, tags, categories)},
            "color": analyze_colors(image.pil),
            "imageType": analyze_image_type(image.pil),
            "adult": self._adult.score(image),
            "metadata": {"width": image.width, "height": image.height, "format": image.format.capitalize()},
            "modelVersion": MODEL_VERSION,
        }
