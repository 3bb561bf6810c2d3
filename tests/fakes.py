"""In-memory fakes of the ports. They record what happened, so tests assert on data."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from storyimages.domain.errors import (
    ClaimConflict,
    ImageGenerationError,
    TaskGone,
    WebhookDeliveryFailed,
    WorkflowStartFailed,
)
from storyimages.domain.idempotency import IdempotencyRecord
from storyimages.domain.jobs import (
    EndedBy,
    JobError,
    JobStatus,
    MasterJob,
    RunEnding,
    SlideJob,
    SlideState,
    SlideStatus,
    Summary,
    WebhookOutcome,
)
from storyimages.domain.ports import GeneratedImage, ImageRequest
from storyimages.domain.story_lock import ExecutionState, LockHolder
from storyimages.domain.webhooks import WebhookRequest


class FixedClock:
    """Starts at a fixed instant and moves one second per reading, so order is visible."""

    def __init__(self, start: datetime = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)) -> None:
        self._now = start

    def now(self) -> datetime:
        current = self._now
        self._now += timedelta(seconds=1)
        return current

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)


class FakeStories:
    def __init__(self, stories: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.stories = dict(stories or {})

    def get_story(self, story_id: str) -> Mapping[str, Any] | None:
        return self.stories.get(story_id)


class FakeJobStore:
    """Keeps jobs in memory with the adapter's semantics; counts one commit per write call."""

    def __init__(self) -> None:
        self.jobs: dict[str, MasterJob] = {}
        self.slide_jobs: dict[str, SlideJob] = {}
        self.claims: dict[tuple[str, int], LockHolder] = {}
        self.idempotency: dict[str, IdempotencyRecord] = {}
        self.endings: dict[tuple[str, int], RunEnding] = {}
        self.commits: list[tuple[str, str]] = []  # (operation, job id)

    def create_job(
        self, job: MasterJob, slide_jobs: Sequence[SlideJob], *, idempotency: IdempotencyRecord | None = None
    ) -> None:
        claim = (job.story_id, job.lock_seq)
        if claim in self.claims or job.job_id in self.jobs or (idempotency and idempotency.key_id in self.idempotency):
            raise ClaimConflict("exists")
        self.claims[claim] = LockHolder(job.story_id, job.lock_seq, job.job_id)
        self.jobs[job.job_id] = job
        self.slide_jobs.update({s.job_id: s for s in slide_jobs})
        if idempotency:
            self.idempotency[idempotency.key_id] = idempotency
        self.commits.append(("create_job", job.job_id))

    def get_job(self, job_id: str) -> MasterJob | None:
        return self.jobs.get(job_id)

    def get_slide_work(self, job_id: str, slide_number: int) -> tuple[MasterJob | None, SlideJob | None]:
        return self.jobs.get(job_id), self.slide_jobs.get(f"{job_id}-slide-{slide_number}")

    def current_lock(self, story_id: str) -> LockHolder | None:
        held = [holder for (story, _), holder in self.claims.items() if story == story_id]
        return max(held, key=lambda h: h.seq) if held else None

    def get_idempotency(self, key_id: str) -> IdempotencyRecord | None:
        return self.idempotency.get(key_id)

    def remember_idempotency(self, record: IdempotencyRecord) -> None:
        if record.key_id in self.idempotency:
            raise ClaimConflict("exists")
        self.idempotency[record.key_id] = record

    def forget_idempotency(self, key_id: str) -> None:
        self.idempotency.pop(key_id, None)

    def _update_slide(self, job_id: str, number: int, operation: str, **changes: Any) -> None:
        job = self.jobs[job_id]
        self.jobs[job_id] = replace(job, slides={**job.slides, number: replace(job.slides[number], **changes)})
        slide_id = f"{job_id}-slide-{number}"
        self.slide_jobs[slide_id] = replace(self.slide_jobs[slide_id], status=changes["status"])
        self.commits.append((operation, job_id))

    def mark_slide_queued(self, job_id: str, slide_number: int, at: datetime) -> None:
        self._update_slide(job_id, slide_number, "queued", status=SlideStatus.QUEUED, queued_at=at)
        self.jobs[job_id] = replace(self.jobs[job_id], updated_at=at)

    def mark_slide_generating(self, job_id: str, slide_number: int, at: datetime) -> None:
        self._update_slide(job_id, slide_number, "generating", status=SlideStatus.GENERATING, started_at=at)
        self.jobs[job_id] = replace(self.jobs[job_id], current_slide=slide_number, updated_at=at)

    def mark_slide_completed(
        self, job_id: str, slide_number: int, image_key: str, at: datetime, *, as_reference: bool
    ) -> None:
        self._update_slide(
            job_id,
            slide_number,
            "completed",
            status=SlideStatus.COMPLETED,
            image_key=image_key,
            completed_at=at,
            error=None,
        )
        if as_reference:
            self.jobs[job_id] = replace(self.jobs[job_id], reference_slide=slide_number, reference_image_key=image_key)

    def mark_slide_failed(self, job_id: str, slide_number: int, error: JobError, at: datetime) -> None:
        self._update_slide(job_id, slide_number, "failed", status=SlideStatus.FAILED, error=error, completed_at=at)

    def end_run(self, job: MasterJob, ending: RunEnding, *, images: Mapping[int, str]) -> RunEnding:
        if (job.job_id, ending.run) in self.endings:
            return self.endings[(job.job_id, ending.run)]
        self.endings[(job.job_id, ending.run)] = ending
        at = ending.at
        current = self.jobs[job.job_id]
        recorded = current.with_images(dict(images), at)
        self.jobs[job.job_id] = replace(
            recorded, status=ending.status, finished_at=at, updated_at=at, error=ending.error
        )
        for number in images:
            slide_id = f"{job.job_id}-slide-{number}"
            self.slide_jobs[slide_id] = replace(self.slide_jobs[slide_id], status=SlideStatus.COMPLETED)
        claim = (job.story_id, job.lock_seq)
        self.claims[claim] = replace(self.claims[claim], released=True)
        self.commits.append(("end", job.job_id))
        return ending

    def get_ending(self, job_id: str, run: int) -> RunEnding | None:
        return self.endings.get((job_id, run))

    def end(self, job: MasterJob, status: JobStatus, at: datetime, *, by: EndedBy = EndedBy.FINALIZE) -> RunEnding:
        """A test's shortcut: end the job's current run as `status`."""
        return self.end_run(job, RunEnding(run=job.run, status=status, at=at, by=by), images={})

    def restart_slides(self, job: MasterJob, slides: Sequence[int], *, run: int, lock_seq: int, at: datetime) -> None:
        claim = (job.story_id, lock_seq)
        if claim in self.claims:
            raise ClaimConflict("exists")
        self.claims[claim] = LockHolder(job.story_id, lock_seq, job.job_id)
        current = self.jobs[job.job_id]
        reset = {n: SlideState(number=n) for n in slides}
        self.jobs[job.job_id] = replace(
            current,
            status=JobStatus.PENDING,
            run=run,
            lock_seq=lock_seq,
            finished_at=None,
            error=None,
            webhook=None,
            updated_at=at,
            slides={**current.slides, **reset},
        )
        self.commits.append(("restart", job.job_id))

    def record_webhook(self, job_id: str, outcome: WebhookOutcome) -> None:
        self.jobs[job_id] = replace(self.jobs[job_id], webhook=outcome)
        self.commits.append(("webhook", job_id))


@dataclass
class FakeImageGenerator:
    """Returns distinct bytes per prompt and reference; `failures` scripts errors per attempt."""

    failures: list[ImageGenerationError] = field(default_factory=list)
    requests: list[ImageRequest] = field(default_factory=list)

    def generate(self, request: ImageRequest) -> GeneratedImage:
        self.requests.append(request)
        if self.failures:
            raise self.failures.pop(0)
        digest = hashlib.sha256(request.prompt.encode() + (request.reference or b"")).hexdigest()
        return GeneratedImage(data=f"PNG:{digest}".encode(), model=request.spec.model)


@dataclass
class FakeImageStorage:
    objects: dict[str, bytes] = field(default_factory=dict)
    puts: list[str] = field(default_factory=list)

    def exists(self, key: str) -> bool:
        return key in self.objects

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = data
        self.puts.append(key)

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def url_for(self, key: str) -> str:
        return f"https://images.example/{key}?signed"


@dataclass
class FakeWorkflow:
    """Executions it started run until a test ends or stops them."""

    started: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)
    ended: set[str] = field(default_factory=set)
    unavailable: bool = False

    def start(self, name: str, payload: Mapping[str, Any]) -> str:
        if self.unavailable:
            raise WorkflowStartFailed("Step Functions is unavailable")
        self.started.setdefault(name, dict(payload))
        return f"arn:aws:states:us-east-1:123456789012:execution:sm:{name}"

    def stop(self, name: str, cause: str) -> None:
        if name in self.started and name not in self.ended:
            self.stopped.append(name)
            self.ended.add(name)

    def state(self, name: str) -> ExecutionState:
        if name not in self.started:
            return ExecutionState.MISSING
        return ExecutionState.ENDED if name in self.ended else ExecutionState.RUNNING


@dataclass
class FakeTaskReports:
    """The workflow's waiting tasks by token: what each was answered; `gone` tokens no task
    waits on any more; `unavailable` makes answers fail as a Step Functions outage would."""

    answers: dict[str, tuple[str, Any]] = field(
        default_factory=dict
    )  # token -> ("success", output) | ("failure", (error, cause))
    gone: set[str] = field(default_factory=set)
    unavailable: bool = False

    def succeed(self, token: str, output: Mapping[str, Any]) -> None:
        self._answer(token, ("success", dict(output)))

    def fail(self, token: str, error: str, cause: str) -> None:
        self._answer(token, ("failure", (error, cause)))

    def _answer(self, token: str, answer: tuple[str, Any]) -> None:
        if self.unavailable:
            raise ConnectionError("Step Functions is unreachable")
        if token in self.gone or token in self.answers:
            raise TaskGone(f"no task waits on {token}")
        self.answers[token] = answer


@dataclass
class FakeNotifier:
    notified: list[tuple[str, int, JobStatus]] = field(default_factory=list)
    summaries: list[Summary] = field(default_factory=list)
    unavailable: bool = False

    def job_ended(self, job: MasterJob) -> None:
        if self.unavailable:
            raise WorkflowStartFailed("Step Functions is unavailable")
        self.notified.append((job.job_id, job.run, job.status))
        self.summaries.append(job.summary())


@dataclass
class FakeResolver:
    """DNS as a table; names not in it do not resolve."""

    answers: dict[str, list[str]] = field(
        default_factory=lambda: {
            "hooks.example.com": ["93.184.216.34"],
            "localhost": ["127.0.0.1"],
            "intranet.example.com": ["10.1.2.3"],
            "split.example.com": ["93.184.216.34", "192.168.0.10"],
        }
    )

    def resolve(self, host: str) -> list[str]:
        try:
            import ipaddress

            return [str(ipaddress.ip_address(host))]
        except ValueError:
            return list(self.answers.get(host, []))


@dataclass
class FakeWebhookSender:
    """Answers with the scripted statuses in order (then 200), recording every request."""

    statuses: list[int | None] = field(default_factory=list)
    requests: list[WebhookRequest] = field(default_factory=list)

    def send(self, request: WebhookRequest) -> int:
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        if status is None:
            raise WebhookDeliveryFailed("connection refused")
        return status
