"""The business metrics every function may emit (CloudWatch embedded metric format), written once:
the functions emit them through `storyimages.observability`, the alarms and the dashboard
(`infra/capabilities/monitoring.py`) read them by these names.

Plain names only (no Powertools here), so the CDK app imports this without loading the runtime.
Dimensions stay low-cardinality: a status, an error code, an outcome; never a job or user id
(those travel in the same log line as properties, where Logs Insights finds them)."""

from __future__ import annotations

from enum import StrEnum

from storyimages.domain.errors import ImageRejected
from storyimages.domain.jobs import JobStatus

NAMESPACE = "StoryImages"
SERVICE = "storyimages"  # every function's service name (POWERTOOLS_SERVICE_NAME), the metrics' dimension
# Every metric carries the service as a dimension (Powertools adds it); the dimensioned ones are
# published twice, with and without their own dimension, so an alarm can sum across its values.
SERVICE_DIMENSION = "service"


class Dimension(StrEnum):
    STATUS = "status"  # a job's final status: completed, completed_with_errors, failed, cancelled
    ERROR_CODE = "errorCode"  # a slide's stable error code: IMAGE_REJECTED, RATE_LIMITED, ...
    OUTCOME = "outcome"  # a webhook delivery's: delivered, attempt_failed, gave_up


class Metric(StrEnum):
    JOBS_STARTED = "JobsStarted"  # Count: a new job started (not the same job answered again)
    JOBS_ENDED = "JobsEnded"  # Count, by status
    SLIDES_COMPLETED = "SlidesCompleted"  # Count: a slide's image stored and recorded
    SLIDES_FAILED = "SlidesFailed"  # Count, by errorCode: recorded failed, past every retry
    IMAGE_LATENCY = "ImageLatency"  # Milliseconds: the image service's time for one image
    TIME_QUEUED = "TimeQueued"  # Milliseconds: from joining the image queue to a worker taking it
    PROVIDER_RATE_LIMITED = "ProviderRateLimited"  # Count: the image service answered 429
    WEBHOOK_DELIVERIES = "WebhookDeliveries"  # Count, by outcome
    STATUS_READS = "StatusReads"  # Count: status answers served


class WebhookOutcome(StrEnum):
    DELIVERED = "delivered"
    ATTEMPT_FAILED = "attempt_failed"  # the receiver failed this attempt; the workflow retries
    GAVE_UP = "gave_up"  # every attempt failed: the job's webhook is recorded failed


# Which dimension each dimensioned metric has (the others have only the service).
DIMENSIONS: dict[Metric, Dimension] = {
    Metric.JOBS_ENDED: Dimension.STATUS,
    Metric.SLIDES_FAILED: Dimension.ERROR_CODE,
    Metric.WEBHOOK_DELIVERIES: Dimension.OUTCOME,
}


# The values of the status dimension: a job's final statuses (the alarms and the dashboard list them).
JOB_END_STATUSES: tuple[str, ...] = tuple(status.value for status in JobStatus if status.is_terminal)
# The errorCode of a slide whose prompt or image the image service refused (content policy).
IMAGE_REJECTED = ImageRejected.code
