"""POST /api/images/master-job/{masterJobId}/cancel and /retry: what an owner can do to a job."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from storyimages.adapters.clock import SystemClock
from storyimages.adapters.firestore_jobs import FirestoreJobStore
from storyimages.adapters.s3_images import S3ImageStorage
from storyimages.adapters.stepfunctions_workflow import StepFunctionsNotifier, StepFunctionsWorkflow
from storyimages.api.auth import caller_of
from storyimages.api.openapi import STORE_UNAVAILABLE, error_responses, success, workflow_start_failed
from storyimages.api.resolver import api_resolver
from storyimages.api.routes import CANCEL_PATH, RETRY_PATH
from storyimages.api.schemas import JOB_ID_PATTERN, JobStatusResponse
from storyimages.domain.job_control import cancel_job, retry_failed_slides
from storyimages.domain.job_status import job_view
from storyimages.observability import about_job, logger, metrics, tracer
from storyimages.settings import (
    ApiSettings,
    FirestoreSettings,
    ImageSettings,
    NotifierSettings,
    StartSettings,
    StorageSettings,
)

settings = StartSettings.from_env()
config = settings.generation(ImageSettings.from_env())
jobs = FirestoreJobStore.from_settings(FirestoreSettings.from_env())
storage = S3ImageStorage.from_settings(StorageSettings.from_env())
workflow = StepFunctionsWorkflow(settings.state_machine_arn)
notifier = StepFunctionsNotifier.for_state_machine(NotifierSettings.from_env().state_machine_arn)
app = api_resolver(ApiSettings.from_env())
JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN)]


@app.post(
    CANCEL_PATH,
    summary="Cancel a running job",
    responses={
        200: success(JobStatusResponse, "The job, now cancelled (a job cancelled before answers the same)"),
        **error_responses(
            401,
            404,
            409,
            422,
            unavailable=(
                STORE_UNAVAILABLE,
                workflow_start_failed(
                    "the job is cancelled but its webhook's delivery could not be started: cancel again to ask for it"
                ),
            ),
        ),
    },
)
def cancel(masterJobId: JobId) -> JobStatusResponse:
    about_job(masterJobId)
    job = cancel_job(
        masterJobId,
        caller_of(app.current_event.raw_event),
        jobs=jobs,
        workflow=workflow,
        storage=storage,
        notifier=notifier,
        clock=SystemClock(),
    )
    logger.info("job cancelled", run=job.run)
    return JobStatusResponse.of(job_view(job, storage))


@app.post(
    RETRY_PATH,
    summary="Generate the slides that have no image again",
    responses={
        202: success(JobStatusResponse, "The job, generating again over the slides that have no image"),
        **error_responses(
            401,
            404,
            409,
            422,
            unavailable=(STORE_UNAVAILABLE, workflow_start_failed("the new run is recorded as failed, retry again")),
        ),
    },
)
def retry(masterJobId: JobId) -> tuple[JobStatusResponse, int]:
    about_job(masterJobId)
    job = retry_failed_slides(
        masterJobId,
        caller_of(app.current_event.raw_event),
        jobs=jobs,
        workflow=workflow,
        storage=storage,
        notifier=notifier,
        clock=SystemClock(),
        config=config,
    )
    about_job(job.job_id, run=job.run)
    logger.info("job retried")
    return JobStatusResponse.of(job_view(job, storage)), 202


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
