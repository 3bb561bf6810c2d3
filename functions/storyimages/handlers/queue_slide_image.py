"""State machine task: the slide joins the image queue, so it reads `queued` while it waits."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from storyimages.adapters.clock import SystemClock
from storyimages.adapters.firestore_jobs import FirestoreJobStore
from storyimages.domain.slide_generation import queue_slide
from storyimages.handlers.task_events import SlideTask
from storyimages.observability import about_job, logger, metrics, tracer
from storyimages.settings import FirestoreSettings

jobs = FirestoreJobStore.from_settings(FirestoreSettings.from_env())


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = SlideTask.model_validate(event)
    about_job(task.master_job_id, run=task.run, slide_number=task.slide_number)
    outcome = queue_slide(task.master_job_id, task.slide_number, jobs=jobs, clock=SystemClock())
    logger.info("slide queued", status=outcome.status.value)
    return {"slideNumber": outcome.slide_number, "status": outcome.status.value}
