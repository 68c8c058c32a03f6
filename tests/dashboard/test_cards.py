"""What the pages show of a job: each face box carries the id the face index knows the face by."""

from __future__ import annotations

from dashboard.cards import face_boxes


def test_a_face_box_carries_facematchs_face_id_else_facedetections() -> None:
    rect = {"left": 10, "top": 20, "width": 30, "height": 40}
    other = {"left": 50, "top": 20, "width": 30, "height": 40}
    outputs = {
        "facedetection": {"faces": [{"faceId": "d1", "faceRectangle": rect, "confidence": 0.9},
                                    {"faceId": "d2", "faceRectangle": other},
                                    {"faceRectangle": {"left": 1, "top": 1, "width": 2, "height": 2}},
                                    {"faceId": "lost", "faceRectangle": {"left": "x"}}]},
        "facematch": {"matches": [{"faceId": "m1", "faceRectangle": {**rect, "left": 10.0}, "matches": []},
                                  {"faceId": 7, "faceRectangle": other}]},
    }
    assert [b["face_id"] for b in face_boxes(outputs)] == ["m1", "d2", None]
    assert face_boxes({"facedetection": {"faces": "not a list"}}) == []
