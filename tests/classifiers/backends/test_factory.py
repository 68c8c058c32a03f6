"""The backend factory turns a backend kind into a backend; the worker's models are built once and shared."""

from __future__ import annotations

from dataclasses import replace

import pytest

from classifiers import facedetection, faceprint, generalclassification, ocr
from classifiers.backends import factory
from classifiers.backends.local.models import Model
from pipeline.errors import ConfigurationError
from tests.classifiers.offline_services import services_with


def test_the_face_classifiers_of_one_worker_share_one_set_of_face_networks() -> None:
    services = services_with()
    detection = facedetection.build(services)
    printing = faceprint.build(services)
    generalclassification.build(services)
    assert detection._detector is services.models.face_detector
    assert printing._printer is services.models.face_printer
    assert services.models.face_printer._models is services.models.face_networks
    assert services.models.loaded().count(Model.FACE_NETWORKS) == 1
    assert {Model.TAGS, Model.ADULT, Model.TEXT_PRESENCE} <= set(services.models.loaded())
    assert ocr.build(services)._reader is ocr.build(services)._reader  # another build, the same model


def test_an_unknown_backend_kind_is_a_configuration_error() -> None:
    services = services_with()
    settings = replace(services.settings, backends={"ocr": "gpu"})
    with pytest.raises(ConfigurationError, match="ocr has no backend 'gpu'"):
        factory.text_reader("ocr", settings=settings, storage=services.storage, models=services.models)
