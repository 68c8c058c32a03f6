"""The exceptions of the pipeline, in one small tree.

    ImaginemError
    ├── JobFormatError          the message is not a job: retried by the host, then poisoned
    ├── ClassifierError         one classifier failed for good: recorded, the job moves on
    │   ├── MissingDependencyError   an output this classifier needs is not in job_output
    │   └── ImageError               the job's image could not be used
    │       ├── ImageFetchError          unreachable, 404, timeout, refused URL
    │       ├── ImageTooLargeError       too many bytes or pixels
    │       └── NotAnImageError          the bytes do not decode as an image
    ├── RetryableError          transient (storage, SQL or a service down): retried, then poisoned
    └── ConfigurationError      a setting is missing or wrong
"""

from __future__ import annotations

__all__ = [
    "ClassifierError",
    "ConfigurationError",
    "ImageError",
    "ImageFetchError",
    "ImageTooLargeError",
    "ImaginemError",
    "JobFormatError",
    "MissingDependencyError",
    "NotAnImageError",
    "RetryableError",
]


class ImaginemError(Exception):
    """Base of every error the project raises on purpose."""


class JobFormatError(ImaginemError, ValueError):
    """A queue message that cannot be read as a job; the text names the field and the problem."""


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


class ImageError(ClassifierError):
    """The job's image could not be fetched or decoded."""


class ImageFetchError(ImageError):
    """The image URL could not be read (not found, unreachable, refused, timed out)."""


class ImageTooLargeError(ImageError):
    """The image has more bytes or pixels than the configured limits allow."""


class NotAnImageError(ImageError):
    """The bytes are not an image format that can be decoded."""


class RetryableError(ImaginemError):
    """A transient failure: the message is retried and, after maxDequeueCount, poisoned."""


class ConfigurationError(ImaginemError):
    """A setting is missing or has a value the pipeline cannot use."""
