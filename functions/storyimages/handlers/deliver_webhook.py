"""Webhook state machine task: POST the signed event to the job's webhook URL, record the attempt."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from storyimages.adapters.clock import SystemClock
from storyimages.adapters.dns_resolver import SystemResolver
from storyimages.adapters.firestore_jobs import FirestoreJobStore
from storyimages.adapters.secrets import secret_string
from storyimages.adapters.webhook_sender import PinnedWebhookSender
from storyimages.business_metrics import Metric, WebhookOutcome
from storyimages.domain.errors import WebhookDeliveryFailed
from storyimages.domain.webhooks import deliver_webhook
from storyimages.handlers.task_events import WebhookTask
from storyimages.observability import about_job, count_by, logger, metrics, tracer
from storyimages.settings import FirestoreSettings, WebhookDeliverySettings

settings = WebhookDeliverySettings.from_env()
jobs = FirestoreJobStore.from_settings(FirestoreSettings.from_env())
sender = PinnedWebhookSender()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = WebhookTask.model_validate(event)
    about_job(task.master_job_id, run=task.run)
    logger.append_keys(attempt=task.attempt)
    try:
        outcome = deliver_webhook(
            task.ending(),
            task.attempt,
            jobs=jobs,
            sender=sender,
            resolver=SystemResolver(),
            policy=settings.policy(),
            secret=secret_string(settings.secret_id),
            clock=SystemClock(),
        )
    except WebhookDeliveryFailed:  # the workflow retries it; counted here, where the attempt ended
        count_by(Metric.WEBHOOK_DELIVERIES, WebhookOutcome.ATTEMPT_FAILED)
        raise
    count_by(Metric.WEBHOOK_DELIVERIES, WebhookOutcome.DELIVERED)
    logger.info("webhook delivered", statusCode=outcome.last_status_code, event=outcome.event)
    return {"status": outcome.status.value, "statusCode": outcome.last_status_code}
