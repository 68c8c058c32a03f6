"""The main job's results: a summary table for the terminal and an HTML report with the faces drawn."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import PIL.Image
import PIL.ImageDraw
from rich.table import Table

__all__ = ["JobResult", "html_report", "summary_table", "with_matches_both_ways"]


@dataclass(frozen=True)
class JobResult:
    job_id: str
    name: str
    image: bytes
    outputs: Mapping[str, Any]
    exceptions: Mapping[str, str]
    image_url: str = ""
    matched_by: tuple[str, ...] = ()
    """Later photos whose faces matched this one's ("<job> <confidence>"), filled in by ``with_matches_both_ways``."""

    @property
    def tags(self) -> list[str]:
        """The four most confident tags."""
        tags = self.outputs.get("generalclassification", {}).get("tags", [])
        ranked = sorted(tags, key=lambda t: -float(t.get("confidence") or 0))
        return [f"{t['name']} {t['confidence']:.2f}" for t in ranked[:4]]

    @property
    def text(self) -> str:
        return " ".join(str(self.outputs.get("ocr", {}).get("OCR_fullText", "")).split())

    @property
    def faces(self) -> list[dict[str, Any]]:
        return list(self.outputs.get("facedetection", {}).get("faces", []))

    @property
    def matches(self) -> list[str]:
        found = []
        for face in self.outputs.get("facematch", {}).get("matches", []):
            for match in face.get("matches", []):
                source = str(match.get("image_url", "")).rsplit("/", 1)[-1]
                found.append(f"{source} {match.get('confidence', 0):.2f}")
        return found


    @property
    def all_matches(self) -> list[str]:
        """Its faces' matches with earlier photos, then the later photos that matched it."""
        return self.matches + [f"{m} (later)" for m in self.matched_by]


def with_matches_both_ways(results: Sequence[JobResult]) -> list[JobResult]:
    """Each result with ``matched_by`` set: a match is stored on the later photo only, shown on both here."""
    by_url = {r.image_url: r for r in results if r.image_url}
    found: dict[str, list[str]] = {r.job_id: [] for r in results}
    for later in results:
        for face in later.outputs.get("facematch", {}).get("matches", []):
            for match in face.get("matches", []):
                earlier = by_url.get(str(match.get("image_url", "")))
                if earlier is not None and earlier.job_id != later.job_id:
                    found[earlier.job_id].append(f"{later.job_id} {match.get('confidence', 0):.2f}")
    return [replace(r, matched_by=tuple(found[r.job_id])) for r in results]


def summary_table(results: Sequence[JobResult]) -> Table:
    table = Table("image", "tags", "text read", "faces", "matches", "exceptions", title="Imaginem: results",
                  show_lines=True)
    for r in results:
        table.add_row(r.name, ", ".join(r.tags), r.text[:60], str(len(r.faces)), ", ".join(r.all_matches) or "-",
                      "\n".join(f"{k}: {v[:80]}" for k, v in r.exceptions.items()) or "-")
    return table


def _with_faces(image: bytes, faces: Sequence[Mapping[str, Any]]) -> bytes:
    pil = PIL.Image.open(io.BytesIO(image)).convert("RGB")
    draw = PIL.ImageDraw.Draw(pil)
    width = max(2, pil.width // 200)
    for face in faces:
        r = face["faceRectangle"]
        draw.rectangle((r["left"], r["top"], r["left"] + r["width"], r["top"] + r["height"]),
                       outline=(255, 40, 40), width=width)
        for point in face.get("faceLandmarks", {}).values():
            x, y = point["x"], point["y"]
            draw.ellipse((x - width, y - width, x + width, y + width), fill=(40, 255, 40))
    pil.thumbnail((640, 640))
    out = io.BytesIO()
    pil.save(out, format="PNG")
    return out.getvalue()


def html_report(results: Sequence[JobResult], folder: Path, title: str) -> Path:
    """Write ``folder/index.html`` and one PNG per image with its face boxes and landmarks drawn."""
    folder.mkdir(parents=True, exist_ok=True)
    cards = []
    for r in results:
        picture = f"{r.job_id}.png"
        (folder / picture).write_bytes(_with_faces(r.image, r.faces))
        details = json.dumps({k: v for k, v in r.outputs.items()}, indent=2, ensure_ascii=False)
        rows = [("tags", ", ".join(r.tags)), ("text read", r.text), ("faces", str(len(r.faces))),
                ("matches", ", ".join(r.all_matches) or "none"),
                ("exceptions", "; ".join(f"{k}: {v}" for k, v in r.exceptions.items()) or "none")]
        cards.append(
            f'<section><h2>{html.escape(r.name)}</h2><img src="{html.escape(picture)}" alt="{html.escape(r.name)}">'
            "<table>" + "".join(f"<tr><th>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in rows) + "</table>"
            f"<details><summary>all outputs</summary><pre>{html.escape(details)}</pre></details></section>"
        )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em;background:#fafafa}section{background:#fff;padding:1em;"
        "margin:1em 0;border-radius:8px;box-shadow:0 1px 3px #0002}img{max-width:640px;display:block}"
        "th{text-align:left;padding-right:1em;vertical-align:top}pre{max-height:30em;overflow:auto}"
        f"</style></head><body><h1>{html.escape(title)}</h1>{''.join(cards)}</body></html>"
    )
    index = folder / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
