"""State machine task: record why a slide could not be illustrated, so the others go on."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from storyimages.adapters.clock import SystemClock
from storyimages.adapters.firestore_jobs import FirestoreJobStore
from storyimages.adapters.s3_images import S3ImageStorage
from storyimages.business_metrics import Metric
from storyimages.domain.jobs import SlideStatus
from storyimages.domain.slide_generation import record_slide_failure
from storyimages.handlers.task_events import SlideFailureTask
from storyimages.observability import about_job, count, count_by, logger, metrics, tracer
from storyimages.settings import FirestoreSettings, StorageSettings

jobs = FirestoreJobStore.from_settings(FirestoreSettings.from_env())
storage = S3ImageStorage.from_settings(StorageSettings.from_env())


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = SlideFailureTask.model_validate(event)
    about_job(task.master_job_id, run=task.run, slide_number=task.slide_number)
    error = task.error.describe()
    outcome = record_slide_failure(
        task.master_job_id, task.slide_number, error, jobs=jobs, storage=storage, clock=SystemClock()
    )
    if outcome.status is SlideStatus.COMPLETED:
        if outcome.recorded_now:
            count(Metric.SLIDES_COMPLETED)
        logger.warning("slide task failed after its image was stored; recorded completed", errorCode=error.code)
    else:
        if outcome.recorded_now:  # not a retried task finding it recorded already
            count_by(Metric.SLIDES_FAILED, error.code)
        logger.warning("slide failed", errorCode=error.code, error=error.message)
    return {"slideNumber": outcome.slide_number, "status": outcome.status.value, "errorCode": error.code}
