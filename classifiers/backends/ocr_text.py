"""``OCR_fullText`` from the Computer Vision OCR shape, the same for every backend."""

from __future__ import annotations

from typing import Any

__all__ = ["full_text"]


def full_text(ocr: dict[str, Any]) -> str:
    """Words joined by spaces, lines by newlines, in region order."""
    lines = [
        " ".join(str(word.get("text", "")) for word in line.get("words", []))
        for region in ocr.get("regions", [])
        for line in region.get("lines", [])
    ]
    return "\n".join(line for line in lines if line)
