"""A caption composed from what generalclassification found, as there is no offline captioning model.

"a person", "two people", "a group of 7 people" when people are there, else the best specific tag with
its article ("a tiger cat", "an espresso", "a document", "a logo"); "outdoors"/"indoors" is added when
that category is likely.
The caption carries ``"composed": true`` so nobody takes it for a model's sentence, and the
confidence of the evidence it rests on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .people import People

__all__ = ["MIN_SETTING", "compose_caption"]

MIN_SETTING = 0.5
_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five"}
# Parents say less than the class they were summed from: "a tiger cat", not "an animal".
_GENERIC = {"animal", "mammal", "clothing", "container", "vehicle", "food", "drink", "tool", "person", "people",
            "human face", "group", "text", "weapon", "device", "instrumentality", "graphics", "night", "space"}


def _article(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _who(people: People) -> str:
    if people.count <= 1:
        return "a person"
    if people.count in _NUMBERS:
        return f"{_NUMBERS[people.count]} people"
    return f"a group of {people.count} people"


def compose_caption(people: People, tags: Sequence[dict[str, Any]],
                    categories: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Zero or one caption {text, confidence, composed: true}."""
    if people.present:
        text, confidence = _who(people), people.confidence
    else:
        specific = [t for t in tags if t["name"] not in _GENERIC]
        if not specific:
            return []
        text, confidence = _article(specific[0]["name"]), float(specific[0]["confidence"])
    for category in categories:
        if category["name"] in ("outdoor_", "indoor_") and category["score"] >= MIN_SETTING:
            text += " outdoors" if category["name"] == "outdoor_" else " indoors"
            break
    return [{"text": text, "confidence": round(confidence, 4), "composed": True}]
