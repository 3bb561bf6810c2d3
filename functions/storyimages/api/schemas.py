"""Request and response bodies of the REST API (the shapes the app already consumes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from storyimages.domain.job_status import JobView, SlideView
from storyimages.domain.jobs import MASTER_JOB_TYPE, JobStatus, SlideStatus, Summary, WebhookOutcome, WebhookStatus
from storyimages.domain.start_generation import StartCommand, StartedJob, StartOptions

# A master job id is `auto-gen-<storyId>-<epoch ms>` and names Step Functions executions
# (with suffixes such as `-retry-12` and `-notify-12`), whose names allow at most 80
# characters of [A-Za-z0-9_-]: the story id gets 40.
STORY_ID_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"
JOB_ID_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"


class ApiModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ResponseModel(ApiModel):
    """A body the server sends with every field, null where there is no value. Powertools
    documents a response with pydantic's serialization-mode schema; this lists the fields that
    have defaults as required too, so a typed client need not expect a key to be missing."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class StartRequest(ApiModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    story_id: str = Field(alias="storyId", pattern=STORY_ID_PATTERN, description="The story to illustrate")
    use_character_consistency: bool = Field(
        default=True,
        alias="useCharacterConsistency",
        strict=True,
        description="Use the first slide's image as the reference for the others",
    )
    # Bounds that depend on the deployment (allowed sizes, qualities, the largest delay) and
    # whether a webhook host resolves publicly are checked by the use case: 422 INVALID_OPTION
    # or INVALID_WEBHOOK_URL.
    delay_seconds: int | None = Field(
        default=None,
        alias="delaySeconds",
        strict=True,
        ge=0,
        le=3600,
        description="Pause before each image after the first (default and maximum are configured)",
    )
    size: str | None = Field(
        default=None, pattern=r"^(auto|\d{2,4}x\d{2,4})$", description="Image size, e.g. 1024x1024"
    )
    quality: str | None = Field(default=None, pattern=r"^[a-z]{1,20}$", description="Image quality, e.g. medium")
    webhook_url: str | None = Field(
        default=None,
        alias="webhookUrl",
        max_length=2048,
        pattern=r"^https?://",
        description="Public https URL told, signed, when the job ends",
    )

    def command(self, idempotency_key: str | None) -> StartCommand:
        return StartCommand(
            story_id=self.story_id,
            use_character_consistency=self.use_character_consistency,
            options=StartOptions(
                delay_seconds=self.delay_seconds, size=self.size, quality=self.quality, webhook_url=self.webhook_url
            ),
            idempotency_key=idempotency_key,
        )


class StartData(ResponseModel):
    master_job_id: str = Field(alias="masterJobId")
    message: str
    total_slides: int = Field(alias="totalSlides")
    estimated_time: str = Field(alias="estimatedTime")
    estimated_seconds: int = Field(alias="estimatedSeconds")
    already_running: bool = Field(alias="alreadyRunning")
    idempotent_replay: bool = Field(alias="idempotentReplay")


class StartResponse(ResponseModel):
    success: Literal[True] = True
    data: StartData

    @classmethod
    def of(cls, started: StartedJob) -> StartResponse:
        return cls(
            data=StartData(
                master_job_id=started.master_job_id,
                message=started.message,
                total_slides=started.total_slides,
                estimated_time=started.estimated_time,
                estimated_seconds=started.estimated_seconds,
                already_running=started.already_running,
                idempotent_replay=started.replayed,
            )
        )


class ErrorBody(ApiModel):
    """An error answer's error; `details` is sent only when there are some."""

    code: str
    message: str
    details: Any = None


class ErrorResponse(ResponseModel):
    success: Literal[False] = False
    error: ErrorBody


class JobErrorBody(ResponseModel):
    """Why a job or a slide has no image."""

    code: str
    message: str
    # Sent, as null, because the app reads this shape already. Typed as any rather than null:
    # openapi-fetch's response types drop a property whose only type is null.
    details: Any = Field(default=None, description="Always null here")


class WebhookBody(ResponseModel):
    event: str = Field(description="The event delivered, e.g. image_job.completed")
    status: WebhookStatus
    attempts: int
    last_status_code: int | None = Field(alias="lastStatusCode")
    last_error: str | None = Field(alias="lastError")
    at: datetime | None


class MasterJobBody(ResponseModel):
    job_id: str = Field(alias="jobId")
    type: str = Field(default=MASTER_JOB_TYPE, json_schema_extra={"const": MASTER_JOB_TYPE})
    story_id: str = Field(alias="storyId")
    status: JobStatus
    progress: int
    current_slide: int = Field(alias="currentSlide")
    total_slides: int = Field(alias="totalSlides")
    use_character_consistency: bool = Field(alias="useCharacterConsistency")
    reference_slide: int | None = Field(alias="referenceSlide")
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    finished_at: datetime | None = Field(alias="finishedAt")
    run: int = Field(description="0 for the first run, n after the n-th retry")
    queued_since: datetime | None = Field(
        default=None,
        alias="queuedSince",
        description="Since when the job's longest-waiting slide has waited in the image queue"
        " (shared by every story); null when none of its slides waits",
    )
    error: JobErrorBody | None = None
    webhook: WebhookBody | None = None


class SlideResult(ResponseModel):
    image_url: str = Field(alias="imageUrl")
    size: str
    model: str
    format: str


class SlideJobBody(ResponseModel):
    job_id: str = Field(alias="jobId")
    slide_number: int = Field(alias="slideNumber")
    status: SlideStatus = Field(
        description="pending (its story has not reached it), queued (waiting in the image queue for"
        " capacity), generating, completed, failed or skipped"
    )
    progress: int
    result: SlideResult | None = None
    error: JobErrorBody | None = None


class SummaryBody(ResponseModel):
    total_slides: int = Field(alias="totalSlides")
    completed: int
    errors: int
    skipped: int
    in_progress: int = Field(alias="inProgress", description="pending, queued or generating")
    queued: int = Field(default=0, description="of those, waiting in the image queue")
    overall_progress: int = Field(alias="overallProgress")

    @classmethod
    def of(cls, summary: Summary) -> SummaryBody:
        return cls(
            total_slides=summary.total_slides,
            completed=summary.completed,
            errors=summary.errors,
            skipped=summary.skipped,
            in_progress=summary.in_progress,
            queued=summary.queued,
            overall_progress=summary.overall_progress,
        )


class JobStatusData(ResponseModel):
    master_job: MasterJobBody = Field(alias="masterJob")
    slide_jobs: list[SlideJobBody] = Field(alias="slideJobs")
    summary: SummaryBody


class JobStatusResponse(ResponseModel):
    success: Literal[True] = True
    data: JobStatusData

    @classmethod
    def of(cls, view: JobView) -> JobStatusResponse:
        job, summary = view.job, view.summary
        master = MasterJobBody(
            job_id=job.job_id,
            story_id=job.story_id,
            status=job.visible_status,
            progress=summary.overall_progress,
            current_slide=job.current_slide,
            total_slides=job.total_slides,
            use_character_consistency=job.use_character_consistency,
            reference_slide=job.reference_slide,
            created_at=job.created_at,
            updated_at=job.updated_at,
            finished_at=job.finished_at,
            run=job.run,
            queued_since=job.queued_since,
            error=JobErrorBody(code=job.error.code, message=job.error.message) if job.error else None,
            webhook=_webhook_body(job.webhook),
        )
        slides = [_slide_body(view, slide) for slide in view.slides]
        return cls(data=JobStatusData(master_job=master, slide_jobs=slides, summary=SummaryBody.of(summary)))


def _webhook_body(outcome: WebhookOutcome | None) -> WebhookBody | None:
    if outcome is None:
        return None
    return WebhookBody(
        event=outcome.event,
        status=outcome.status,
        attempts=outcome.attempts,
        last_status_code=outcome.last_status_code,
        last_error=outcome.last_error,
        at=outcome.at,
    )


def _slide_body(view: JobView, slide: SlideView) -> SlideJobBody:
    state, image = slide.state, view.job.image
    result = (
        SlideResult(image_url=slide.image_url, size=image.size, model=image.model, format=image.format)
        if slide.image_url
        else None
    )
    error = JobErrorBody(code=state.error.code, message=state.error.message) if state.error else None
    return SlideJobBody(
        job_id=slide.job_id,
        slide_number=state.number,
        status=state.status,
        progress=state.status.progress,
        result=result,
        error=error,
    )
