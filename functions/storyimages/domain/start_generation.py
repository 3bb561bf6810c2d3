"""Start illustrating a story: validate it, record the jobs, start the workflow, answer at once."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from storyimages.domain.errors import StoryNotFound, WorkflowStartFailed
from storyimages.domain.jobs import (
    ImageSpec,
    JobError,
    JobStatus,
    MasterJob,
    SlideJob,
    SlideState,
    master_job_id,
    slide_job_id,
)
from storyimages.domain.ports import Clock, JobStore, StoryRepository, Workflow
from storyimages.domain.story import Story


@dataclass(frozen=True)
class GenerationConfig:
    image: ImageSpec
    delay_seconds: int
    max_concurrency: int
    max_slides: int
    seconds_per_image: int


@dataclass(frozen=True)
class StartCommand:
    story_id: str
    use_character_consistency: bool = True


@dataclass(frozen=True)
class StartedJob:
    master_job_id: str
    total_slides: int
    estimated_seconds: int
    max_concurrency: int

    @property
    def message(self) -> str:
        if self.max_concurrency == 1:
            return "Automatic image generation started. Images will be generated sequentially."
        return f"Automatic image generation started. Images will be generated up to {self.max_concurrency} at a time."

    @property
    def estimated_time(self) -> str:
        if self.estimated_seconds < 60:
            return "less than a minute"
        minutes = math.ceil(self.estimated_seconds / 60)
        return "1 minute" if minutes == 1 else f"{minutes} minutes"


def estimate_seconds(total_slides: int, config: GenerationConfig) -> int:
    """Images in sequence plus the rate-limit pauses between them, spread over the concurrency."""
    batches = math.ceil(total_slides / config.max_concurrency)
    return batches * config.seconds_per_image + max(0, total_slides - 1) * config.delay_seconds


def execution_input(job: MasterJob, config: GenerationConfig) -> dict[str, Any]:
    """Ids and numbers only: prompts and images stay in Firestore and S3 (256 KiB payload cap)."""
    numbers = sorted(job.slides)
    return {
        "masterJobId": job.job_id,
        "firstSlide": numbers[0],
        "remainingSlides": numbers[1:],
        "delaySeconds": job.delay_seconds,
        "maxConcurrency": config.max_concurrency,
    }


def start_generation(
    command: StartCommand,
    *,
    stories: StoryRepository,
    jobs: JobStore,
    workflow: Workflow,
    clock: Clock,
    config: GenerationConfig,
) -> StartedJob:
    document = stories.get_story(command.story_id)
    if document is None:
        raise StoryNotFound(f"story {command.story_id!r} does not exist")
    story = Story.from_document(command.story_id, document, max_slides=config.max_slides)

    now = clock.now()
    job_id = master_job_id(command.story_id, now)
    numbers = range(1, len(story.slides) + 1)
    job = MasterJob(
        job_id=job_id,
        story_id=command.story_id,
        owner_id=story.owner_id,
        status=JobStatus.PENDING,
        use_character_consistency=command.use_character_consistency,
        image=config.image,
        delay_seconds=config.delay_seconds,
        slides={n: SlideState(number=n) for n in numbers},
        created_at=now,
        updated_at=now,
    )
    slide_jobs = [
        SlideJob(
            job_id=slide_job_id(job_id, n),
            master_job_id=job_id,
            story_id=command.story_id,
            slide_number=n,
            prompt=story.slide_prompt(n),
        )
        for n in numbers
    ]
    jobs.create_job(job, slide_jobs)
    try:
        workflow.start(job_id, execution_input(job, config))
    except WorkflowStartFailed as exc:
        # Leave no job that looks alive but has nothing behind it.
        reason = JobError(exc.code, exc.message)
        jobs.finish_job(
            job_id, JobStatus.FAILED, clock.now(), error=reason, skipped_slides=dict.fromkeys(numbers, reason)
        )
        raise
    return StartedJob(
        master_job_id=job_id,
        total_slides=job.total_slides,
        estimated_seconds=estimate_seconds(job.total_slides, config),
        max_concurrency=config.max_concurrency,
    )
