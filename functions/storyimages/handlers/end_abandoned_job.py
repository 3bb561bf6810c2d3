"""EventBridge target: an image-generation execution ended FAILED, TIMED_OUT or ABORTED. If its
job still reads open (the workflow broke where nothing could record it, or someone stopped the
execution from the console), end it, so no job reads `generating` forever."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from storyimages.adapters.clock import SystemClock
from storyimages.adapters.firestore_jobs import FirestoreJobStore
from storyimages.adapters.s3_images import S3ImageStorage
from storyimages.adapters.stepfunctions_workflow import StepFunctionsNotifier
from storyimages.domain.job_completion import end_abandoned_run
from storyimages.handlers.task_events import ExecutionEnded
from storyimages.observability import about_job, logger, metrics, tracer
from storyimages.settings import FirestoreSettings, NotifierSettings, StorageSettings

jobs = FirestoreJobStore.from_settings(FirestoreSettings.from_env())
storage = S3ImageStorage.from_settings(StorageSettings.from_env())
notifier = StepFunctionsNotifier.for_state_machine(NotifierSettings.from_env().state_machine_arn)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ended = ExecutionEnded.model_validate(event)
    task = ended.run_input()
    run = task.run or 0
    about_job(task.master_job_id, run=run)
    logger.append_keys(executionStatus=ended.detail.status)
    ending = end_abandoned_run(
        task.master_job_id,
        run,
        ended.detail.status,
        ended.detail.error,
        jobs=jobs,
        storage=storage,
        notifier=notifier,
        clock=SystemClock(),
    )
    if ending is None:
        logger.info("execution ended; its job had already ended")
        return {"ended": False}
    logger.warning("execution ended with its job open; job ended", status=ending.status.value)
    return {"ended": True, "status": ending.status.value}
