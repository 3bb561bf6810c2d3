"""State machine task: generate one slide's image, store it, record progress."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from storyimages.adapters.clock import SystemClock
from storyimages.adapters.firestore_jobs import FirestoreJobStore
from storyimages.adapters.openai_images import OpenAIImageGenerator
from storyimages.adapters.s3_images import S3ImageStorage
from storyimages.domain.slide_generation import generate_slide_image
from storyimages.handlers.task_events import SlideTask
from storyimages.settings import FirestoreSettings, OpenAISettings, StorageSettings

jobs = FirestoreJobStore.from_settings(FirestoreSettings.from_env())
storage = S3ImageStorage(StorageSettings.from_env().bucket)
images = OpenAIImageGenerator(OpenAISettings.from_env())
logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = SlideTask.model_validate(event)
    logger.append_keys(masterJobId=task.master_job_id, slideNumber=task.slide_number)
    outcome = generate_slide_image(
        task.master_job_id, task.slide_number, jobs=jobs, images=images, storage=storage, clock=SystemClock()
    )
    logger.info(
        "slide image ready",
        imageKey=outcome.image_key,
        usedReference=outcome.used_reference,
        becameReference=outcome.became_reference,
        reused=outcome.reused,
    )
    return {
        "slideNumber": outcome.slide_number,
        "status": outcome.status.value,
        "imageKey": outcome.image_key,
    }
