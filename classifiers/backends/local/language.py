"""The language of recognised text, with py3langid (BSD; its naive Bayes model ships inside the package).

Only the languages the bundled PP-OCR models read are candidates (Latin-script European languages
and Chinese), which keeps short texts from landing on languages the reader cannot produce. A text
with fewer than ``min_letters`` letters, or whose best language is less likely than
``min_probability`` (0.5: the demo's sign "IMAGINEM PIPELINE reads text offline" is English at 0.56,
"YAMAHA motor company" English at 0.32 beside Portuguese at 0.29), is "unk", as Computer Vision
says when it cannot tell. Codes are the OCR API's:
ISO 639-1, with "zh-Hans" for Chinese.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["LANGUAGES", "LanguageDetector", "UNKNOWN"]

_log = logging.getLogger(__name__)

UNKNOWN = "unk"
LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs", "hu", "ro", "tr", "zh")
_OCR_CODES = {"zh": "zh-Hans", "no": "nb"}


class LanguageDetector:
    """Loads py3langid's model lazily, once per instance (thread-safe)."""

    def __init__(self, *, languages: Sequence[str] = LANGUAGES, min_letters: int = 12,
                 min_probability: float = 0.5) -> None:
        self._languages = list(languages)
        self._min_letters = min_letters
        self._min_probability = min_probability
        self._identifier: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        with self._lock:
            if self._identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                identifier.set_languages(self._languages)
                self._identifier = identifier
                _log.info("loaded py3langid for %d languages", len(self._languages))
            return self._identifier

    def detect(self, text: str) -> str:
        """The OCR API's language code of ``text``, or "unk"."""
        if sum(c.isalpha() for c in text) < self._min_letters:
            return UNKNOWN
        language, probability = self.load().classify(text)
        if probability < self._min_probability:
            return UNKNOWN
        return _OCR_CODES.get(str(language), str(language))
