"""Domain errors. Each carries a stable code the API and the job documents expose.

The class names of the errors raised inside the state machine tasks are part of the
contract with the ASL: Step Functions matches `ErrorEquals` against them.
"""

from __future__ import annotations

from typing import Any


class StoryImagesError(Exception):
    """Base for every error the API or a job document reports by code."""

    code = "INTERNAL_ERROR"
    http_status = 500

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(StoryImagesError):
    code = "INVALID_REQUEST"
    http_status = 422


class StoryNotFound(StoryImagesError):
    code = "STORY_NOT_FOUND"
    http_status = 404


class InvalidStory(StoryImagesError):
    code = "INVALID_STORY"
    http_status = 422


class TooManySlides(StoryImagesError):
    code = "TOO_MANY_SLIDES"
    http_status = 422


class JobNotFound(StoryImagesError):
    code = "JOB_NOT_FOUND"
    http_status = 404


class SlideNotFound(StoryImagesError):
    code = "SLIDE_NOT_FOUND"
    http_status = 404


class WorkflowStartFailed(StoryImagesError):
    code = "WORKFLOW_START_FAILED"
    http_status = 503


# Errors of the image service. Retry policy lives in the ASL and keys on these names.


class ImageGenerationError(StoryImagesError):
    code = "IMAGE_GENERATION_FAILED"
    http_status = 502


class ImageRateLimited(ImageGenerationError):
    """429 from the image service: retried by the state machine with backoff."""

    code = "RATE_LIMITED"


class ImageServiceUnavailable(ImageGenerationError):
    """5xx, timeouts, connection errors: transient, retried by the state machine."""

    code = "IMAGE_SERVICE_UNAVAILABLE"


class ImageRejected(ImageGenerationError):
    """400 such as a content-policy refusal: the same request will fail again, never retried."""

    code = "IMAGE_REJECTED"


class ImageServiceMisconfigured(ImageGenerationError):
    """401/403/404 (bad key, unknown model): fix the configuration, retrying cannot help."""

    code = "IMAGE_SERVICE_MISCONFIGURED"


ERROR_CODES_BY_NAME: dict[str, str] = {
    cls.__name__: cls.code
    for cls in (
        ImageRateLimited,
        ImageServiceUnavailable,
        ImageRejected,
        ImageServiceMisconfigured,
        ImageGenerationError,
        JobNotFound,
        SlideNotFound,
    )
}
"""Maps an error name seen by Step Functions back to our stable code."""
