"""State machine task: set the job's final status from its slides."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from storyimages.adapters.clock import SystemClock
from storyimages.adapters.firestore_jobs import FirestoreJobStore
from storyimages.adapters.s3_images import S3ImageStorage
from storyimages.adapters.stepfunctions_workflow import StepFunctionsNotifier
from storyimages.domain.job_completion import finalize_job
from storyimages.handlers.task_events import RunTask
from storyimages.observability import about_job, logger, metrics, tracer
from storyimages.settings import FirestoreSettings, NotifierSettings, StorageSettings

jobs = FirestoreJobStore.from_settings(FirestoreSettings.from_env())
storage = S3ImageStorage.from_settings(StorageSettings.from_env())
notifier = StepFunctionsNotifier.for_state_machine(NotifierSettings.from_env().state_machine_arn)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = RunTask.model_validate(event)
    about_job(task.master_job_id, run=task.run)
    status, summary = finalize_job(
        task.master_job_id, task.run, jobs=jobs, storage=storage, notifier=notifier, clock=SystemClock()
    )
    logger.info("job finished", status=status.value, completed=summary.completed, errors=summary.errors)
    return {
        "status": status.value,
        "summary": {
            "totalSlides": summary.total_slides,
            "completed": summary.completed,
            "errors": summary.errors,
        },
    }
