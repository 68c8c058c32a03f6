"""Labels read from a job's output: every kind, and tolerance of missing or odd outputs."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.sql.labels import MAX_NAME, MAX_TEXT_WORDS, Label, labels_from_output


def test_every_kind_is_read_from_the_design_output_shapes() -> None:
    output = {
        "generalclassification": {
            "tags": [{"name": "Cat", "confidence": 0.98}, {"name": "indoor", "confidence": 0.7}],
            "categories": [{"name": "animal_cat", "score": 0.9}],
            "description": {"tags": ["cat"], "captions": [{"text": "A cat sitting on a sofa", "confidence": 0.61}]},
        },
        "ocr": {"ocr": {"regions": []}, "OCR_fullText": "STOP stop Ahead"},
        "facematch": {"matches": [{"faceId": "f1", "faceRectangle": {},
                                   "matches": [{"id": "job-1/0", "image_url": "u", "confidence": 0.8}]}]},
    }
    assert labels_from_output(output) == [
        Label("tag", "cat", 0.98),
        Label("tag", "indoor", 0.7),
        Label("category", "animal_cat", 0.9),
        Label("caption", "cat", 0.61),
        Label("caption", "sitting", 0.61),
        Label("caption", "sofa", 0.61),
        Label("text", "stop", None),
        Label("text", "ahead", None),
        Label("face_match", "job-1/0", 0.8),
    ]


@pytest.mark.parametrize("output", [
    {},
    {"generalclassification": None, "ocr": "failed", "facematch": []},
    {"generalclassification": {"tags": "x", "categories": [1, None, {"name": 3}], "description": []}},
    {"ocr": {"OCR_fullText": None, "ocr": {"regions": [{"lines": "x"}]}}},
    {"facematch": {"matches": [None, {"matches": None}, {"matches": [{"id": 7}]}]}},
])
def test_missing_failed_or_odd_outputs_give_no_labels(output: dict[str, Any]) -> None:
    assert labels_from_output(output) == []


def test_a_flat_list_of_matches_and_ocr_words_without_the_full_text() -> None:
    output = {
        "facematch": {"matches": [{"id": "a", "confidence": 0.4}, {"id": "a", "confidence": 0.9}]},
        "ocr": {"ocr": {"regions": [{"lines": [{"words": [{"text": "Exit"}, {"text": "7B"}]}]}]}},
    }
    assert labels_from_output(output) == [Label("text", "exit", None), Label("text", "7b", None),
                                          Label("face_match", "a", 0.9)]


def test_one_label_per_kind_and_name_with_its_highest_confidence() -> None:
    output = {"generalclassification": {"tags": [
        {"name": "dog", "confidence": 0.2}, {"name": "DOG", "confidence": 0.6}, {"name": "dog"},
        {"name": "nan", "confidence": float("nan")}, {"name": "yes", "confidence": True},
    ]}}
    assert labels_from_output(output) == [Label("tag", "dog", 0.6), Label("tag", "nan", None),
                                          Label("tag", "yes", None)]


def test_names_lose_control_characters_and_are_cut_to_the_column_width() -> None:
    output = {"generalclassification": {"tags": [
        {"name": "a\x00b\nc", "confidence": 1.0}, {"name": "x" * 400, "confidence": 1.0}, {"name": "\x01 "},
    ]}}
    assert labels_from_output(output) == [Label("tag", "abc", 1.0), Label("tag", "x" * MAX_NAME, 1.0)]


def test_a_page_of_text_is_capped() -> None:
    text = " ".join(f"word{i}" for i in range(MAX_TEXT_WORDS + 500))
    labels = labels_from_output({"ocr": {"OCR_fullText": text}})
    assert len(labels) == MAX_TEXT_WORDS
    assert labels[-1] == Label("text", f"word{MAX_TEXT_WORDS - 1}", None)


def test_unicode_words_are_kept_and_case_folded() -> None:
    labels = labels_from_output({"ocr": {"OCR_fullText": "Café STRASSE Straße 東京タワー x"}})
    assert [label.name for label in labels] == ["café", "strasse", "東京タワー"]
