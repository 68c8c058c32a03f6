"""generalclassification with the real local models on real photographs (scikit-image's samples)."""

from __future__ import annotations

import io
import json
import pickle
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageDraw
import pytest
from skimage import data

from classifiers import generalclassification
from classifiers.backends.factory import local_image_analyzer
from classifiers.backends.local import people
from classifiers.backends.local.caption import compose_caption
from classifiers.backends.local.colors import COLOR_NAMES, analyze_colors
from classifiers.backends.local.efficientnet_model import EfficientNetLite0Model, packaged_weights
from classifiers.backends.local.efficientnet_weights import read_state_dict
from classifiers.backends.local.imagenet_labels import load_imagenet_labels
from classifiers.backends.local.imagenet_tagger import ImageNetTagger
from classifiers.backends.local.imagetype import analyze_image_type
from classifiers.backends.local.models import ModelCache
from pipeline.classifier import NO_CONTEXT
from pipeline.dependencies import Dependencies
from pipeline.errors import ClassifierError, ConfigurationError
from pipeline.images import Image, decode_image
from pipeline.job import Job, parse_job
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.storage import Storage

CAT_TAGS = {"cat", "tabby cat", "tiger cat", "egyptian mau"}
COFFEE_TAGS = {"espresso", "tea cup", "coffee mug", "cup"}
# Azure Computer Vision's 86-category taxonomy, the names we may emit.
AZURE_CATEGORY = re.compile(
    r"^(abstract|animal|building|dark|drink|food|indoor|object|others|outdoor|people|plant|sky|text|trans)_\w*$"
)


def encode(pixels: np.ndarray | PIL.Image.Image, fmt: str = "JPEG", **options: int) -> Image:
    pil = pixels if isinstance(pixels, PIL.Image.Image) else PIL.Image.fromarray(pixels)
    buffer = io.BytesIO()
    pil.save(buffer, format=fmt, **options)
    return decode_image(buffer.getvalue(), url=f"test.{fmt.lower()}")


def sample(name: str) -> Image:
    pixels = getattr(data, name)()
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    return encode(pixels)


def clip_art(fmt: str = "PNG", **options: int) -> Image:
    pil = PIL.Image.new("RGB", (640, 480), (255, 255, 255))
    draw = PIL.ImageDraw.Draw(pil)
    draw.ellipse((100, 80, 300, 280), fill=(240, 200, 20), outline=(0, 0, 0), width=4)
    draw.rectangle((350, 200, 600, 420), fill=(30, 90, 200), outline=(0, 0, 0), width=4)
    draw.polygon([(50, 450), (200, 300), (320, 450)], fill=(200, 30, 40))
    return encode(pil, fmt, **options)


def line_drawing() -> Image:
    pil = PIL.Image.new("RGB", (640, 480), (255, 255, 255))
    draw = PIL.ImageDraw.Draw(pil)
    for i in range(8):
        draw.line((40 + i * 60, 40, 600 - i * 30, 440), fill=(0, 0, 0), width=3)
    draw.ellipse((200, 100, 400, 300), outline=(0, 0, 0), width=3)
    return encode(pil, "PNG")


@pytest.fixture(scope="module")
def job() -> Job:
    return parse_job({"job_definition": {"id": "job-gc", "input": {"image_url": "test.jpg"},
                                         "processing_pipeline": ["generalclassification"],
                                         "processing_step": 0}, "job_output": {}})


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> generalclassification.GeneralClassifier:
    analyzer = local_image_analyzer(ModelCache(threads=2))
    return generalclassification.GeneralClassifier(analyzer=analyzer)


def names(output: dict[str, object], key: str, limit: int = 5) -> list[str]:
    return [entry["name"] for entry in output[key][:limit]]  # type: ignore[index]


@pytest.mark.models
def test_chelsea_is_tagged_as_a_cat(classifier: generalclassification.GeneralClassifier, job: Job) -> None:
    output = classifier(job, sample("chelsea"), NO_CONTEXT)
    assert CAT_TAGS & set(names(output, "tags")), output["tags"]
    assert names(output, "categories", 1) == ["animal_cat"]


@pytest.mark.models
def test_coffee_is_tagged_as_a_coffee_cup(classifier: generalclassification.GeneralClassifier, job: Job) -> None:
    output = classifier(job, sample("coffee"), NO_CONTEXT)
    assert COFFEE_TAGS & set(names(output, "tags")), output["tags"]
    assert not CAT_TAGS & set(names(output, "tags", 10))


@pytest.mark.models
def test_astronaut_is_a_person_in_the_people_category(classifier: generalclassification.GeneralClassifier,
                                                      job: Job) -> None:
    output = classifier(job, sample("astronaut"), NO_CONTEXT)
    assert "people_" in names(output, "categories"), output["categories"]
    [person] = [t for t in output["tags"] if t["name"] == "person"]
    assert person["confidence"] >= 0.9 and output["tags"][0] == person
    assert output["description"]["captions"] == [{"text": "a person", "confidence": person["confidence"],
                                                  "composed": True}]


@pytest.mark.models
@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket"])
def test_photos_without_people_have_no_person_tag_nor_people_category(
        classifier: generalclassification.GeneralClassifier, job: Job, name: str) -> None:
    output = classifier(job, sample(name), NO_CONTEXT)
    assert not {"person", "people", "human face"} & {t["name"] for t in output["tags"]}, output["tags"]
    assert not any(c["name"].startswith("people_") for c in output["categories"]), output["categories"]


def test_two_faces_make_a_group_of_two_people() -> None:
    face = {"faceRectangle": {"left": 0, "top": 0, "width": 50, "height": 50}, "confidence": 0.9}
    found = people.People(count=2, confidence=0.9, faces=(face, face))
    assert [t["name"] for t in people.people_tags(found)] == ["person", "human face", "people", "group"]
    assert people.people_categories(found, width=1000) == [{"name": "people_group", "score": 0.9}]
    outdoors = [{"name": "outdoor_", "score": 0.6}]
    assert compose_caption(found, [], outdoors) == [{"text": "two people outdoors", "confidence": 0.9,
                                                     "composed": True}]
    nobody = people.People(count=0, confidence=0.0)
    tags = [{"name": "animal", "confidence": 0.9}, {"name": "egyptian mau", "confidence": 0.4}]
    assert compose_caption(nobody, tags, []) == [{"text": "an egyptian mau", "confidence": 0.4, "composed": True}]


def test_a_parent_tag_needs_one_likely_class() -> None:
    labels = load_imagenet_labels()
    tagger = ImageNetTagger(model=EfficientNetLite0Model(), labels=lambda: labels)
    tagger._session, tagger._labels = object(), labels  # type: ignore[assignment]
    animals = [i for i, parents in enumerate(labels.parents) if "animal" in parents]
    diffuse = np.zeros(1000)
    diffuse[animals] = 0.3 / len(animals)  # a trace on every animal: 0.3 in all, none above 0.001
    assert "animal" not in {t["name"] for t in tagger.tags(diffuse)}
    concentrated = np.zeros(1000)
    concentrated[animals[0]] = 0.3
    assert "animal" in {t["name"] for t in tagger.tags(concentrated)}


@pytest.mark.models
def test_output_has_every_azure_key_and_is_json(classifier: generalclassification.GeneralClassifier,
                                                job: Job) -> None:
    image = sample("chelsea")
    output = json.loads(json.dumps(classifier(job, image, NO_CONTEXT)))
    assert output["backend"] == "local"
    assert {"tags", "categories", "description", "color", "imageType", "adult", "metadata"} <= set(output)
    assert all(set(t) == {"name", "confidence"} and 0 < t["confidence"] <= 1 for t in output["tags"])
    confidences = [t["confidence"] for t in output["tags"]]
    assert confidences == sorted(confidences, reverse=True)
    assert all(AZURE_CATEGORY.match(c["name"]) and 0 < c["score"] <= 1 for c in output["categories"])
    assert output["description"]["tags"] == [t["name"] for t in output["tags"]]
    [caption] = output["description"]["captions"]
    assert caption["composed"] is True and 0 < caption["confidence"] <= 1 and caption["text"].startswith("a ")
    assert set(output["color"]) == {"dominantColorForeground", "dominantColorBackground", "dominantColors",
                                    "accentColor", "isBWImg"}
    assert set(output["imageType"]) == {"clipArtType", "lineDrawingType"}
    assert set(output["adult"]) == {"isAdultContent", "isRacyContent", "isGoryContent", "adultScore",
                                    "racyScore", "goreScore"}
    assert output["metadata"] == {"width": image.width, "height": image.height, "format": "Jpeg"}


@pytest.mark.models
@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut", "camera", "rocket"])
def test_adult_score_of_ordinary_photos_is_low(classifier: generalclassification.GeneralClassifier, job: Job,
                                               name: str) -> None:
    adult = classifier(job, sample(name), NO_CONTEXT)["adult"]
    assert adult["adultScore"] < 0.2
    assert adult["isAdultContent"] is False and adult["isGoryContent"] is False


@pytest.mark.models
def test_classifier_refuses_a_job_without_image(classifier: generalclassification.GeneralClassifier,
                                                job: Job) -> None:
    with pytest.raises(ClassifierError, match="needs the job's image"):
        classifier(job, None, NO_CONTEXT)


@pytest.mark.models
def test_the_model_is_converted_in_memory_and_nothing_is_written(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first, again = EfficientNetLite0Model().onnx(), EfficientNetLite0Model().onnx()
    assert first == again and len(first) > 10_000_000  # deterministic: the same graph every load
    assert list(tmp_path.iterdir()) == []


@pytest.mark.models
def test_weight_reader_reads_the_packaged_checkpoint() -> None:
    weights = read_state_dict(packaged_weights())
    assert weights["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert weights["_fc.weight"].shape == (1000, 1280) and weights["_fc.weight"].dtype == np.float32
    assert np.isfinite(weights["_blocks.15._project_conv.weight"]).all()


def test_weight_reader_refuses_anything_but_tensors(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pickle code ran",))

    checkpoint = tmp_path / "evil.pth"
    with checkpoint.open("wb") as file:
        for part in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}, Payload()):
            pickle.dump(part, file, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="print, which is not a plain state_dict"):
        read_state_dict(checkpoint)


def test_labels_are_readable_and_every_class_has_an_azure_category() -> None:
    labels = load_imagenet_labels()
    assert len(labels.names) == len(labels.categories) == 1000
    assert labels.names[281] == "tabby cat" and labels.wnids[281] == "n02123045"
    assert all(AZURE_CATEGORY.match(c) for c in labels.categories)
    assert labels.categories[281] == "animal_cat" and labels.categories[207] == "animal_dog"
    assert labels.categories[967] == "drink_" and labels.categories[983] == "people_"
    assert "cat" in labels.parents[281] and "animal" in labels.parents[281]


def test_pure_black_and_black_and_white_images_are_bw() -> None:
    black = analyze_colors(PIL.Image.new("RGB", (640, 480)))
    assert black["isBWImg"] is True and black["dominantColors"] == ["Black"]
    halves = np.zeros((480, 640, 3), np.uint8)
    halves[:, 320:] = 255
    assert analyze_colors(PIL.Image.fromarray(halves))["isBWImg"] is True
    assert analyze_colors(sample("chelsea").pil)["isBWImg"] is False


@pytest.mark.parametrize(("rgb", "name"), [((220, 20, 30), "Red"), ((30, 160, 40), "Green"),
                                           ((20, 40, 200), "Blue"), ((250, 250, 250), "White"),
                                           ((120, 70, 30), "Brown"), ((128, 128, 128), "Grey")])
def test_flat_colours_get_azure_colour_names(rgb: tuple[int, int, int], name: str) -> None:
    color = analyze_colors(PIL.Image.new("RGB", (320, 240), rgb))
    assert color["dominantColors"] == [name] and name in COLOR_NAMES
    assert color["dominantColorForeground"] == color["dominantColorBackground"] == name
    assert color["accentColor"] == "".join(f"{c:02X}" for c in rgb)


def test_foreground_and_background_differ_when_the_centre_does() -> None:
    pixels = np.full((480, 640, 3), 250, np.uint8)
    pixels[140:340, 180:460] = (20, 40, 200)
    color = analyze_colors(PIL.Image.fromarray(pixels))
    assert (color["dominantColorForeground"], color["dominantColorBackground"]) == ("Blue", "White")
    assert color["accentColor"] == "1428C8"


@pytest.mark.parametrize("image", [clip_art(), clip_art("JPEG", quality=50)], ids=["png", "jpeg"])
def test_flat_colour_drawings_are_clip_art(image: Image) -> None:
    assert analyze_image_type(image.pil)["clipArtType"] >= 2


@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut", "camera", "rocket"])
def test_photos_are_not_clip_art_nor_line_drawings(name: str) -> None:
    assert analyze_image_type(sample(name).pil) == {"clipArtType": 0, "lineDrawingType": 0}


def test_black_strokes_on_white_are_a_line_drawing() -> None:
    assert analyze_image_type(line_drawing().pil)["lineDrawingType"] == 1
    assert analyze_image_type(clip_art().pil)["lineDrawingType"] == 0


def _services(tmp_path: Path, **settings: object) -> Services:
    config = replace(Settings.from_env({}), data_dir=tmp_path, **settings)  # type: ignore[arg-type]
    return Services(settings=config, storage=Storage(config.storage_connection_string),
                    dependencies=Dependencies.load())


def test_build_chooses_local_without_vision_keys(tmp_path: Path) -> None:
    classifier = generalclassification.build(_services(tmp_path))
    assert classifier.name == "generalclassification" and classifier.needs_image
    assert classifier._analyzer.backend == "local"
    assert not (tmp_path / "models").exists()  # the model converts lazily, on the first image


def test_build_for_azure_without_endpoint_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        generalclassification.build(_services(tmp_path, backends={"generalclassification": "azure"}))
