"""GET /api/images/master-job/{masterJobId}: the master job, its slides and a summary."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from storyimages.adapters.firestore_jobs import FirestoreJobStore
from storyimages.adapters.s3_images import S3ImageStorage
from storyimages.api.auth import caller_of
from storyimages.api.openapi import STORE_UNAVAILABLE, error_responses, success
from storyimages.api.resolver import api_resolver
from storyimages.api.routes import STATUS_PATH
from storyimages.api.schemas import JOB_ID_PATTERN, JobStatusResponse
from storyimages.business_metrics import Metric
from storyimages.domain.job_status import get_job_status
from storyimages.observability import about_job, count, logger, metrics, tracer
from storyimages.settings import ApiSettings, FirestoreSettings, StorageSettings

jobs = FirestoreJobStore.from_settings(FirestoreSettings.from_env())
storage = S3ImageStorage.from_settings(StorageSettings.from_env())
app = api_resolver(ApiSettings.from_env())


@app.get(
    STATUS_PATH,
    summary="Progress of a generation job",
    responses={
        200: success(JobStatusResponse, "The job, its slides and a summary"),
        **error_responses(401, 404, 422, unavailable=(STORE_UNAVAILABLE,)),
    },
)
def status(masterJobId: Annotated[str, Path(pattern=JOB_ID_PATTERN)]) -> JobStatusResponse:
    about_job(masterJobId)
    caller = caller_of(app.current_event.raw_event)
    view = get_job_status(masterJobId, caller, jobs=jobs, storage=storage)
    count(Metric.STATUS_READS)
    logger.info(
        "status read",
        run=view.job.run,
        status=view.job.status.value,
        completed=view.summary.completed,
        totalSlides=view.summary.total_slides,
    )
    return JobStatusResponse.of(view)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
