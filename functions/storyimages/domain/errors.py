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


class Unauthorized(StoryImagesError):
    code = "UNAUTHORIZED"
    http_status = 401


class MalformedJson(StoryImagesError):
    code = "MALFORMED_JSON"
    http_status = 400


class PayloadTooLarge(StoryImagesError):
    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class UnsupportedMediaType(StoryImagesError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415


class InvalidRequest(StoryImagesError):
    code = "INVALID_REQUEST"
    http_status = 422


class InvalidOption(StoryImagesError):
    """A per-request option outside the bounds this deployment allows."""

    code = "INVALID_OPTION"
    http_status = 422


class InvalidWebhookUrl(StoryImagesError):
    code = "INVALID_WEBHOOK_URL"
    http_status = 422


class IdempotencyKeyReused(StoryImagesError):
    """The same Idempotency-Key came with a different request."""

    code = "IDEMPOTENCY_KEY_REUSED"
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


class JobAlreadyFinished(StoryImagesError):
    code = "JOB_ALREADY_FINISHED"
    http_status = 409


class JobStillRunning(StoryImagesError):
    code = "JOB_STILL_RUNNING"
    http_status = 409


class NothingToRetry(StoryImagesError):
    code = "NOTHING_TO_RETRY"
    http_status = 409


class StoryBusy(StoryImagesError):
    """Another job for the same story is running."""

    code = "STORY_BUSY"
    http_status = 409


class ClaimConflict(StoryImagesError):
    """A create-if-absent write lost to a concurrent one (the story's lock or an idempotency key)."""

    code = "CONFLICT"
    http_status = 409


class WorkflowStartFailed(StoryImagesError):
    code = "WORKFLOW_START_FAILED"
    http_status = 503


class WebhookDeliveryFailed(StoryImagesError):
    """The receiver did not take the webhook (non-2xx, timeout, refused): retried by the state machine."""

    code = "WEBHOOK_DELIVERY_FAILED"
    http_status = 502


class StoreUnavailable(StoryImagesError):
    """The job or story database did not answer in time (an outage, a network fault, an
    overloaded backend): transient, retried by the state machine; the API answers 503."""

    code = "STORE_UNAVAILABLE"
    http_status = 503


class StoreRefused(StoryImagesError):
    """The database refused the call (permissions, an invalid argument): retrying cannot help."""

    code = "STORE_ERROR"
    http_status = 500


# Errors of the image service. Retry policy lives in the ASL and keys on these names.


class ImageGenerationError(StoryImagesError):
    code = "IMAGE_GENERATION_FAILED"
    http_status = 502


class ImageRateLimited(ImageGenerationError):
    """429 from the image service: retried by the state machine with backoff."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after_seconds: float | None = None, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after_seconds = retry_after_seconds  # what the service's Retry-After asked for


class ImageServiceUnavailable(ImageGenerationError):
    """5xx, timeouts, connection errors: transient, retried by the state machine."""

    code = "IMAGE_SERVICE_UNAVAILABLE"


class ImageTimedOut(ImageGenerationError):
    """No answer within the OpenAI timeout. The service may still make (and bill) the image, so
    it is never retried on its own: a retry of the job asks again, knowingly."""

    code = "IMAGE_TIMED_OUT"


class ImageRejected(ImageGenerationError):
    """400 such as a content-policy refusal: the same request will fail again, never retried."""

    code = "IMAGE_REJECTED"


class ImageServiceMisconfigured(ImageGenerationError):
    """401/403/404 (bad key, unknown model): fix the configuration, retrying cannot help."""

    code = "IMAGE_SERVICE_MISCONFIGURED"


class TaskGone(StoryImagesError):
    """Nothing waits on a queued image's task token any more: its execution ended or was
    stopped, or the task timed out. The work is dropped."""

    code = "TASK_GONE"
    http_status = 410


ERROR_CODES_BY_NAME: dict[str, str] = {
    cls.__name__: cls.code
    for cls in (
        ImageRateLimited,
        ImageServiceUnavailable,
        ImageTimedOut,
        ImageRejected,
        ImageServiceMisconfigured,
        ImageGenerationError,
        JobNotFound,
        SlideNotFound,
        WebhookDeliveryFailed,
        InvalidWebhookUrl,
        StoreUnavailable,
        StoreRefused,
    )
}
"""Maps an error name seen by Step Functions back to our stable code."""
