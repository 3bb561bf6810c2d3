"""The image worker: takes slides from the image queue (an SQS event source whose maximum
concurrency caps the images in flight across every story), generates each image, stores it,
records progress and answers the workflow task waiting on the slide."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from storyimages import defaults
from storyimages.adapters.clock import SystemClock
from storyimages.adapters.firestore_jobs import FirestoreJobStore
from storyimages.adapters.openai_images import OpenAIImageGenerator
from storyimages.adapters.s3_images import S3ImageStorage
from storyimages.adapters.stepfunctions_tasks import StepFunctionsTaskReports
from storyimages.business_metrics import Metric
from storyimages.domain.errors import ImageRateLimited
from storyimages.domain.image_queue import ImageWork, WorkDone, work_on_image
from storyimages.handlers.task_events import ImageWorkMessage
from storyimages.observability import about_job, count, done_with_job, logger, metrics, milliseconds, tracer
from storyimages.settings import FirestoreSettings, OpenAISettings, StorageSettings

jobs = FirestoreJobStore.from_settings(FirestoreSettings.from_env())
storage = S3ImageStorage.from_settings(StorageSettings.from_env())
images = OpenAIImageGenerator(OpenAISettings.from_env())
tasks = StepFunctionsTaskReports()
processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def work_on_message(record: SQSRecord) -> None:
    """A message that raises (a malformed one, or an answer the workflow did not take) comes
    back after the visibility timeout, and lands in the dead-letter queue if it keeps failing."""
    done_with_job()  # a batch's messages are about different jobs
    message = ImageWorkMessage.model_validate_json(record.body)
    work = ImageWork(message.master_job_id, message.slide_number, message.run, message.task_token)
    about_job(work.job_id, run=work.run, slide_number=work.slide_number)
    done = work_on_image(
        work,
        jobs=jobs,
        images=images,
        storage=storage,
        clock=SystemClock(),
        tasks=tasks,
        hold=time.sleep,
        longest_hold_seconds=defaults.RATE_LIMIT_HOLD_SECONDS,
        observe=measure,
    )
    receives = record.attributes.approximate_receive_count
    if done.unexpected:
        logger.error("slide image failed unexpectedly", error=done.error, errorMessage=done.message)
    elif done.error is not None:
        logger.warning("slide image failed", error=done.error, errorMessage=done.message, receives=receives)
    elif done.outcome is not None:
        logger.info("slide image ready", imageKey=done.outcome.image_key, reused=done.outcome.reused)
    if not done.answered:
        logger.info("nothing waits for this slide any more; dropped")


def measure(done: WorkDone) -> None:
    if done.error == ImageRateLimited.__name__:
        count(Metric.PROVIDER_RATE_LIMITED)
    outcome = done.outcome
    if outcome is None:
        return
    if outcome.recorded_now:
        count(Metric.SLIDES_COMPLETED)
    if outcome.queued_seconds is not None:
        milliseconds(Metric.TIME_QUEUED, outcome.queued_seconds)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=work_on_message, processor=processor, context=context)
