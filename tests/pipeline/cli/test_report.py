"""The demo's summary table and HTML report: tags by confidence, a face match shown on both photos."""

from __future__ import annotations

import io
from pathlib import Path

import PIL.Image
from rich.console import Console

from pipeline.cli.report import JobResult, html_report, summary_table, with_matches_both_ways


def _png() -> bytes:
    out = io.BytesIO()
    PIL.Image.new("RGB", (40, 30), "white").save(out, format="PNG")
    return out.getvalue()


def _results() -> list[JobResult]:
    face = {"faceRectangle": {"left": 1, "top": 1, "width": 10, "height": 10}, "faceLandmarks": {}}
    first = JobResult(job_id="0000-a.jpg", name="a.jpg", image=_png(), image_url="http://x/inputimages/b/0000-a.jpg",
                      outputs={"generalclassification": {"tags": [{"name": "low", "confidence": 0.1},
                                                                  {"name": "high", "confidence": 0.9},
                                                                  {"name": "mid", "confidence": 0.5}]},
                               "facedetection": {"faces": [face]},
                               "facematch": {"matches": [{"faceId": "f0", "matches": []}]}},
                      exceptions={})
    match = {"id": "f0", "image_url": "http://x/inputimages/b/0000-a.jpg", "confidence": 0.87}
    later = JobResult(job_id="0001-b.jpg", name="b.jpg", image=_png(), image_url="http://x/inputimages/b/0001-b.jpg",
                      outputs={"facedetection": {"faces": [face]},
                               "facematch": {"matches": [{"faceId": "f1", "matches": [match]}]}},
                      exceptions={})
    return with_matches_both_ways([first, later])


def test_tags_are_ranked_by_confidence() -> None:
    assert _results()[0].tags == ["high 0.90", "mid 0.50", "low 0.10"]


def test_a_match_is_shown_on_the_earlier_photo_too(tmp_path: Path) -> None:
    first, later = _results()
    assert later.all_matches == ["0000-a.jpg 0.87"]
    assert first.all_matches == ["0001-b.jpg 0.87 (later)"]

    console = Console(width=200, record=True)
    console.print(summary_table([first, later]))
    rows = [line for line in console.export_text().splitlines() if "a.jpg" in line or "b.jpg" in line]
    assert "0001-b.jpg 0.87 (later)" in rows[0] and "0000-a.jpg 0.87" in rows[1]

    page = html_report([first, later], tmp_path, "t").read_text()
    assert "matches</th><td>none" not in page
    assert "0001-b.jpg 0.87 (later)" in page
