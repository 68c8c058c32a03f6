"""The labels of a finished job, read from its job_output, for filtering and counting in SQL.

Kinds: ``tag`` and ``category`` (generalclassification), ``caption`` (the words of its
captions), ``text`` (the words OCR read), ``face_match`` (the id of each face matched).
Missing or failed steps and unexpected shapes give no labels rather than an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, cast

if TYPE_CHECKING:
    from classifiers.outputs import FaceMatchOutput, GeneralClassificationOutput

__all__ = ["KINDS", "MAX_NAME", "MAX_TEXT_WORDS", "Label", "labels_from_output"]

KINDS = ("tag", "category", "caption", "text", "face_match")
MAX_NAME = 255  # the column's width
MAX_TEXT_WORDS = 1000  # a scanned page of text should not make a job's transaction huge

_WORD = re.compile(r"\w+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Words of a caption that say nothing about the picture.
_CAPTION_STOPWORDS = frozenset(
    "a an and are as at by for from in into is it its of on or over some that the their this to "
    "with".split()
)


class Label(NamedTuple):
    kind: str
    name: str
    confidence: float | None


def labels_from_output(job_output: Mapping[str, Any]) -> list[Label]:
    """One label per (kind, name), with the highest confidence seen, in a stable order."""
    best: dict[tuple[str, str], float | None] = {}
    for label in _all(job_output):
        name = _CONTROL.sub("", label.name).strip()[:MAX_NAME]
        if not name:
            continue
        key = (label.kind, name)
        if key not in best or _higher(label.confidence, best[key]):
            best[key] = label.confidence
    return [Label(kind, name, confidence) for (kind, name), confidence in best.items()]


def _all(job_output: Mapping[str, Any]) -> Iterator[Label]:
    # Read as the classifiers' outputs (classifiers.outputs); a message is untrusted, so every value is checked.
    general = cast("GeneralClassificationOutput", _mapping(job_output.get("generalclassification")))
    for tag in _list(general.get("tags")):
        tag = _mapping(tag)
        if isinstance(tag.get("name"), str):
            yield Label("tag", tag["name"].casefold(), _confidence(tag.get("confidence")))
    for category in _list(general.get("categories")):
        category = _mapping(category)
        if isinstance(category.get("name"), str):
            yield Label("category", category["name"].casefold(), _confidence(category.get("score")))
    for caption in _list(_mapping(general.get("description")).get("captions")):
        caption = _mapping(caption)
        if isinstance(caption.get("text"), str):
            confidence = _confidence(caption.get("confidence"))
            for word in _words(caption["text"]):
                if word not in _CAPTION_STOPWORDS:
                    yield Label("caption", word, confidence)

    ocr = _mapping(job_output.get("ocr"))
    for count, word in enumerate(_words(_ocr_text(ocr))):
        if count >= MAX_TEXT_WORDS:
            break
        yield Label("text", word, None)

    facematch = cast("FaceMatchOutput", _mapping(job_output.get("facematch")))
    for entry in _list(facematch.get("matches")):
        entry = _mapping(entry)
        # facematch nests the matches of each new face; a flat list of matches reads the same.
        for match in _list(entry.get("matches")) if "matches" in entry else [entry]:
            match = _mapping(match)
            if isinstance(match.get("id"), str):
                yield Label("face_match", match["id"], _confidence(match.get("confidence")))


def _ocr_text(ocr: Mapping[str, Any]) -> str:
    full = ocr.get("OCR_fullText")
    if isinstance(full, str):
        return full
    # Without the full text, gather the words of regions → lines → words.
    words: list[str] = []
    regions = _mapping(ocr.get("ocr")).get("regions", ocr.get("regions"))
    for region in _list(regions):
        for line in _list(_mapping(region).get("lines")):
            for word in _list(_mapping(line).get("words")):
                text = _mapping(word).get("text")
                if isinstance(text, str):
                    words.append(text)
    return " ".join(words)


def _words(text: str) -> Iterable[str]:
    seen: set[str] = set()
    for match in _WORD.finditer(text.casefold()):
        word = match.group()
        if len(word) >= 2 and word not in seen:
            seen.add(word)
            yield word


def _confidence(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _higher(new: float | None, old: float | None) -> bool:
    return new is not None and (old is None or new > old)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
