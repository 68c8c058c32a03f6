"""One call to a Cognitive Services endpoint: bounded retries, bounded time, clear errors.

The SDKs' own urllib3 retries are switched off (``configure_sdk_client``) so this is the only
retry policy in force: 429/5xx and network failures are retried with backoff honouring
Retry-After, then raised as ``RetryableError``; a refused key is a ``ServiceKeyError`` at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from msrest.exceptions import ClientRequestError, HttpOperationError

from pipeline.errors import ClassifierError, RetryableError

__all__ = [
    "FACE_APPROVAL_URL",
    "LimitedAccessError",
    "RetryPolicy",
    "ServiceCaller",
    "ServiceError",
    "ServiceKeyError",
    "configure_sdk_client",
    "error_code",
]

_log = logging.getLogger(__name__)

T = TypeVar("T")

FACE_APPROVAL_URL = "https://aka.ms/facerecognition"
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class ServiceError(ClassifierError):
    """The service refused this request for good (bad image, bad argument...).

    ``code`` is the most specific code the service gave (its innererror code when there is one).
    """

    def __init__(self, message: str, *, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ServiceKeyError(ServiceError):
    """The key or endpoint was refused (401/403): a setting is wrong, retrying cannot help."""


class LimitedAccessError(ServiceError):
    """The Face service refuses face ids until Microsoft approves the resource for them."""


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How long one call may take in all: attempts, backoff and the per-request timeout."""

    attempts: int = 4
    backoff: float = 1.0
    max_wait: float = 30.0
    connect_timeout: float = 10.0
    read_timeout: float = 30.0

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before attempt ``attempt + 1``: the service's Retry-After, else exponential."""
        base = retry_after if retry_after is not None else self.backoff * 2 ** (attempt - 1)
        return min(max(base, 0.0), self.max_wait)


def configure_sdk_client(client: Any, policy: RetryPolicy) -> None:
    """Switch off the msrest/urllib3 retries of an SDK client and bound its timeouts."""
    config = client.config
    # mutate the Retry in place: the session made when the client was built already holds it
    retry = config.retry_policy.policy
    retry.total = retry.connect = retry.read = retry.status = retry.other = 0
    retry.status_forcelist = frozenset()
    retry.raise_on_status = False
    retry.respect_retry_after_header = False
    config.connection.timeout = (policy.connect_timeout, policy.read_timeout)


def error_code(error: HttpOperationError) -> tuple[str, str, str]:
    """(code, message, inner code) from the documented ``{"error": {...}}`` body, when there is one."""
    try:
        body = error.response.json()
    except Exception:  # noqa: BLE001 - any unreadable body just has no code
        return "", str(getattr(error.response, "text", "") or "")[:300], ""
    detail = body.get("error", body) if isinstance(body, dict) else {}
    if isinstance(detail, dict) and "code" not in detail and "statusCode" in detail:
        detail = {**detail, "code": str(detail["statusCode"])}
    if not isinstance(detail, dict):
        return "", str(detail)[:300], ""
    inner = detail.get("innererror") or detail.get("innerError") or {}
    inner_code = str(inner.get("code", "")) if isinstance(inner, dict) else ""
    message = str(detail.get("message", ""))
    if isinstance(inner, dict) and inner.get("message") and inner["message"] != message:
        message = f"{message} {inner['message']}".strip()
    return str(detail.get("code", "")), message, inner_code


def _retry_after(error: HttpOperationError) -> float | None:
    raw = error.response.headers.get("Retry-After", "") if error.response is not None else ""
    try:
        return float(raw)
    except ValueError:
        return None


def _is_limited_access(status: int, code: str, message: str, inner: str) -> bool:
    text = f"{code} {inner} {message}".lower()
    return status == 403 and (
        "unsupportedfeature" in text or "approval" in text or "aka.ms/facerecognition" in text
    )


class ServiceCaller:
    """Runs SDK calls to one service (Computer Vision or Face) under one retry policy."""

    def __init__(
        self,
        *,
        service: str,
        key_setting: str,
        endpoint_setting: str,
        policy: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.service = service
        self.policy = policy
        self._key_setting = key_setting
        self._endpoint_setting = endpoint_setting
        self._sleep = sleep

    def __call__(self, what: str, call: Callable[[], T]) -> T:
        """Run ``call`` (one SDK operation, named ``what`` in messages) with bounded retries."""
        policy = self.policy
        for attempt in range(1, policy.attempts + 1):
            try:
                return call()
            except HttpOperationError as e:
                status = e.response.status_code if e.response is not None else 0
                code, message, inner = error_code(e)
                if status not in _RETRY_STATUSES:
                    raise self._permanent(what, status, code, message, inner) from None
                reason = f"{status} {code} {message}".strip()
                retry_after = _retry_after(e)
            except ClientRequestError as e:
                reason = f"no answer: {e.inner_exception or e}"
                retry_after = None
            if attempt == policy.attempts:
                break
            wait = policy.wait(attempt, retry_after)
            _log.warning("%s %s failed (%s); attempt %s of %s in %.1f s",
                         self.service, what, reason, attempt + 1, policy.attempts, wait)
            self._sleep(wait)
        raise RetryableError(
            f"{self.service} {what} still failing after {policy.attempts} attempts: {reason}"
        )

    def _permanent(self, what: str, status: int, code: str, message: str, inner: str) -> ServiceError:
        if _is_limited_access(status, code, message, inner):
            return LimitedAccessError(
                f"{self.service} {what} refused face ids ({status} {inner or code}): face identification "
                f"needs Microsoft's approval for this Face resource; apply at {FACE_APPROVAL_URL}. "
                "The local backend works without it: set FACEDETECTION_BACKEND=local "
                "FACEPRINT_BACKEND=local FACEMATCH_BACKEND=local",
                status=status, code=inner or code,
            )
        if status in (401, 403):
            return ServiceKeyError(
                f"{self.service} refused the key ({status} {code}: {message}): check {self._key_setting} "
                f"and that {self._endpoint_setting} is the endpoint of the same resource",
                status=status, code=code,
            )
        codes = f"{code}/{inner}" if inner and inner != code else code
        return ServiceError(f"{self.service} {what} answered {status} {codes}: {message}".strip(),
                            status=status, code=inner or code)
