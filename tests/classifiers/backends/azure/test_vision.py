"""generalclassification and ocr on Computer Vision, against the loopback stub."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from classifiers.backends.azure import make_image_analyzer, make_text_reader
from pipeline.errors import RetryableError
from pipeline.services import Services
from tests.classifiers.backends.azure.helpers import FAKE_ACCOUNT, FAST, image_bytes, make_image
from tests.classifiers.backends.azure.stub import KEY, CognitiveStub

FEATURES = "Categories,Tags,Description,Faces,Color,ImageType,Adult,Objects"


def test_analyze_sends_the_bytes_of_a_loopback_image_and_returns_the_contract(
    offline_services: Services, stub: CognitiveStub
) -> None:
    image = make_image()
    result = make_image_analyzer(offline_services.settings, offline_services.storage, "generalclassification",
                                 policy=FAST).analyze(image)

    [call] = stub.calls("POST", "/vision/v3.2/analyze")
    assert call.headers["ocp-apim-subscription-key"] == KEY
    assert call.query["visualFeatures"] == FEATURES
    assert call.query["language"] == "en"
    assert call.headers["content-type"] == "application/octet-stream"
    assert call.body == image.data
    assert all(isinstance(t["name"], str) and 0 <= t["confidence"] <= 1 for t in result["tags"])
    assert all({"name", "score"} <= set(c) for c in result["categories"])
    assert set(result["description"]) == {"tags", "captions"}
    assert {"text", "confidence"} <= set(result["description"]["captions"][0])
    assert {"dominantColorForeground", "dominantColorBackground", "dominantColors", "accentColor",
            "isBWImg"} <= set(result["color"])
    assert set(result["imageType"]) == {"clipArtType", "lineDrawingType"}
    assert {"isAdultContent", "adultScore", "isRacyContent", "racyScore"} <= set(result["adult"])
    assert result["metadata"] == {"width": 640, "height": 480, "format": "Jpeg"}
    assert result["objects"][0]["object"] == "person"
    assert result["faces"][0]["faceRectangle"] == {"top": 96, "left": 160, "width": 192, "height": 192}


def test_analyze_sends_a_public_url_as_json(offline_services: Services, stub: CognitiveStub) -> None:
    url = "https://images.example.com/photos/cat.jpg"
    image = make_image(url)
    stub.remote[url] = image.data
    make_image_analyzer(offline_services.settings, offline_services.storage, "generalclassification",
                        policy=FAST).analyze(image)
    [call] = stub.calls("POST", "/vision/v3.2/analyze")
    assert call.headers["content-type"].startswith("application/json")
    assert call.json == {"url": url}


def test_a_url_the_service_cannot_fetch_falls_back_to_bytes(offline_services: Services,
                                                            stub: CognitiveStub) -> None:
    image = make_image("https://intranet.example.com/private/cat.jpg")
    result = make_image_analyzer(offline_services.settings, offline_services.storage, "generalclassification",
                                 policy=FAST).analyze(image)
    first, second = stub.calls("POST", "/vision/v3.2/analyze")
    assert first.json == {"url": image.url}
    assert second.body == image.data
    assert result["metadata"]["width"] == 640


def test_a_private_blob_of_our_account_goes_as_a_read_only_sas_url(offline_services: Services,
                                                                  stub: CognitiveStub) -> None:
    url = f"https://{FAKE_ACCOUNT}.blob.core.windows.net/images/cat.jpg"
    image = make_image(url)
    stub.remote[url] = image.data
    make_image_analyzer(offline_services.settings, offline_services.storage, "generalclassification",
                        policy=FAST).analyze(image)
    [call] = stub.calls("POST", "/vision/v3.2/analyze")
    sent = call.json["url"]
    assert sent.startswith(url + "?")
    assert "sp=r&" in sent and "sig=" in sent and "se=" in sent


def test_an_image_over_4_mb_is_downscaled_and_coordinates_map_back(offline_services: Services,
                                                                   stub: CognitiveStub) -> None:
    image = make_image(width=1500, height=1200, fmt="PNG", noise=True)
    assert len(image.data) > 4 * 1024 * 1024
    result = make_image_analyzer(offline_services.settings, offline_services.storage, "generalclassification",
                                 policy=FAST).analyze(image)
    [call] = stub.calls("POST", "/vision/v3.2/analyze")
    assert len(call.body) <= 4 * 1024 * 1024
    assert call.body[:2] == b"\xff\xd8"  # re-encoded as JPEG
    assert result["metadata"] == {"width": 1500, "height": 1200, "format": "Png"}
    rect = result["faces"][0]["faceRectangle"]
    expected = {"left": 375, "top": 240, "width": 450, "height": 480}  # the stub's face box on 1500x1200
    assert all(abs(rect[k] - v) <= 3 for k, v in expected.items()), rect
    box = result["objects"][0]["rectangle"]
    assert abs(box["w"] - 750) <= 3 and abs(box["h"] - 960) <= 3


def test_a_format_the_service_does_not_read_is_reencoded(offline_services: Services, stub: CognitiveStub) -> None:
    image = make_image(fmt="WEBP")
    result = make_image_analyzer(offline_services.settings, offline_services.storage, "generalclassification",
                                 policy=FAST).analyze(image)
    [call] = stub.calls("POST", "/vision/v3.2/analyze")
    assert call.body[:2] == b"\xff\xd8"
    assert result["metadata"] == {"width": 640, "height": 480, "format": "Webp"}


def test_ocr_api(offline_services: Services, stub: CognitiveStub) -> None:
    result = make_text_reader(offline_services.settings, offline_services.storage, "ocr",
                              policy=FAST).read(make_image())
    [call] = stub.calls("POST", "/vision/v3.2/ocr")
    assert call.query["detectOrientation"] == "true"
    assert call.query["language"] == "unk"
    assert call.headers["ocp-apim-subscription-key"] == KEY
    ocr = result["ocr"]
    assert {"language", "textAngle", "orientation", "regions"} <= set(ocr)
    words = [w for region in ocr["regions"] for line in region["lines"] for w in line["words"]]
    assert [w["text"] for w in words] == ["HELLO", "WORLD", "IMAGINEM"]
    assert all(len(w["boundingBox"].split(",")) == 4 for w in words)
    assert result["OCR_fullText"] == "HELLO WORLD\nIMAGINEM"


def test_read_api_submits_polls_and_maps_to_the_ocr_shape(offline_services: Services, stub: CognitiveStub) -> None:
    ocr_result = make_text_reader(offline_services.settings, offline_services.storage, "ocr",
                                  policy=FAST).read(make_image())
    services = replace(offline_services, settings=replace(offline_services.settings, ocr_mode="read"))
    reader = make_text_reader(services.settings, services.storage, "ocr", policy=FAST, poll_interval=0.01)
    result = reader.read(make_image())

    [submit] = stub.calls("POST", "/vision/v3.2/read/analyze")
    assert submit.headers["ocp-apim-subscription-key"] == KEY
    polls = stub.calls("GET", "/vision/v3.2/read/analyzeResults/[0-9a-f-]+")
    assert len(polls) == stub.read_polls + 1
    assert all(p.headers["ocp-apim-subscription-key"] == KEY for p in polls)
    assert result["OCR_fullText"] == "HELLO WORLD\nIMAGINEM"
    assert result["ocr"]["orientation"] == "Up" and result["ocr"]["textAngle"] == 0.0

    def boxes(ocr: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
        return [(w["text"], w["boundingBox"]) for r in ocr["regions"] for line in r["lines"] for w in line["words"]]

    assert boxes(result["ocr"]) == boxes(ocr_result["ocr"])


def test_read_api_wait_is_bounded(offline_services: Services, stub: CognitiveStub) -> None:
    stub.read_polls = 10**6
    services = replace(offline_services, settings=replace(offline_services.settings, ocr_mode="read"))
    reader = make_text_reader(services.settings, services.storage, "ocr",
                              policy=replace(FAST, read_timeout=0.5), poll_interval=0.05)
    started = time.monotonic()
    with pytest.raises(RetryableError, match="still running after 0.5 s"):
        reader.read(make_image())
    assert time.monotonic() - started < 3


def test_large_image_by_url_is_sent_as_bytes(offline_services: Services, stub: CognitiveStub) -> None:
    url = "https://images.example.com/huge.png"
    stub.remote[url] = image_bytes(1500, 1200, "PNG", noise=True)
    image = make_image(url, width=1500, height=1200, fmt="PNG", noise=True)
    make_image_analyzer(offline_services.settings, offline_services.storage, "generalclassification",
                        policy=FAST).analyze(image)
    [call] = stub.calls("POST", "/vision/v3.2/analyze")
    assert call.headers["content-type"] == "application/octet-stream"
