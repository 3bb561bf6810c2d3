"""Master jobs and slide jobs: states, ids, image keys and the summary the app polls."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

MASTER_JOB_TYPE = "auto-generation-sequence"
SLIDE_JOB_TYPE = "slide-image"


class JobStatus(StrEnum):
    PENDING = "pending"
    GENERATING = "generating"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self not in {JobStatus.PENDING, JobStatus.GENERATING}


class SlideStatus(StrEnum):
    PENDING = "pending"  # its story has not reached it yet
    QUEUED = "queued"  # in the image queue, waiting for capacity shared by every story
    GENERATING = "generating"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def is_finished(self) -> bool:
        return self in {SlideStatus.COMPLETED, SlideStatus.FAILED, SlideStatus.SKIPPED}

    @property
    def progress(self) -> int:
        return {SlideStatus.PENDING: 0, SlideStatus.QUEUED: 0, SlideStatus.GENERATING: 50}.get(self, 100)

    @property
    def is_waiting(self) -> bool:
        """Not started: its story has not reached it, or it waits in the image queue."""
        return self in {SlideStatus.PENDING, SlideStatus.QUEUED}


@dataclass(frozen=True)
class JobError:
    code: str
    message: str


@dataclass(frozen=True)
class ImageSpec:
    """What every image of a job is asked for; fixed at start so a job is reproducible."""

    model: str
    size: str
    quality: str
    format: str = "png"

    @property
    def content_type(self) -> str:
        return f"image/{self.format}"


@dataclass(frozen=True)
class SlideState:
    number: int
    status: SlideStatus = SlideStatus.PENDING
    image_key: str | None = None
    error: JobError | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    queued_at: datetime | None = None  # when it last joined the image queue


class WebhookStatus(StrEnum):
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class WebhookOutcome:
    """The last delivery of the job's webhook: recorded after every attempt."""

    event: str
    status: WebhookStatus
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None
    at: datetime | None = None


class EndedBy(StrEnum):
    """What decided a run's end."""

    FINALIZE = "finalize"  # the workflow went through every slide
    CANCEL = "cancel"  # the owner cancelled
    WORKFLOW_FAILURE = "workflow-failure"  # the workflow broke and said so
    EXECUTION_ENDED = "execution-ended"  # the execution ended without ending the job
    LOST = "lost"  # a later start found the job without a live execution
    START_FAILED = "start-failed"  # the run's execution could not be started


@dataclass(frozen=True)
class RunEnding:
    """How one run of a job ended. Each run has at most one: the first to claim it decides."""

    run: int
    status: JobStatus
    at: datetime
    by: EndedBy
    error: JobError | None = None


@dataclass(frozen=True)
class Summary:
    total_slides: int
    completed: int
    errors: int
    skipped: int
    in_progress: int  # pending, queued or generating
    queued: int = 0  # of those, waiting in the image queue

    @property
    def overall_progress(self) -> int:
        finished = self.completed + self.errors + self.skipped
        return round(100 * finished / self.total_slides) if self.total_slides else 100

    def final_status(self) -> JobStatus:
        if self.completed == self.total_slides:
            return JobStatus.COMPLETED
        return JobStatus.COMPLETED_WITH_ERRORS if self.completed else JobStatus.FAILED


@dataclass(frozen=True)
class MasterJob:
    job_id: str
    story_id: str
    owner_id: str
    status: JobStatus
    use_character_consistency: bool
    image: ImageSpec
    delay_seconds: int
    slides: dict[int, SlideState]
    created_at: datetime
    updated_at: datetime
    current_slide: int = 0
    reference_slide: int | None = None
    reference_image_key: str | None = None
    finished_at: datetime | None = None
    error: JobError | None = None
    webhook_url: str | None = None
    webhook: WebhookOutcome | None = None
    lock_seq: int = 1  # which claim on the story's lock this job holds (see story_lock)
    run: int = 0  # 0 for the first execution, n for the n-th retry
    type: str = field(default=MASTER_JOB_TYPE)

    @property
    def total_slides(self) -> int:
        return len(self.slides)

    @property
    def execution_name(self) -> str:
        """The Step Functions execution of the current run."""
        return execution_name(self.job_id, self.run)

    def slide(self, number: int) -> SlideState:
        return self.slides[number]

    @property
    def visible_status(self) -> JobStatus:
        """`generating` once any slide has started (a slide waiting in the image queue has not).
        Derived, never written by a slide task, so a slide task finishing late can never move a
        cancelled or finished job back."""
        if self.status is JobStatus.PENDING and any(not s.status.is_waiting for s in self.slides.values()):
            return JobStatus.GENERATING
        return self.status

    def visible_slides(self) -> dict[int, SlideState]:
        """Slides as the app should see them. Once a job has ended nothing is in progress: a slide
        no task finished reads as skipped. Derived, never written, so ending a job cannot hide an
        image a slide task recorded a moment before (say, while the job was being cancelled)."""
        if not self.status.is_terminal:
            return self.slides
        reason = skip_reason(self.status)
        return {
            n: s if s.status.is_finished else replace(s, status=SlideStatus.SKIPPED, error=reason)
            for n, s in self.slides.items()
        }

    def summary(self) -> Summary:
        counts = {status: 0 for status in SlideStatus}
        for slide in self.visible_slides().values():
            counts[slide.status] += 1
        return Summary(
            total_slides=self.total_slides,
            completed=counts[SlideStatus.COMPLETED],
            errors=counts[SlideStatus.FAILED],
            skipped=counts[SlideStatus.SKIPPED],
            in_progress=counts[SlideStatus.PENDING] + counts[SlideStatus.QUEUED] + counts[SlideStatus.GENERATING],
            queued=counts[SlideStatus.QUEUED],
        )

    @property
    def queued_since(self) -> datetime | None:
        """Since when the longest-waiting slide in the image queue has waited; None when none waits."""
        times = [s.queued_at for s in self.visible_slides().values() if s.status is SlideStatus.QUEUED and s.queued_at]
        return min(times, default=None)

    def slides_needing_images(self) -> list[int]:
        """What a retry generates again: every slide without an image (an ended job's slides
        that no task finished included)."""
        return sorted(n for n, slide in self.slides.items() if slide.status is not SlideStatus.COMPLETED)

    def ended_as(self, status: JobStatus) -> MasterJob:
        """The job as it reads once it has ended with `status`."""
        return replace(self, status=status)

    def with_images(self, images: dict[int, str], at: datetime) -> MasterJob:
        """The job once `images` (slide -> stored image key) are recorded as completed; the first
        of them becomes the reference when the job wants one and has none yet."""
        if not images:
            return self
        slides = dict(self.slides)
        for number, key in images.items():
            slides[number] = replace(
                slides[number], status=SlideStatus.COMPLETED, image_key=key, error=None, completed_at=at
            )
        job = replace(self, slides=slides)
        if self.use_character_consistency and self.reference_image_key is None:
            first = min(images)
            job = replace(job, reference_slide=first, reference_image_key=images[first])
        return job


@dataclass(frozen=True)
class SlideJob:
    """One document per slide, linked to its master job: the prompt and the slide's own history."""

    job_id: str
    master_job_id: str
    story_id: str
    slide_number: int
    prompt: str
    status: SlideStatus = SlideStatus.PENDING
    type: str = field(default=SLIDE_JOB_TYPE)


CANCELLED = JobError("CANCELLED", "the job was cancelled before this slide was processed")
NOT_PROCESSED = JobError("SLIDE_NOT_PROCESSED", "the job ended before this slide was processed")


def skip_reason(status: JobStatus) -> JobError:
    return CANCELLED if status is JobStatus.CANCELLED else NOT_PROCESSED


def master_job_id(story_id: str, now: datetime) -> str:
    return f"auto-gen-{story_id}-{int(now.timestamp() * 1000)}"


def slide_job_id(master_job_id: str, slide_number: int) -> str:
    return f"{master_job_id}-slide-{slide_number}"


def execution_name(job_id: str, run: int) -> str:
    return job_id if run == 0 else f"{job_id}-retry-{run}"


def image_key(job: MasterJob, slide_number: int) -> str:
    """Deterministic, so a retried or repeated run writes the same object instead of a new one."""
    return f"images/{job.story_id}/{job.job_id}/slide-{slide_number}.{job.image.format}"
