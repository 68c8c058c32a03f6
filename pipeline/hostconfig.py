"""The queue semantics of ``host.json`` (extensions.queues), read the way the Functions host reads them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigurationError

__all__ = ["HOST_JSON", "QueueConfig"]

HOST_JSON = Path(__file__).resolve().parent.parent / "host.json"


def _seconds(value: Any, name: str) -> float:
    """host.json time spans are "hh:mm:ss[.fff]" (or d.hh:mm:ss)."""
    if isinstance(value, (int, float)):
        return float(value)
    try:
        days = 0.0
        text = str(value)
        if "." in text.split(":")[0]:
            d, text = text.split(".", 1)
            days = float(d)
        h, m, s = text.split(":")
        return days * 86400 + int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        raise ConfigurationError(f"host.json queues.{name} {value!r} is not a time span hh:mm:ss") from None


@dataclass(frozen=True, kw_only=True)
class QueueConfig:
    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    max_polling_interval: float = 60.0
    message_encoding: str = "base64"

    @classmethod
    def load(cls, path: Path = HOST_JSON) -> QueueConfig:
        try:
            host = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigurationError(f"cannot read {path}: {e}") from None
        queues = host.get("extensions", {}).get("queues", {})
        default = cls()
        return cls(
            batch_size=int(queues.get("batchSize", default.batch_size)),
            new_batch_threshold=int(queues.get("newBatchThreshold", default.new_batch_threshold)),
            max_dequeue_count=int(queues.get("maxDequeueCount", default.max_dequeue_count)),
            visibility_timeout=_seconds(queues.get("visibilityTimeout", "00:00:00"), "visibilityTimeout"),
            max_polling_interval=_seconds(queues.get("maxPollingInterval", "00:01:00"), "maxPollingInterval"),
            message_encoding=str(queues.get("messageEncoding", default.message_encoding)).lower(),
        )
