"""GET /api/images/master-job/{masterJobId}: the master job, its slides and a summary."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from storyimages.adapters.firestore_jobs import FirestoreJobStore
from storyimages.adapters.s3_images import S3ImageStorage
from storyimages.api.auth import caller_of
from storyimages.api.openapi import STORE_UNAVAILABLE, error_responses, success
from storyimages.api.resolver import api_resolver
from storyimages.api.routes import STATUS_PATH
from storyimages.api.schemas import JOB_ID_PATTERN, JobStatusResponse
from storyimages.domain.job_status import get_job_status
from storyimages.settings import ApiSettings, FirestoreSettings, StorageSettings

jobs = FirestoreJobStore.from_settings(FirestoreSettings.from_env())
storage = S3ImageStorage.from_settings(StorageSettings.from_env())
logger = Logger()
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
    caller = caller_of(app.current_event.raw_event)
    return JobStatusResponse.of(get_job_status(masterJobId, caller, jobs=jobs, storage=storage))


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
