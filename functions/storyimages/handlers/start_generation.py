"""POST /api/images/generate-all-automatically: start illustrating a story, answer at once."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.utilities.typing import LambdaContext

from storyimages.adapters.clock import SystemClock
from storyimages.adapters.firestore_jobs import FirestoreJobStore, FirestoreStories
from storyimages.adapters.stepfunctions_workflow import StepFunctionsWorkflow
from storyimages.api.errors import api_resolver
from storyimages.api.routes import START_PATH
from storyimages.api.schemas import StartRequest, StartResponse
from storyimages.domain.start_generation import start_generation
from storyimages.settings import FirestoreSettings, ImageSettings, StartSettings

settings = StartSettings.from_env()
firestore = FirestoreSettings.from_env()
config = settings.generation(ImageSettings.from_env())
stories = FirestoreStories.from_settings(firestore)
jobs = FirestoreJobStore.from_settings(firestore)
workflow = StepFunctionsWorkflow(settings.state_machine_arn)
logger = Logger()
app = api_resolver()


@app.post(START_PATH, summary="Start illustrating every slide of a story")
def start(request: Annotated[StartRequest, Body()]) -> tuple[StartResponse, int]:
    started = start_generation(
        request.command(), stories=stories, jobs=jobs, workflow=workflow, clock=SystemClock(), config=config
    )
    logger.info("generation started", masterJobId=started.master_job_id, totalSlides=started.total_slides)
    return StartResponse.of(started), 202


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
