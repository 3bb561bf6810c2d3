"""The ports the use cases need. Adapters implement them for AWS, Firestore and OpenAI;
tests implement them with fakes that record what happened."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from storyimages.domain.idempotency import IdempotencyRecord
from storyimages.domain.jobs import ImageSpec, JobError, MasterJob, RunEnding, SlideJob, WebhookOutcome
from storyimages.domain.story_lock import ExecutionState, LockHolder


class Clock(Protocol):
    def now(self) -> datetime: ...


class StoryRepository(Protocol):
    def get_story(self, story_id: str) -> Mapping[str, Any] | None:
        """The raw story document, or None when there is none."""
        ...


class JobStore(Protocol):
    """Persistence of jobs. Every method is one round trip; writes are one commit each."""

    def create_job(
        self, job: MasterJob, slide_jobs: Sequence[SlideJob], *, idempotency: IdempotencyRecord | None = None
    ) -> None:
        """Create the job, its slide jobs, its claim on the story's lock (and the idempotency
        record) together; ClaimConflict when the claim or the record exists already."""
        ...

    def get_job(self, job_id: str) -> MasterJob | None: ...

    def get_slide_work(self, job_id: str, slide_number: int) -> tuple[MasterJob | None, SlideJob | None]:
        """The master job and one slide job, read together; None for a document that does not exist."""
        ...

    def current_lock(self, story_id: str) -> LockHolder | None:
        """The latest claim on the story's lock."""
        ...

    def get_idempotency(self, key_id: str) -> IdempotencyRecord | None: ...

    def remember_idempotency(self, record: IdempotencyRecord) -> None:
        """Create the record on its own; ClaimConflict when one exists."""
        ...

    def forget_idempotency(self, key_id: str) -> None: ...

    def mark_slide_queued(self, job_id: str, slide_number: int, at: datetime) -> None: ...

    def mark_slide_generating(self, job_id: str, slide_number: int, at: datetime) -> None: ...

    def mark_slide_completed(
        self, job_id: str, slide_number: int, image_key: str, at: datetime, *, as_reference: bool
    ) -> None: ...

    def mark_slide_failed(self, job_id: str, slide_number: int, error: JobError, at: datetime) -> None: ...

    def end_run(self, job: MasterJob, ending: RunEnding, *, images: Mapping[int, str]) -> RunEnding:
        """Claim the end of run `ending.run` of `job` with a create-if-absent record, in one
        commit with the job's final status and error, `images` (slide -> stored image key)
        recorded as completed, and the release of the job's claim on its story. Returns the
        ending that holds: `ending`, or the one another caller claimed first (then nothing
        else was written). Slides no task finished are not written: they read as skipped
        (MasterJob.visible_slides)."""
        ...

    def get_ending(self, job_id: str, run: int) -> RunEnding | None: ...

    def restart_slides(self, job: MasterJob, slides: Sequence[int], *, run: int, lock_seq: int, at: datetime) -> None:
        """Start run `run` of the job over `slides` (back to pending) under a new claim on the
        story's lock; ClaimConflict when the claim exists already."""
        ...

    def record_webhook(self, job_id: str, outcome: WebhookOutcome) -> None: ...


@dataclass(frozen=True)
class ImageRequest:
    prompt: str
    spec: ImageSpec
    reference: bytes | None = None


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    model: str


class ImageGenerator(Protocol):
    def generate(self, request: ImageRequest) -> GeneratedImage:
        """Raises ImageRateLimited / ImageServiceUnavailable / ImageRejected / ImageServiceMisconfigured."""
        ...


class ImageStorage(Protocol):
    def exists(self, key: str) -> bool: ...

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def url_for(self, key: str) -> str:
        """A URL the app can fetch the image from (a presigned GET in S3)."""
        ...


class Workflow(Protocol):
    def start(self, name: str, payload: Mapping[str, Any]) -> str:
        """Start one execution named `name`; starting the same name again is not an error."""
        ...

    def stop(self, name: str, cause: str) -> None:
        """Stop the execution if it is running."""
        ...

    def state(self, name: str) -> ExecutionState: ...


class TaskReports(Protocol):
    """Answers to the workflow's task that waits on an image: each queued image carries the
    token of the task waiting for it. Raises TaskGone when nothing waits on the token any more
    (its execution ended, was stopped, or the task timed out)."""

    def succeed(self, token: str, output: Mapping[str, Any]) -> None: ...

    def fail(self, token: str, error: str, cause: str) -> None:
        """`error` is matched by the task's Retry and Catch, as a Lambda error's type is."""
        ...


class Resolver(Protocol):
    def resolve(self, host: str) -> list[str]:
        """Every address the host resolves to, the ones to try first first; empty when it does not resolve."""
        ...


@dataclass(frozen=True)
class WebhookTarget:
    """A webhook URL whose host resolved to addresses that were checked."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class WebhookRequest:
    target: WebhookTarget
    headers: dict[str, str]
    body: bytes


class WebhookSender(Protocol):
    def send(self, request: WebhookRequest) -> int:
        """POST to the target's checked addresses (in order, until one connects); the HTTP
        status, or WebhookDeliveryFailed when nothing usable came back."""
        ...


class Notifier(Protocol):
    def job_ended(self, job: MasterJob) -> None:
        """Start delivering the webhook for the end of `job`'s current run, as `job` reads
        now (its final status and summary go with the delivery). Asking again for the same run
        is the same delivery."""
        ...
