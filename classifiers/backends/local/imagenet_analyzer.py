"""The local ``ImageAnalyzer``: Azure Computer Vision's analyze output, computed offline.

Tags and categories come from EfficientNet-Lite0 (ImageNet), people from the local face detector
and what ImageNet sees people wear (``people``), ``text``/``document``/``logo`` from rapidocr's text
detector on a 256 px copy when the pixels make text plausible (``text_presence``), ``graphics`` and
``night``/``space`` from pixel statistics (``imagetype.pixel_tags``), adult scores from open_nsfw,
colour and image type from pixel statistics. People tags come first, then every other tag by confidence.
There is no offline captioner: ``description.captions`` holds one caption composed from those findings,
marked ``"composed": true`` (``caption``).
"""

from __future__ import annotations

from typing import Any

from pipeline.images import Image

from .adult import AdultScorer
from .caption import compose_caption
from .colors import analyze_colors
from .imagenet_tagger import ANALYSIS_SIDE, ImageNetTagger
from .imagetype import pixel_statistics, pixel_tags
from .people import PeopleFinder, people_categories, people_tags
from .text_presence import NO_TEXT, TextPresence, text_tags, worth_a_look

__all__ = ["LocalImageAnalyzer", "MODEL_VERSION"]

MODEL_VERSION = "local-efficientnet-lite0-opennsfw-faces-ppocr-det"
_PEOPLE_TAGS = {"person", "people", "human face", "group"}


class LocalImageAnalyzer:
    backend = "local"

    def __init__(self, *, tagger: ImageNetTagger, adult: AdultScorer, people: PeopleFinder,
                 text: TextPresence) -> None:
        self._tagger = tagger
        self._adult = adult
        self._people = people
        self._text = text

    def analyze(self, image: Image) -> dict[str, Any]:
        probabilities = self._tagger.probabilities(image)
        people = self._people.find(image, worn=self._tagger.share(probabilities, "people_"))
        copy, _ = image.scaled(ANALYSIS_SIDE)  # statistics and colours thumbnail it to 256 and 96 px anyway
        stats = pixel_statistics(copy)
        looked = worth_a_look(stats, self._tagger.share(probabilities, "text_"))
        regions = self._text.find(image) if looked else NO_TEXT
        found = text_tags(regions, stats)
        names = {t["name"] for t in found}
        # A page rendered straight from a file is exactly flat too, yet a document, not a graphic.
        found += [t for t in pixel_tags(stats) if not (t["name"] == "graphics" and "document" in names)]
        names |= {t["name"] for t in found}
        # The people finder alone says whether someone is there; ImageNet's own "person" would disagree.
        found += [t for t in self._tagger.tags(probabilities) if t["name"] not in _PEOPLE_TAGS | names]
        tags = people_tags(people) + sorted(found, key=lambda t: -t["confidence"])
        categories = people_categories(people, image.width) + [
            c for c in self._tagger.categories(probabilities) if not c["name"].startswith("people_")]
        return {
            "tags": tags,
            "categories": categories,
            "description": {"tags": [t["name"] for t in tags], "captions": compose_caption(people, tags, categories)},
            "color": analyze_colors(copy),
            "imageType": stats.image_type(),
            "adult": self._adult.score(image),
            "metadata": {"width": image.width, "height": image.height, "format": image.format.capitalize()},
            "modelVersion": MODEL_VERSION,
        }
