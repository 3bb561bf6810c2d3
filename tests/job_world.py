"""A job started through the real use case, with every port faked: the world the domain tests act in."""

from __future__ import annotations

from storyimages.domain.identity import Caller
from storyimages.domain.image_queue import ImageWork, WorkDone, work_on_image
from storyimages.domain.job_completion import end_abandoned_run, finalize_job, mark_job_failed
from storyimages.domain.job_control import cancel_job, retry_failed_slides
from storyimages.domain.jobs import JobError, JobStatus, MasterJob, RunEnding, Summary
from storyimages.domain.slide_generation import SlideOutcome, generate_slide_image, queue_slide, record_slide_failure
from storyimages.domain.start_generation import GenerationConfig, StartCommand, StartOptions, start_generation
from tests.fakes import (
    FakeImageGenerator,
    FakeImageStorage,
    FakeJobStore,
    FakeNotifier,
    FakeResolver,
    FakeStories,
    FakeTaskReports,
    FakeWorkflow,
    FixedClock,
)
from tests.stories import story_document

OWNER = Caller("user-1")


class World:
    """A started job and the ports a slide task works with."""

    def __init__(
        self,
        config: GenerationConfig,
        *,
        slides: int = 3,
        consistency: bool = True,
        webhook_url: str | None = None,
    ) -> None:
        self.config = config
        self.jobs = FakeJobStore()
        self.images = FakeImageGenerator()
        self.storage = FakeImageStorage()
        self.clock = FixedClock()
        self.workflow = FakeWorkflow()
        self.notifier = FakeNotifier()
        self.resolver = FakeResolver()
        self.tasks = FakeTaskReports()
        self.holds: list[float] = []  # what the image worker held its answer for
        self.stories = FakeStories({"fox": story_document(slides)})
        started = start_generation(
            StartCommand("fox", use_character_consistency=consistency, options=StartOptions(webhook_url=webhook_url)),
            OWNER,
            stories=self.stories,
            jobs=self.jobs,
            workflow=self.workflow,
            storage=self.storage,
            notifier=self.notifier,
            resolver=self.resolver,
            clock=self.clock,
            config=config,
        )
        self.job_id = started.master_job_id
        self.jobs.commits.clear()

    def generate(self, slide: int) -> SlideOutcome:
        return generate_slide_image(
            self.job_id, slide, jobs=self.jobs, images=self.images, storage=self.storage, clock=self.clock
        )

    def queue(self, slide: int) -> SlideOutcome:
        return queue_slide(self.job_id, slide, jobs=self.jobs, clock=self.clock)

    def work(self, slide: int, token: str = "token-1", run: int | None = 0) -> WorkDone:  # noqa: S107 (a task token)
        """The image worker taking the slide's message from the image queue."""
        return work_on_image(
            ImageWork(self.job_id, slide, run, token),
            jobs=self.jobs,
            images=self.images,
            storage=self.storage,
            clock=self.clock,
            tasks=self.tasks,
            hold=self.holds.append,
            longest_hold_seconds=60,
        )

    def fail(self, slide: int, code: str = "IMAGE_REJECTED") -> SlideOutcome:
        return record_slide_failure(
            self.job_id, slide, JobError(code, "no"), jobs=self.jobs, storage=self.storage, clock=self.clock
        )

    def cancel(self, caller: Caller = OWNER) -> MasterJob:
        return cancel_job(
            self.job_id,
            caller,
            jobs=self.jobs,
            workflow=self.workflow,
            storage=self.storage,
            notifier=self.notifier,
            clock=self.clock,
        )

    def retry(self, caller: Caller = OWNER) -> MasterJob:
        return retry_failed_slides(
            self.job_id,
            caller,
            jobs=self.jobs,
            workflow=self.workflow,
            storage=self.storage,
            notifier=self.notifier,
            clock=self.clock,
            config=self.config,
        )

    def finalize(self, run: int | None = None) -> tuple[JobStatus, Summary]:
        return finalize_job(
            self.job_id, run, jobs=self.jobs, storage=self.storage, notifier=self.notifier, clock=self.clock
        )

    def mark_failed(self, error: JobError, run: int | None = None) -> Summary:
        _, summary = mark_job_failed(
            self.job_id, run, error, jobs=self.jobs, storage=self.storage, notifier=self.notifier, clock=self.clock
        )
        return summary

    def end_abandoned(self, execution_status: str, run: int = 0, error: str | None = None) -> RunEnding | None:
        return end_abandoned_run(
            self.job_id,
            run,
            execution_status,
            error,
            jobs=self.jobs,
            storage=self.storage,
            notifier=self.notifier,
            clock=self.clock,
        )

    @property
    def job(self) -> MasterJob:
        return self.jobs.jobs[self.job_id]

    def key(self, slide: int) -> str:
        return f"images/fox/{self.job_id}/slide-{slide}.png"
