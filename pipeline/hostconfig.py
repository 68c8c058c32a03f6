"""The queue semantics of ``host.json`` (extensions.queues, functionTimeout), read as the Functions host reads them."""

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
        raise ConfigurationError(f"host.json {name} {value!r} is not a time span hh:mm:ss") from None


def _timeout(value: Any) -> float | None:
    """functionTimeout: a time span, or -1 / null for no limit (allowed on Premium and Dedicated plans)."""
    if value is None or str(value).strip() == "-1":
        return None
    seconds = _seconds(value, "functionTimeout")
    if seconds <= 0:
        raise ConfigurationError(f"host.json functionTimeout {value!r} must be positive (or -1 for no limit)")
    return seconds


@dataclass(frozen=True, kw_only=True)
class QueueConfig:
    """The host.json values the local host follows, plus two of the Functions host's fixed behaviours.

    ``lease_seconds`` and ``outage_backoff_limit`` are not host.json settings: the Functions host
    hard-codes them (10 min leases renewed at half time; poll back-off on storage errors).
    """

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    max_polling_interval: float = 60.0
    message_encoding: str = "base64"
    function_timeout: float | None = 300.0
    """Longest a step may run; then the invocation fails (retried, then poisoned) and its worker restarts."""
    lease_seconds: float = 60.0
    """How long a received message stays invisible; renewed every third of it while the step runs."""
    outage_backoff_limit: float = 30.0
    """Longest pause between polls while storage is unreachable."""

    @classmethod
    def load(cls, path: Path = HOST_JSON) -> QueueConfig:
        try:
            host = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigurationError(f"cannot read {path}: {e}") from None
        queues = host.get("extensions", {}).get("queues", {})

        def span(key: str, fallback: str) -> float:
            return _seconds(queues.get(key, fallback), f"queues.{key}")

        default = cls()
        return cls(
            batch_size=int(queues.get("batchSize", default.batch_size)),
            new_batch_threshold=int(queues.get("newBatchThreshold", default.new_batch_threshold)),
            max_dequeue_count=int(queues.get("maxDequeueCount", default.max_dequeue_count)),
            visibility_timeout=span("visibilityTimeout", "00:00:00"),
            max_polling_interval=span("maxPollingInterval", "00:01:00"),
            message_encoding=str(queues.get("messageEncoding", default.message_encoding)).lower(),
            function_timeout=_timeout(host.get("functionTimeout", "00:05:00")),
        )
