"""The backend factory: the only place where a classifier's backend kind (local | azure) becomes a backend.

Which kind a classifier uses is ``Settings.backend_for`` (its ``<CLASSIFIER>_BACKEND`` setting, or Azure
when the keys of its service are set); each function here turns that kind into a backend from narrow
dependencies: the settings, the storage account and the worker's ``ModelCache``. An unknown kind raises
``ConfigurationError``. Azure backends import their SDKs only when chosen.
"""

from __future__ import annotations

from typing import NoReturn

from classifiers.backends.face_index import FaceIndexBackend
from classifiers.backends.local.face_matcher import LocalFaceMatcher
from classifiers.backends.local.face_snapshot import DEFAULT_CONTAINER as SNAPSHOT_CONTAINER
from classifiers.backends.local.face_snapshot import FaceSnapshots
from classifiers.backends.local.face_store import DEFAULT_TABLE, FaceStore
from classifiers.backends.local.models import ModelCache
from classifiers.backends.protocols import FaceDetector, FaceMatcher, FacePrinter, ImageAnalyzer, TextReader
from pipeline.errors import ConfigurationError
from pipeline.settings import Settings
from pipeline.storage import Storage

__all__ = ["face_detector", "face_index", "face_matcher", "face_printer", "image_analyzer", "local_image_analyzer",
           "text_reader"]


def _unknown(classifier: str, kind: str) -> NoReturn:
    raise ConfigurationError(f"{classifier} has no backend {kind!r}: set {classifier.upper()}_BACKEND to auto, "
                             "local or azure")


def image_analyzer(classifier: str, *, settings: Settings, storage: Storage, models: ModelCache) -> ImageAnalyzer:
    """Tags, categories, captions, colour, adult scores: the local models or Computer Vision analyze."""
    match settings.backend_for(classifier):
        case "local":
            return local_image_analyzer(models)
        case "azure":
            from classifiers.backends.azure import make_image_analyzer

            return make_image_analyzer(settings, storage, classifier)
        case other:
            _unknown(classifier, other)


def local_image_analyzer(models: ModelCache) -> ImageAnalyzer:
    """EfficientNet-Lite0 + open_nsfw + pixel statistics + the worker's face detector (facedetection's, run
    here again: steps know nothing of each other) + rapidocr's text detector at 256 px; nothing is written."""
    from classifiers.backends.local.imagenet_analyzer import LocalImageAnalyzer
    from classifiers.backends.local.people import PeopleFinder

    return LocalImageAnalyzer(tagger=models.tags, adult=models.adult, people=PeopleFinder(faces=models.face_detector),
                              text=models.text_presence)


def text_reader(classifier: str, *, settings: Settings, storage: Storage, models: ModelCache) -> TextReader:
    """RapidOCR's bundled PP-OCR models, or Computer Vision's OCR (or Read, OCR_MODE=read) API."""
    match settings.backend_for(classifier):
        case "local":
            return models.ocr
        case "azure":
            from classifiers.backends.azure import make_text_reader

            return make_text_reader(settings, storage, classifier)
        case other:
            _unknown(classifier, other)


def face_detector(classifier: str, *, settings: Settings, storage: Storage, models: ModelCache) -> FaceDetector:
    """YuNet checked by dlib's CNN (HOG without yuface), or Face detect."""
    match settings.backend_for(classifier):
        case "local":
            return models.face_detector
        case "azure":
            from classifiers.backends.azure import make_face_detector

            return make_face_detector(settings, storage, classifier)
        case other:
            _unknown(classifier, other)


def face_printer(classifier: str, *, settings: Settings, storage: Storage, models: ModelCache) -> FacePrinter:
    """dlib's ResNet descriptor, or Face service faceIds."""
    match settings.backend_for(classifier):
        case "local":
            return models.face_printer
        case "azure":
            from classifiers.backends.azure import make_face_printer

            return make_face_printer(settings, storage, classifier)
        case other:
            _unknown(classifier, other)


def face_matcher(classifier: str, *, settings: Settings, storage: Storage, index: FaceIndexBackend) -> FaceMatcher:
    """The local matcher over the worker's face index, or find-similar over the Face service's face lists (the
    worker's index is then the ``azure`` one, ``face_index``)."""
    match settings.backend_for(classifier):
        case "local":
            return LocalFaceMatcher(index=index, threshold=settings.face_match_threshold)
        case "azure":
            from classifiers.backends.azure import make_face_matcher

            if index.kind != "azure":
                raise ConfigurationError(f"{classifier} on azure needs the Face service's face index, not "
                                         f"{index.kind!r}")
            return make_face_matcher(settings, storage, classifier, index=index)
        case other:
            _unknown(classifier, other)


def face_index(*, settings: Settings, storage: Storage) -> FaceIndexBackend:
    """Where faces and persons live: the Face service's face lists when facematch runs on azure (faces only, no
    persons), else PostgreSQL with pgvector when FACE_INDEX_CONNECTION_STRING is set, else the ``persistedfaces``
    table with its blob snapshots, searched in the worker's memory. facematch, forget and the People API share it."""
    if settings.backend_for("facematch") == "azure":
        from classifiers.backends.azure import make_face_index

        return make_face_index(settings, storage, "facematch")
    match settings.face_index_kind:
        case "postgresql":
            from classifiers.backends.postgres.face_index import PostgresFaceIndex

            return PostgresFaceIndex.connect(settings.face_index_connection_string)
        case "table":
            from classifiers.backends.local.table_face_index import TABLE_OVERLAP, TableFaceIndex

            container = storage.container(SNAPSHOT_CONTAINER)
            store = FaceStore(table=storage.table(DEFAULT_TABLE), snapshots=FaceSnapshots(container=container),
                              refresh_interval=0, overlap=TABLE_OVERLAP)
            return TableFaceIndex(store=store, lock_container=container)
        case other:
            raise ConfigurationError(f"no face index backend {other!r}: table or postgresql")
