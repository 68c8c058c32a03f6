"""Typed settings, read once from the environment (Functions app settings) and passed in.

Every setting the code reads is declared in ``SETTINGS``; nothing else reads ``os.environ``.
The Bicep app settings and ``local.settings.sample.json`` are checked against this list.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from classifiers.names import AZURE_SERVICES
from pipeline.errors import ConfigurationError

__all__ = ["AZURITE_CONNECTION_STRING", "SETTINGS", "Setting", "Settings", "azurite_connection_string"]

_AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def azurite_connection_string(
    host: str = "127.0.0.1", blob: int = 10000, queue: int = 10001, table: int = 10002
) -> str:
    """The well-known development account of the Azurite emulator, on the given ports."""
    account = "devstoreaccount1"
    return (
        f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={_AZURITE_KEY};"
        f"BlobEndpoint=http://{host}:{blob}/{account};"
        f"QueueEndpoint=http://{host}:{queue}/{account};"
        f"TableEndpoint=http://{host}:{table}/{account};"
    )


AZURITE_CONNECTION_STRING = azurite_connection_string()

Backend = Literal["auto", "local", "azure"]


def _backend_setting(classifier: str) -> str:
    return f"{classifier.upper()}_BACKEND"


def _using(service: str) -> str:
    """The classifiers that can use ``service``, as a phrase: "a, b and c"."""
    names = [name for name, used in AZURE_SERVICES.items() if used == service]
    return " and ".join(filter(None, (", ".join(names[:-1]), names[-1])))


@dataclass(frozen=True)
class Setting:
    """One app setting: its name, its default, and whether it only makes sense on a laptop."""

    name: str
    default: str
    help: str
    secret: bool = False
    local_only: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("AzureWebJobsStorage", "UseDevelopmentStorage=true",
            "storage connection string (queues, pipelinelogs, blobs); Azurite by default", secret=True),
    Setting("AzureWebJobsStorage__accountName", "",
            "storage account name for identity-based access (managed identity); "
            "used instead of AzureWebJobsStorage when that is not set"),
    Setting("PIPELINE_DEFINITION",
            "generalclassification,ocr,facedetection,facecrop,faceprint,facematch,pipelineoutput",
            "comma-separated queues a job visits when its message names neither a pipeline nor classifiers"),
    Setting("VISION_ENDPOINT", "", f"Computer Vision endpoint; with VISION_API_KEY switches {_using('vision')} "
            "to Azure"),
    Setting("VISION_API_KEY", "", "Computer Vision key", secret=True),
    Setting("FACE_ENDPOINT", "", f"Face endpoint; with FACE_API_KEY switches {_using('face')} to Azure"),
    Setting("FACE_API_KEY", "", "Face key", secret=True),
    Setting("SQL_CONNECTION_STRING", "", "pyodbc connection string for pipeline_output; "
            "an embedded SQLite file in IMAGINEM_DATA_DIR when empty", secret=True),
    Setting("FACES_CONTAINER", "faces", "blob container for the faces cropped by facecrop"),
    Setting("FACE_INDEX_CONNECTION_STRING", "", "PostgreSQL (libpq URI or key=value) with pgvector holding the "
            "face index; an Azure host without a password is reached with an Entra token; the persistedfaces "
            "table when empty", secret=True),
    *(Setting(_backend_setting(name), "auto", "auto, local or azure") for name in AZURE_SERVICES),
    Setting("OCR_MODE", "ocr", "ocr (synchronous OCR API) or read (asynchronous Read API) on Azure"),
    Setting("FACE_MATCH_THRESHOLD", "0.5", "largest Euclidean distance between two face prints "
            "that still counts as the same person (local backend)"),
    Setting("IMAGE_MAX_BYTES", str(50 * 1024 * 1024), "largest image download, in bytes"),
    Setting("IMAGE_MAX_PIXELS", str(50_000_000), "largest decoded image, in pixels (decompression bombs)"),
    Setting("IMAGE_CACHE_BYTES", str(256 * 1024 * 1024), "memory each worker process may keep decoded images "
            "of recent jobs in, so the next steps of a job in that worker decode nothing again; 0 keeps none"),
    Setting("IMAGE_FETCH_TIMEOUT", "20", "seconds for a whole image download (connect, redirects, every read)"),
    Setting("IMAGE_FETCH_ALLOW", "", "comma-separated hosts, addresses and CIDR ranges an image_url may reach "
            "although they are loopback, private, link-local or otherwise internal (refused by default)"),
    Setting("INPUT_CONTAINERS", "inputimages", "comma-separated blob containers of the storage account an "
            "image_url may name; a blob in a folder must be in the folder of its job's batch"),
    Setting("DASHBOARD_MAX_FILES", "50", "most images (files and URLs) one dashboard upload may submit"),
    Setting("MAX_FACES_PER_IMAGE", "100", "most faces facedetection keeps and facecrop, faceprint and facematch "
            "handle per image; the output records faces_capped when the cap applies"),
    Setting("MAX_PIPELINE_STEPS", "50", "longest processing_pipeline a job may have; longer ones are rejected"),
    Setting("MODEL_THREADS", "1", "threads each local model (onnxruntime) may use for one image; the host runs "
            "several messages at once besides (host.json batchSize), see the README's host.json table"),
    Setting("EXTERNAL_QUEUES", "", "comma-separated queues served by other apps that a processing_pipeline "
            "may name besides the classifiers of dependencies.json"),
    Setting("WORKING_COPY_RETENTION_DAYS", "7", "days a job's working copy (workingcopies/) is kept; storage "
            "lifecycle rules in Azure, the retention timer on the local host"),
    Setting("LARGE_MESSAGE_RETENTION_DAYS", "7", "days linked content (largemessages/) is kept; storage lifecycle "
            "rules in Azure, the retention timer on the local host"),
    Setting("FACE_RETENTION_DAYS", "", "days a stored face (print, crop, matches) is kept after it was first "
            "stored; empty keeps faces until forgotten (docs/privacy.md)"),
    Setting("IMAGE_ALLOW_LOCAL_PATHS", "false", "let image_url be a local file path (local runs only)",
            local_only=True),
    Setting("IMAGINEM_DATA_DIR", ".imaginem", "folder for the embedded SQLite database (local runs): "
            ".imaginem in the working folder, or the temp folder when that is read-only",
            local_only=True),
)

_DEFAULTS = {s.name: s.default for s in SETTINGS}


def _default_data_dir() -> Path:
    """``.imaginem`` in the working folder on a laptop; the temp folder where that is read-only (Azure
    Functions runs the package read-only with only the temp folder writable)."""
    local = Path(_DEFAULTS["IMAGINEM_DATA_DIR"])
    if local.is_dir() and os.access(local, os.W_OK) or not local.exists() and os.access(Path.cwd(), os.W_OK):
        return local
    return Path(tempfile.gettempdir()) / "imaginem"


def _backend(value: str, name: str) -> Backend:
    value = value.strip().lower() or "auto"
    if value not in ("auto", "local", "azure"):
        raise ConfigurationError(f"{name}={value!r}: use auto, local or azure")
    return value  # type: ignore[return-value]


def _number(env: Mapping[str, str], name: str, kind: type[int] | type[float], *, zero: bool = False) -> float:
    raw = env.get(name) or _DEFAULTS[name]
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number") from None
    if value < 0 or value == 0 and not zero:
        raise ConfigurationError(f"{name}={raw!r} must be {'zero or ' if zero else ''}positive")
    return value


def _names(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes")


def _ocr_mode(value: str) -> Literal["ocr", "read"]:
    mode = value.strip().lower()
    if mode not in ("ocr", "read"):
        raise ConfigurationError(f"OCR_MODE={mode!r}: use ocr or read")
    return mode  # type: ignore[return-value]


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The pipeline's configuration; build it with ``Settings.from_env()`` and pass it in. Every default is
    the one ``SETTINGS`` documents, parsed as ``from_env`` parses the setting."""

    storage_connection_string: str = field(default=AZURITE_CONNECTION_STRING, repr=False)
    storage_account_name: str = ""
    pipeline_definition: tuple[str, ...] = _names(_DEFAULTS["PIPELINE_DEFINITION"])
    vision_endpoint: str = ""
    vision_api_key: str = field(default="", repr=False)
    face_endpoint: str = ""
    face_api_key: str = field(default="", repr=False)
    sql_connection_string: str = field(default="", repr=False)
    faces_container: str = _DEFAULTS["FACES_CONTAINER"]
    face_index_connection_string: str = field(default="", repr=False)
    backends: Mapping[str, Backend] = field(default_factory=dict)
    ocr_mode: Literal["ocr", "read"] = _ocr_mode(_DEFAULTS["OCR_MODE"])
    face_match_threshold: float = float(_DEFAULTS["FACE_MATCH_THRESHOLD"])
    image_max_bytes: int = int(_DEFAULTS["IMAGE_MAX_BYTES"])
    image_max_pixels: int = int(_DEFAULTS["IMAGE_MAX_PIXELS"])
    image_fetch_timeout: float = float(_DEFAULTS["IMAGE_FETCH_TIMEOUT"])
    image_cache_bytes: int = int(_DEFAULTS["IMAGE_CACHE_BYTES"])
    dashboard_max_files: int = int(_DEFAULTS["DASHBOARD_MAX_FILES"])
    image_fetch_allow: tuple[str, ...] = _names(_DEFAULTS["IMAGE_FETCH_ALLOW"])
    input_containers: tuple[str, ...] = _names(_DEFAULTS["INPUT_CONTAINERS"])
    allow_local_paths: bool = _flag(_DEFAULTS["IMAGE_ALLOW_LOCAL_PATHS"])
    max_faces_per_image: int = int(_DEFAULTS["MAX_FACES_PER_IMAGE"])
    max_pipeline_steps: int = int(_DEFAULTS["MAX_PIPELINE_STEPS"])
    model_threads: int = int(_DEFAULTS["MODEL_THREADS"])
    external_queues: tuple[str, ...] = _names(_DEFAULTS["EXTERNAL_QUEUES"])
    working_copy_retention_days: int = int(_DEFAULTS["WORKING_COPY_RETENTION_DAYS"])
    large_message_retention_days: int = int(_DEFAULTS["LARGE_MESSAGE_RETENTION_DAYS"])
    face_retention_days: int | None = None
    data_dir: Path = Path(_DEFAULTS["IMAGINEM_DATA_DIR"])

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str:
            return env.get(name, "").strip() or _DEFAULTS[name]

        account = env.get("AzureWebJobsStorage__accountName", "").strip()
        storage = env.get("AzureWebJobsStorage", "").strip()
        if not storage and not account:
            storage = _DEFAULTS["AzureWebJobsStorage"]
        if storage.lower().replace(" ", "") in ("usedevelopmentstorage=true", "usedevelopmentstorage=true;"):
            storage = AZURITE_CONNECTION_STRING
        return cls(
            storage_connection_string=storage,
            storage_account_name=account,
            pipeline_definition=_names(get("PIPELINE_DEFINITION")),
            vision_endpoint=get("VISION_ENDPOINT"),
            vision_api_key=get("VISION_API_KEY"),
            face_endpoint=get("FACE_ENDPOINT"),
            face_api_key=get("FACE_API_KEY"),
            sql_connection_string=get("SQL_CONNECTION_STRING"),
            faces_container=get("FACES_CONTAINER"),
            face_index_connection_string=get("FACE_INDEX_CONNECTION_STRING"),
            backends={name: _backend(get(_backend_setting(name)), _backend_setting(name)) for name in AZURE_SERVICES},
            ocr_mode=_ocr_mode(get("OCR_MODE")),
            face_match_threshold=_number(env, "FACE_MATCH_THRESHOLD", float),
            image_max_bytes=int(_number(env, "IMAGE_MAX_BYTES", int)),
            image_max_pixels=int(_number(env, "IMAGE_MAX_PIXELS", int)),
            image_fetch_timeout=_number(env, "IMAGE_FETCH_TIMEOUT", float),
            image_cache_bytes=int(_number(env, "IMAGE_CACHE_BYTES", int, zero=True)),
            dashboard_max_files=int(_number(env, "DASHBOARD_MAX_FILES", int)),
            image_fetch_allow=_names(get("IMAGE_FETCH_ALLOW")),
            input_containers=_names(get("INPUT_CONTAINERS")),
            allow_local_paths=_flag(get("IMAGE_ALLOW_LOCAL_PATHS")),
            max_faces_per_image=int(_number(env, "MAX_FACES_PER_IMAGE", int)),
            max_pipeline_steps=int(_number(env, "MAX_PIPELINE_STEPS", int)),
            model_threads=int(_number(env, "MODEL_THREADS", int)),
            external_queues=_names(get("EXTERNAL_QUEUES")),
            working_copy_retention_days=int(_number(env, "WORKING_COPY_RETENTION_DAYS", int)),
            large_message_retention_days=int(_number(env, "LARGE_MESSAGE_RETENTION_DAYS", int)),
            face_retention_days=int(_number(env, "FACE_RETENTION_DAYS", int)) if get("FACE_RETENTION_DAYS") else None,
            data_dir=Path(env.get("IMAGINEM_DATA_DIR", "").strip() or _default_data_dir()),
        )

    @property
    def face_index_kind(self) -> Literal["table", "postgresql"]:
        """Where the face index lives: PostgreSQL when FACE_INDEX_CONNECTION_STRING is set, else the table."""
        return "postgresql" if self.face_index_connection_string else "table"

    def backend_for(self, classifier: str) -> Literal["local", "azure"]:
        """Which backend a classifier uses: the override if set, else Azure when its keys are set."""
        choice = self.backends.get(classifier, "auto")
        if choice != "auto":
            return choice
        match AZURE_SERVICES.get(classifier):
            case "vision":
                return "azure" if self.vision_endpoint and self.vision_api_key else "local"
            case "face":
                return "azure" if self.face_endpoint and self.face_api_key else "local"
            case None:
                return "local"
