"""Webhook state machine task: retries ran out; say so on the job."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from storyimages.adapters.clock import SystemClock
from storyimages.adapters.firestore_jobs import FirestoreJobStore
from storyimages.business_metrics import Metric, WebhookOutcome
from storyimages.domain.webhooks import record_webhook_failure
from storyimages.handlers.task_events import WebhookFailureTask
from storyimages.observability import about_job, count_by, logger, metrics, tracer
from storyimages.settings import FirestoreSettings

jobs = FirestoreJobStore.from_settings(FirestoreSettings.from_env())


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = WebhookFailureTask.model_validate(event)
    about_job(task.master_job_id, run=task.run)
    error = task.error.describe()
    outcome = record_webhook_failure(task.ending(), error, jobs=jobs, clock=SystemClock())
    count_by(Metric.WEBHOOK_DELIVERIES, WebhookOutcome.GAVE_UP)
    logger.warning(
        "webhook not delivered", outcome=WebhookOutcome.GAVE_UP, attempts=outcome.attempts, error=error.message
    )
    return {"status": outcome.status.value}
