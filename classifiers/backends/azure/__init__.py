"""Azure Cognitive Services backends (Computer Vision v3.2, Face v1.0) behind the backend protocols.

Each ``make_*`` builds one backend for the classifier it is given from the settings and the storage
account; the backend factory (``classifiers.backends.factory``) calls them when
``settings.backend_for(classifier) == "azure"``. They raise ``ConfigurationError`` naming the
missing setting when an endpoint or key is not set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from azure.cognitiveservices.vision.computervision import ComputerVisionClient
from azure.cognitiveservices.vision.face import FaceClient
from msrest.authentication import CognitiveServicesCredentials

from classifiers.backends.azure.calls import (
    LimitedAccessError,
    RetryPolicy,
    ServiceCaller,
    ServiceError,
    ServiceKeyError,
    configure_sdk_client,
)
from classifiers.backends.azure.face import AzureFaceDetector, AzureFacePrinter, FaceDetection
from classifiers.backends.azure.face_index import FACE_LIST_CAPACITY, AzureFaceIndex
from classifiers.backends.azure.facelists import AzureFaceMatcher
from classifiers.backends.azure.transfer import Transfer
from classifiers.backends.azure.vision import AzureImageAnalyzer, AzureTextReader
from classifiers.backends.face_index import FaceIndexBackend
from classifiers.backends.protocols import FaceDetector, FaceMatcher, FacePrinter, ImageAnalyzer, TextReader
from pipeline.errors import ConfigurationError
from pipeline.images import Image, ImageFetcher
from pipeline.settings import Settings
from pipeline.storage import Storage

__all__ = [
    "PERSISTED_FACES_TABLE",
    "AzureConnection",
    "LimitedAccessError",
    "RetryPolicy",
    "ServiceError",
    "ServiceKeyError",
    "make_face_detector",
    "make_face_index",
    "make_face_matcher",
    "make_face_printer",
    "make_image_analyzer",
    "make_text_reader",
]

PERSISTED_FACES_TABLE = "persistedfaces"


@dataclass(frozen=True)
class AzureConnection:
    """One service's endpoint and key, and the setting names to blame when they are wrong."""

    service: str
    endpoint: str
    key: str
    endpoint_setting: str
    key_setting: str

    @classmethod
    def vision(cls, s: Settings, classifier: str) -> AzureConnection:
        return cls._checked("Computer Vision", s.vision_endpoint, s.vision_api_key,
                            "VISION_ENDPOINT", "VISION_API_KEY", classifier)

    @classmethod
    def face(cls, s: Settings, classifier: str) -> AzureConnection:
        return cls._checked("Face", s.face_endpoint, s.face_api_key, "FACE_ENDPOINT", "FACE_API_KEY", classifier)

    @classmethod
    def _checked(cls, service: str, endpoint: str, key: str, endpoint_setting: str, key_setting: str,
                 classifier: str) -> AzureConnection:
        for value, setting in ((endpoint, endpoint_setting), (key, key_setting)):
            if not value:
                raise ConfigurationError(
                    f"{classifier} uses the azure backend but {setting} is not set: set {endpoint_setting} "
                    f"and {key_setting}, or {classifier.upper()}_BACKEND=local"
                )
        if not endpoint.startswith(("https://", "http://")):
            raise ConfigurationError(f"{endpoint_setting}={endpoint!r} must be a URL like "
                                     "https://<resource>.cognitiveservices.azure.com")
        return cls(service, endpoint.rstrip("/"), key, endpoint_setting, key_setting)

    def caller(self, policy: RetryPolicy) -> ServiceCaller:
        return ServiceCaller(service=self.service, key_setting=self.key_setting,
                             endpoint_setting=self.endpoint_setting, policy=policy)


def _vision_client(connection: AzureConnection, policy: RetryPolicy) -> ComputerVisionClient:
    client = ComputerVisionClient(connection.endpoint, CognitiveServicesCredentials(connection.key))  # type: ignore[no-untyped-call]
    configure_sdk_client(client, policy)
    return client


def _face_client(connection: AzureConnection, policy: RetryPolicy) -> FaceClient:
    client = FaceClient(connection.endpoint, CognitiveServicesCredentials(connection.key))  # type: ignore[no-untyped-call]
    configure_sdk_client(client, policy)
    return client


def _detection(settings: Settings, storage: Storage, classifier: str, policy: RetryPolicy) -> FaceDetection:
    connection = AzureConnection.face(settings, classifier)
    return FaceDetection(client=_face_client(connection, policy), caller=connection.caller(policy),
                         transfer=Transfer(storage=storage))


def _image_loader(settings: Settings, storage: Storage) -> Callable[[str], Image]:
    return ImageFetcher.from_settings(settings, storage).fetch


def make_image_analyzer(settings: Settings, storage: Storage, classifier: str, *,
                        policy: RetryPolicy | None = None) -> ImageAnalyzer:
    """Computer Vision analyze (generalclassification)."""
    policy = policy or RetryPolicy()
    connection = AzureConnection.vision(settings, classifier)
    return AzureImageAnalyzer(client=_vision_client(connection, policy), caller=connection.caller(policy),
                              transfer=Transfer(storage=storage))


def make_text_reader(settings: Settings, storage: Storage, classifier: str, *, policy: RetryPolicy | None = None,
                     poll_interval: float = 0.5) -> TextReader:
    """Computer Vision's OCR API, or the Read API when OCR_MODE=read (ocr)."""
    policy = policy or RetryPolicy()
    connection = AzureConnection.vision(settings, classifier)
    return AzureTextReader(client=_vision_client(connection, policy), caller=connection.caller(policy),
                           transfer=Transfer(storage=storage), mode=settings.ocr_mode,
                           read_wait=policy.read_timeout, poll_interval=poll_interval)


def make_face_detector(settings: Settings, storage: Storage, classifier: str, *,
                       policy: RetryPolicy | None = None) -> FaceDetector:
    """Face detect with detection_03, recognition_04 and landmarks (facedetection)."""
    return AzureFaceDetector(detection=_detection(settings, storage, classifier, policy or RetryPolicy()))


def make_face_printer(settings: Settings, storage: Storage, classifier: str, *,
                      policy: RetryPolicy | None = None) -> FacePrinter:
    """Face service faceIds as prints (faceprint)."""
    return AzureFacePrinter(detection=_detection(settings, storage, classifier, policy or RetryPolicy()))


def make_face_index(settings: Settings, storage: Storage, classifier: str = "facematch", *,
                    policy: RetryPolicy | None = None, face_list_prefix: str = "imaginem",
                    capacity: int = FACE_LIST_CAPACITY) -> AzureFaceIndex:
    """The face lists as a face index (faces only, no persons), persisted faces in the ``persistedfaces`` table."""
    policy = policy or RetryPolicy()
    connection = AzureConnection.face(settings, classifier)
    return AzureFaceIndex(
        client=_face_client(connection, policy), caller=connection.caller(policy),
        transfer=Transfer(storage=storage), table=storage.table(PERSISTED_FACES_TABLE),
        load_image=_image_loader(settings, storage), prefix=face_list_prefix, capacity=capacity,
    )


def make_face_matcher(settings: Settings, storage: Storage, classifier: str, *, policy: RetryPolicy | None = None,
                      face_list_prefix: str = "imaginem", capacity: int = FACE_LIST_CAPACITY,
                      index: FaceIndexBackend | None = None) -> FaceMatcher:
    """Find-similar over the face lists (facematch): over ``index`` (the worker's) or a face lists index of its own."""
    if index is None:
        index = make_face_index(settings, storage, classifier, policy=policy, face_list_prefix=face_list_prefix,
                                capacity=capacity)
    return AzureFaceMatcher(index=index)
