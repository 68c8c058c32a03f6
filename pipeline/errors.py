"""The exceptions of the pipeline, in one small tree.

    ImaginemError
    ├── JobFormatError          the message is not a job: retried by the host, then poisoned
    │   └── JobConflictError         it names a job that exists with another definition
    ├── InputImageError         a file given to submit or upload is not an image we take (nothing is stored)
    ├── ClassifierError         one classifier failed for good: recorded, the job moves on
    │   ├── MissingDependencyError   an output this classifier needs is not in job_output
    │   │   └── DependencyFailedError    ... because that classifier failed (its reason attached)
    │   │       └── DependencySkippedError   ... because it was skipped: skipped for the same cause
    │   ├── LinkedContentError       linked content that is missing or not this job's own
    │   └── ImageError               the job's image could not be used
    │       ├── ImageFetchError          unreachable, 404, timeout, refused URL
    │       ├── ImageTooLargeError       too many bytes or pixels
    │       ├── NotAnImageError          the bytes do not decode as an image
    │       └── ImageUnavailableError    an earlier step of the job already failed to get it: skipped
    ├── RetryableError          transient (storage, SQL or a service down): retried, then poisoned
    ├── StorageUnreachableError the storage account does not answer (not a setting's fault: it may be starting)
    └── ConfigurationError      a setting is missing or wrong
"""

from __future__ import annotations

__all__ = [
    "ClassifierError",
    "ConfigurationError",
    "DependencyFailedError",
    "DependencySkippedError",
    "ImageError",
    "ImageFetchError",
    "ImageTooLargeError",
    "ImageUnavailableError",
    "ImaginemError",
    "InputImageError",
    "JobConflictError",
    "JobFormatError",
    "LinkedContentError",
    "MissingDependencyError",
    "NotAnImageError",
    "RetryableError",
    "StorageUnreachableError",
]


class ImaginemError(Exception):
    """Base of every error the project raises on purpose."""


class JobFormatError(ImaginemError, ValueError):
    """A queue message that cannot be read as a job; the text names the field and the problem."""


class JobConflictError(JobFormatError):
    """The message names a job (batch and id) already recorded with another definition."""


class InputImageError(ImaginemError, ValueError):
    """A file offered as an image is not one, or is over a limit (``too_large``); refused before storing."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


class ClassifierError(ImaginemError):
    """A classifier could not produce its output for this job; other jobs are unaffected."""


class MissingDependencyError(ClassifierError):
    """The output of a classifier this one depends on is missing from job_output."""

    def __init__(self, classifier: str, needs: str) -> None:
        super().__init__(
            f"{classifier} needs the output of {needs}, which is not in job_output: "
            f"put {needs} before {classifier} in processing_pipeline"
        )
        self.classifier = classifier
        self.needs = needs


class DependencyFailedError(MissingDependencyError):
    """The classifier this one depends on ran earlier in the pipeline and failed."""

    def __init__(self, classifier: str, needs: str, reason: str) -> None:
        ClassifierError.__init__(self, f"{classifier} needs the output of {needs}, which failed: {reason}")
        self.classifier = classifier
        self.needs = needs
        self.reason = reason


class DependencySkippedError(DependencyFailedError):
    """The classifier this one depends on was skipped because of an earlier failure: this one says the same cause."""

    def __init__(self, classifier: str, needs: str, skipped: str) -> None:
        """``skipped``: the one line the skipped dependency recorded (``pipeline.job_record.skipped_like``)."""
        ClassifierError.__init__(self, skipped)
        self.classifier = classifier
        self.needs = needs
        self.reason = skipped


class LinkedContentError(ClassifierError):
    """A ``linked_content`` URL that is missing, unreadable, or not under this job's own blobs."""


class ImageError(ClassifierError):
    """The job's image could not be fetched or decoded."""


class ImageFetchError(ImageError):
    """The image URL could not be read (not found, unreachable, refused, timed out)."""


class ImageTooLargeError(ImageError):
    """The image has more bytes or pixels than the configured limits allow."""


class NotAnImageError(ImageError):
    """The bytes are not an image format that can be decoded."""


class ImageUnavailableError(ImageError):
    """An earlier step of this job failed to fetch or decode the image; it is not fetched again."""


class RetryableError(ImaginemError):
    """A transient failure: the message is retried and, after maxDequeueCount, poisoned."""


class StorageUnreachableError(ImaginemError):
    """The storage account's endpoint refused or did not answer (the CLI's exit 5)."""


class ConfigurationError(ImaginemError):
    """A setting is missing or has a value the pipeline cannot use."""
