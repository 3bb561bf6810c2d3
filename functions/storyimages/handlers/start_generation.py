"""POST /api/images/generate-all-automatically: start illustrating a story, answer at once."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from storyimages.adapters.clock import SystemClock
from storyimages.adapters.dns_resolver import SystemResolver
from storyimages.adapters.firestore_jobs import FirestoreJobStore
from storyimages.adapters.firestore_stories import FirestoreStories
from storyimages.adapters.s3_images import S3ImageStorage
from storyimages.adapters.stepfunctions_workflow import StepFunctionsNotifier, StepFunctionsWorkflow
from storyimages.api.auth import caller_of
from storyimages.api.openapi import STORE_UNAVAILABLE, error_responses, success, workflow_start_failed
from storyimages.api.resolver import api_resolver
from storyimages.api.routes import START_PATH
from storyimages.api.schemas import StartRequest, StartResponse
from storyimages.business_metrics import Metric
from storyimages.domain.start_generation import start_generation
from storyimages.observability import about_job, count, logger, metrics, tracer
from storyimages.settings import (
    ApiSettings,
    FirestoreSettings,
    ImageSettings,
    NotifierSettings,
    StartSettings,
    StorageSettings,
    WebhookSettings,
)

settings = StartSettings.from_env()
firestore = FirestoreSettings.from_env()
config = settings.generation(ImageSettings.from_env(), WebhookSettings.from_env())
stories = FirestoreStories.from_settings(firestore)
jobs = FirestoreJobStore.from_settings(firestore)
storage = S3ImageStorage.from_settings(StorageSettings.from_env())
workflow = StepFunctionsWorkflow(settings.state_machine_arn)
notifier = StepFunctionsNotifier.for_state_machine(NotifierSettings.from_env().state_machine_arn)
app = api_resolver(ApiSettings.from_env())


@app.post(
    START_PATH,
    summary="Start illustrating every slide of a story",
    description="202 with a new job; 200 with the running job of the story, or the job an "
    "Idempotency-Key already started.",
    responses={
        202: success(StartResponse, "Started a new job"),
        200: success(StartResponse, "The story's running job, or the job this Idempotency-Key started"),
        **error_responses(
            400,
            401,
            404,
            409,
            413,
            415,
            422,
            unavailable=(STORE_UNAVAILABLE, workflow_start_failed("the job is recorded as failed, start again")),
        ),
    },
)
def start(
    request: Annotated[StartRequest, Body()],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> tuple[StartResponse, int]:
    started = start_generation(
        request.command(idempotency_key),
        caller_of(app.current_event.raw_event),
        stories=stories,
        jobs=jobs,
        storage=storage,
        workflow=workflow,
        notifier=notifier,
        resolver=SystemResolver(),
        clock=SystemClock(),
        config=config,
    )
    about_job(started.master_job_id)
    if started.created:
        count(Metric.JOBS_STARTED)
    logger.info(
        "generation requested",
        jobCreated=started.created,
        alreadyRunning=started.already_running,
    )
    return StartResponse.of(started), 202 if started.created else 200


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
