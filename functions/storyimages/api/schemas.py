"""Request and response bodies of the REST API (the shapes the app already consumes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from storyimages.domain.job_status import JobView, SlideView
from storyimages.domain.jobs import MASTER_JOB_TYPE, Summary
from storyimages.domain.start_generation import StartCommand, StartedJob

# A master job id is `auto-gen-<storyId>-<epoch ms>` and names the Step Functions execution,
# whose names allow at most 80 characters of [A-Za-z0-9_-]: the story id gets 57.
STORY_ID_PATTERN = r"^[A-Za-z0-9_-]{1,57}$"
JOB_ID_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"


class ApiModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class StartRequest(ApiModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    story_id: str = Field(alias="storyId", pattern=STORY_ID_PATTERN, description="The story to illustrate")
    use_character_consistency: bool = Field(
        default=True,
        alias="useCharacterConsistency",
        strict=True,
        description="Use the first slide's image as the reference for the others",
    )

    def command(self) -> StartCommand:
        return StartCommand(story_id=self.story_id, use_character_consistency=self.use_character_consistency)


class StartData(ApiModel):
    master_job_id: str = Field(alias="masterJobId")
    message: str
    total_slides: int = Field(alias="totalSlides")
    estimated_time: str = Field(alias="estimatedTime")
    estimated_seconds: int = Field(alias="estimatedSeconds")


class StartResponse(ApiModel):
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
            )
        )


class ErrorBody(ApiModel):
    code: str
    message: str
    details: Any = None


class MasterJobBody(ApiModel):
    job_id: str = Field(alias="jobId")
    type: str = MASTER_JOB_TYPE
    story_id: str = Field(alias="storyId")
    status: str
    progress: int
    current_slide: int = Field(alias="currentSlide")
    total_slides: int = Field(alias="totalSlides")
    use_character_consistency: bool = Field(alias="useCharacterConsistency")
    reference_slide: int | None = Field(alias="referenceSlide")
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    finished_at: datetime | None = Field(alias="finishedAt")
    error: ErrorBody | None = None


class SlideResult(ApiModel):
    image_url: str = Field(alias="imageUrl")
    size: str
    model: str
    format: str


class SlideJobBody(ApiModel):
    job_id: str = Field(alias="jobId")
    slide_number: int = Field(alias="slideNumber")
    status: str
    progress: int
    result: SlideResult | None = None
    error: ErrorBody | None = None


class SummaryBody(ApiModel):
    total_slides: int = Field(alias="totalSlides")
    completed: int
    errors: int
    skipped: int
    in_progress: int = Field(alias="inProgress")
    overall_progress: int = Field(alias="overallProgress")

    @classmethod
    def of(cls, summary: Summary) -> SummaryBody:
        return cls(
            total_slides=summary.total_slides,
            completed=summary.completed,
            errors=summary.errors,
            skipped=summary.skipped,
            in_progress=summary.in_progress,
            overall_progress=summary.overall_progress,
        )


class JobStatusData(ApiModel):
    master_job: MasterJobBody = Field(alias="masterJob")
    slide_jobs: list[SlideJobBody] = Field(alias="slideJobs")
    summary: SummaryBody


class JobStatusResponse(ApiModel):
    success: Literal[True] = True
    data: JobStatusData

    @classmethod
    def of(cls, view: JobView) -> JobStatusResponse:
        job, summary = view.job, view.summary
        master = MasterJobBody(
            job_id=job.job_id,
            story_id=job.story_id,
            status=job.status.value,
            progress=summary.overall_progress,
            current_slide=job.current_slide,
            total_slides=job.total_slides,
            use_character_consistency=job.use_character_consistency,
            reference_slide=job.reference_slide,
            created_at=job.created_at,
            updated_at=job.updated_at,
            finished_at=job.finished_at,
            error=ErrorBody(code=job.error.code, message=job.error.message) if job.error else None,
        )
        slides = [_slide_body(view, slide) for slide in view.slides]
        return cls(data=JobStatusData(master_job=master, slide_jobs=slides, summary=SummaryBody.of(summary)))


def _slide_body(view: JobView, slide: SlideView) -> SlideJobBody:
    state, image = slide.state, view.job.image
    result = (
        SlideResult(image_url=slide.image_url, size=image.size, model=image.model, format=image.format)
        if slide.image_url
        else None
    )
    error = ErrorBody(code=state.error.code, message=state.error.message) if state.error else None
    return SlideJobBody(
        job_id=slide.job_id,
        slide_number=state.number,
        status=state.status.value,
        progress=state.status.progress,
        result=result,
        error=error,
    )
