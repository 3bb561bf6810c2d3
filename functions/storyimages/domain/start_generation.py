"""Start illustrating a story: check who asks and what, claim the story, record the jobs,
start the workflow, answer at once."""

from __future__ import annotations

import math
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any

from storyimages import defaults
from storyimages.domain.errors import (
    ClaimConflict,
    IdempotencyKeyReused,
    InvalidOption,
    StoryNotFound,
)
from storyimages.domain.idempotency import IdempotencyRecord, key_id, request_hash
from storyimages.domain.identity import Caller
from storyimages.domain.job_runs import holding_job, start_execution, starting_in_doubt
from storyimages.domain.jobs import (
    ImageSpec,
    JobStatus,
    MasterJob,
    SlideJob,
    SlideState,
    master_job_id,
    slide_job_id,
)
from storyimages.domain.ports import (
    Clock,
    ImageStorage,
    JobStore,
    Notifier,
    Resolver,
    StoryRepository,
    Workflow,
)
from storyimages.domain.story import Story
from storyimages.domain.story_lock import next_claim
from storyimages.domain.webhooks import WebhookPolicy, check_webhook_url


@dataclass(frozen=True)
class OptionLimits:
    max_delay_seconds: int = defaults.MAX_DELAY_SECONDS
    sizes: tuple[str, ...] = defaults.ALLOWED_IMAGE_SIZES
    qualities: tuple[str, ...] = defaults.ALLOWED_IMAGE_QUALITIES


@dataclass(frozen=True)
class GenerationConfig:
    image: ImageSpec
    delay_seconds: int
    max_concurrency: int
    max_slides: int
    seconds_per_image: int
    limits: OptionLimits = field(default_factory=OptionLimits)
    webhooks: WebhookPolicy = field(default_factory=WebhookPolicy)


@dataclass(frozen=True)
class StartOptions:
    """Per-request choices; None takes the deployment's default."""

    delay_seconds: int | None = None
    size: str | None = None
    quality: str | None = None
    webhook_url: str | None = None


@dataclass(frozen=True)
class StartCommand:
    story_id: str
    use_character_consistency: bool = True
    options: StartOptions = field(default_factory=StartOptions)
    idempotency_key: str | None = None


@dataclass(frozen=True)
class StartedJob:
    master_job_id: str
    total_slides: int
    estimated_seconds: int
    max_concurrency: int
    already_running: bool = False
    replayed: bool = False

    @property
    def created(self) -> bool:
        return not (self.already_running or self.replayed)

    @property
    def message(self) -> str:
        if self.already_running:
            return "Image generation for this story is already running; here is its job."
        if self.replayed:
            return "This request was already made with the same Idempotency-Key; here is its job."
        if self.max_concurrency == 1:
            return "Automatic image generation started. Images will be generated sequentially."
        return f"Automatic image generation started. Images will be generated up to {self.max_concurrency} at a time."

    @property
    def estimated_time(self) -> str:
        if self.estimated_seconds < 60:
            return "less than a minute"
        minutes = math.ceil(self.estimated_seconds / 60)
        return "1 minute" if minutes == 1 else f"{minutes} minutes"


def estimate_seconds(total_slides: int, delay_seconds: int, config: GenerationConfig) -> int:
    """Images in sequence plus the rate-limit pauses between them, spread over the concurrency."""
    batches = math.ceil(total_slides / config.max_concurrency)
    return batches * config.seconds_per_image + max(0, total_slides - 1) * delay_seconds


def start_generation(
    command: StartCommand,
    caller: Caller,
    *,
    stories: StoryRepository,
    jobs: JobStore,
    workflow: Workflow,
    storage: ImageStorage,
    notifier: Notifier,
    resolver: Resolver,
    clock: Clock,
    config: GenerationConfig,
) -> StartedJob:
    spec, delay, webhook_url = _resolve_options(command.options, config, resolver)
    idempotency = _idempotency(command, fingerprint(command, spec, delay, webhook_url), caller, clock)
    if idempotency is not None and (replay := _replay(idempotency, jobs, config, clock)):
        return replay

    document = stories.get_story(command.story_id)
    if document is None or document.get("ownerId") != caller.uid:
        # Someone else's story reads exactly like a missing one.
        raise StoryNotFound(f"story {command.story_id!r} does not exist")
    story = Story.from_document(command.story_id, document, max_slides=config.max_slides)

    holder = jobs.current_lock(command.story_id)
    active = holding_job(holder, jobs=jobs, workflow=workflow, storage=storage, notifier=notifier, clock=clock)
    if active is not None:
        if idempotency is not None:
            # The key's answer is this job: the same request later gets it again, not a new job.
            with suppress(ClaimConflict):
                jobs.remember_idempotency(replace(idempotency, job_id=active.job_id))
        return _started(active, config, already_running=True)

    now = clock.now()
    job_id = master_job_id(command.story_id, now)
    numbers = list(range(1, len(story.slides) + 1))
    job = MasterJob(
        job_id=job_id,
        story_id=command.story_id,
        owner_id=caller.uid,
        status=JobStatus.PENDING,
        use_character_consistency=command.use_character_consistency,
        image=spec,
        delay_seconds=delay,
        slides={n: SlideState(number=n) for n in numbers},
        created_at=now,
        updated_at=now,
        webhook_url=webhook_url,
        lock_seq=next_claim(holder),
    )
    slide_jobs = [
        SlideJob(slide_job_id(job_id, n), job_id, command.story_id, n, prompt=story.slide_prompt(n)) for n in numbers
    ]
    record = replace(idempotency, job_id=job_id) if idempotency is not None else None
    try:
        with starting_in_doubt(job, numbers, workflow=workflow, max_concurrency=config.max_concurrency):
            jobs.create_job(job, slide_jobs, idempotency=record)
    except ClaimConflict:
        return _lost_race(command.story_id, idempotency, jobs, config, clock)
    start_execution(
        job,
        numbers,
        jobs=jobs,
        workflow=workflow,
        storage=storage,
        notifier=notifier,
        clock=clock,
        max_concurrency=config.max_concurrency,
    )
    return _started(job, config)


def _resolve_options(
    options: StartOptions, config: GenerationConfig, resolver: Resolver
) -> tuple[ImageSpec, int, str | None]:
    limits = config.limits
    delay = config.delay_seconds if options.delay_seconds is None else options.delay_seconds
    if not 0 <= delay <= limits.max_delay_seconds:
        raise InvalidOption(
            f"delaySeconds must be between 0 and {limits.max_delay_seconds}",
            details={"field": "delaySeconds", "min": 0, "max": limits.max_delay_seconds},
        )
    size = options.size or config.image.size
    if size not in limits.sizes:
        raise InvalidOption(
            f"size must be one of {', '.join(limits.sizes)}", details={"field": "size", "allowed": list(limits.sizes)}
        )
    quality = options.quality or config.image.quality
    if quality not in limits.qualities:
        raise InvalidOption(
            f"quality must be one of {', '.join(limits.qualities)}",
            details={"field": "quality", "allowed": list(limits.qualities)},
        )
    webhook_url = None
    if options.webhook_url is not None:
        webhook_url = check_webhook_url(options.webhook_url, resolver=resolver, policy=config.webhooks).url
    return (
        ImageSpec(model=config.image.model, size=size, quality=quality, format=config.image.format),
        delay,
        webhook_url,
    )


def fingerprint(command: StartCommand, image: ImageSpec, delay_seconds: int, webhook_url: str | None) -> dict[str, Any]:
    """What makes two requests the same request, for Idempotency-Key: every choice a start
    request makes, with the deployment's defaults filled in where it left one out, so a request
    naming a default is the request that left it out. Every field of StartCommand and
    StartOptions but the key itself appears here (a unit test keeps it so)."""
    return {
        "storyId": command.story_id,
        "useCharacterConsistency": command.use_character_consistency,
        "delaySeconds": delay_seconds,
        "size": image.size,
        "quality": image.quality,
        "webhookUrl": webhook_url,
    }


def _idempotency(
    command: StartCommand, request: dict[str, Any], caller: Caller, clock: Clock
) -> IdempotencyRecord | None:
    """The record this request would leave; its job id is filled in once the job exists."""
    if command.idempotency_key is None:
        return None
    return IdempotencyRecord(
        key_id=key_id(caller.uid, command.idempotency_key),
        owner_id=caller.uid,
        request_hash=request_hash(request),
        job_id="",
        created_at=clock.now(),
    )


def _replay(asked: IdempotencyRecord, jobs: JobStore, config: GenerationConfig, clock: Clock) -> StartedJob | None:
    stored = jobs.get_idempotency(asked.key_id)
    if stored is None:
        return None
    if stored.expired(clock.now()):
        jobs.forget_idempotency(asked.key_id)
        return None
    if stored.request_hash != asked.request_hash:
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different request")
    job = jobs.get_job(stored.job_id)
    if job is None:
        return None
    return _started(job, config, replayed=True, already_running=not job.status.is_terminal)


def _lost_race(
    story_id: str, idempotency: IdempotencyRecord | None, jobs: JobStore, config: GenerationConfig, clock: Clock
) -> StartedJob:
    """A concurrent start claimed the story (or the key) first: answer with its job."""
    if idempotency is not None and (replay := _replay(idempotency, jobs, config, clock)):
        return replay
    holder = jobs.current_lock(story_id)
    winner = jobs.get_job(holder.job_id) if holder else None
    if winner is None:
        raise ClaimConflict("another start for this story is under way; try again in a moment")
    return _started(winner, config, already_running=True)


def _started(
    job: MasterJob, config: GenerationConfig, *, already_running: bool = False, replayed: bool = False
) -> StartedJob:
    return StartedJob(
        master_job_id=job.job_id,
        total_slides=job.total_slides,
        estimated_seconds=estimate_seconds(job.total_slides, job.delay_seconds, config),
        max_concurrency=config.max_concurrency,
        already_running=already_running,
        replayed=replayed,
    )
