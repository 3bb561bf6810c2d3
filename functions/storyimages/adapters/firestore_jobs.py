"""Jobs in Firestore: master and slide jobs, the story locks they claim, idempotency records.

Only the operations the Firestore emulator handles reliably (and the cheapest in production):
create, get, get_all, update with dotted paths, batch commit, and one ordered query on a
subcollection. The master document holds a per-slide map so the status read is one
document, and every slide write is one batch commit touching the master and the slide's own
document. Mutual exclusion comes from create-if-absent writes inside those commits.

Layout:
    imageJobs/{masterJobId}                      the master job (per-slide map inside)
    imageJobs/{masterJobId}-slide-{n}            one document per slide job
    imageJobs/{masterJobId}/endings/{run:06d}    how each run ended: the first to claim it decides
    storyLocks/{storyId}/claims/{seq:010d}       one claim per run that held the story
    idempotencyKeys/{sha256(uid, key)}           the job an Idempotency-Key started

Slide jobs record what the slide tasks did; a slide no task finished stays `pending` there
(the API shows it `skipped` once the job has ended: MasterJob.visible_slides).

Every method turns Firestore's errors into the domain's (`firestore_errors`) and gives each
call the configured deadline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import cached_property, partial
from typing import Any

from google.api_core.exceptions import AlreadyExists

from storyimages.adapters.firestore_client import ClientFactory, firestore_client, reserved_id
from storyimages.adapters.firestore_errors import call_options, translated
from storyimages.business_metrics import Metric
from storyimages.defaults import FIRESTORE_TASK_DEADLINE_SECONDS
from storyimages.domain.errors import ClaimConflict
from storyimages.domain.idempotency import RETENTION, IdempotencyRecord
from storyimages.domain.jobs import (
    MASTER_JOB_TYPE,
    EndedBy,
    ImageSpec,
    JobError,
    JobStatus,
    MasterJob,
    RunEnding,
    SlideJob,
    SlideState,
    SlideStatus,
    WebhookOutcome,
    WebhookStatus,
    slide_job_id,
)
from storyimages.domain.story_lock import LockHolder
from storyimages.observability import count_by, tracer
from storyimages.settings import FirestoreSettings


class FirestoreJobStore:
    def __init__(
        self,
        client: ClientFactory,
        *,
        collection: str = "imageJobs",
        locks_collection: str = "storyLocks",
        idempotency_collection: str = "idempotencyKeys",
        deadline_seconds: float = FIRESTORE_TASK_DEADLINE_SECONDS,
    ) -> None:
        self._client_factory = client
        self._call = call_options(deadline_seconds)
        self._collection = collection
        self._locks = locks_collection
        self._idempotency = idempotency_collection

    @classmethod
    def from_settings(cls, settings: FirestoreSettings) -> FirestoreJobStore:
        return cls(
            partial(firestore_client, settings),
            collection=settings.jobs_collection,
            locks_collection=settings.locks_collection,
            idempotency_collection=settings.idempotency_collection,
            deadline_seconds=settings.deadline_seconds,
        )

    @cached_property
    def _db(self) -> Any:
        return self._client_factory()

    def _ref(self, document_id: str) -> Any:
        return self._db.collection(self._collection).document(document_id)

    def _slide_ref(self, job_id: str, slide_number: int) -> Any:
        return self._ref(slide_job_id(job_id, slide_number))

    def _claims(self, story_id: str) -> Any:
        return self._db.collection(self._locks).document(story_id).collection("claims")

    def _claim_ref(self, story_id: str, seq: int) -> Any:
        return self._claims(story_id).document(f"{seq:010d}")

    def _ending_ref(self, job_id: str, run: int) -> Any:
        return self._ref(job_id).collection("endings").document(f"{run:06d}")

    def _commit(self, batch: Any) -> None:
        batch.commit(**self._call)

    def _commit_claiming(self, batch: Any) -> None:
        try:
            self._commit(batch)
        except AlreadyExists as exc:
            raise ClaimConflict("a concurrent request claimed this first") from exc

    @tracer.capture_method
    @translated
    def create_job(
        self, job: MasterJob, slide_jobs: Sequence[SlideJob], *, idempotency: IdempotencyRecord | None = None
    ) -> None:
        batch = self._db.batch()
        batch.create(self._claim_ref(job.story_id, job.lock_seq), claim_document(job, job.created_at))
        batch.create(self._ref(job.job_id), master_document(job))
        for slide_job in slide_jobs:
            batch.create(self._ref(slide_job.job_id), slide_document(slide_job, job.created_at))
        if idempotency is not None:
            batch.create(
                self._db.collection(self._idempotency).document(idempotency.key_id), idempotency_document(idempotency)
            )
        self._commit_claiming(batch)

    @tracer.capture_method
    @translated
    def get_job(self, job_id: str) -> MasterJob | None:
        if reserved_id(job_id):
            return None
        snapshot = self._ref(job_id).get(**self._call)
        return _master_or_none(snapshot.to_dict() if snapshot.exists else None)

    @tracer.capture_method
    @translated
    def get_slide_work(self, job_id: str, slide_number: int) -> tuple[MasterJob | None, SlideJob | None]:
        if reserved_id(job_id):
            return None, None
        master_ref, slide_ref = self._ref(job_id), self._slide_ref(job_id, slide_number)
        found = {s.id: s.to_dict() for s in self._db.get_all([master_ref, slide_ref], **self._call) if s.exists}
        master, slide = _master_or_none(found.get(master_ref.id)), found.get(slide_ref.id)
        return master, slide_from_document(slide) if master and slide else None

    @tracer.capture_method
    @translated
    def current_lock(self, story_id: str) -> LockHolder | None:
        query = self._claims(story_id).order_by("seq", direction="DESCENDING").limit(1)
        latest = list(query.stream(**self._call))
        if not latest:
            return None
        claim = latest[0].to_dict()
        return LockHolder(story_id, claim["seq"], claim["masterJobId"], released=claim["released"])

    @tracer.capture_method
    @translated
    def get_idempotency(self, key_id: str) -> IdempotencyRecord | None:
        snapshot = self._db.collection(self._idempotency).document(key_id).get(**self._call)
        if not snapshot.exists:
            return None
        record = snapshot.to_dict()
        return IdempotencyRecord(
            key_id, record["ownerId"], record["requestHash"], record["masterJobId"], record["createdAt"]
        )

    @tracer.capture_method
    @translated
    def remember_idempotency(self, record: IdempotencyRecord) -> None:
        batch = self._db.batch()
        batch.create(self._db.collection(self._idempotency).document(record.key_id), idempotency_document(record))
        self._commit_claiming(batch)

    @tracer.capture_method
    @translated
    def forget_idempotency(self, key_id: str) -> None:
        self._db.collection(self._idempotency).document(key_id).delete(**self._call)

    @tracer.capture_method
    @translated
    def mark_slide_queued(self, job_id: str, slide_number: int, at: datetime) -> None:
        self._commit_slide(job_id, slide_number, at, {"status": SlideStatus.QUEUED.value, "queuedAt": at})

    @tracer.capture_method
    @translated
    def mark_slide_generating(self, job_id: str, slide_number: int, at: datetime) -> None:
        self._commit_slide(
            job_id,
            slide_number,
            at,
            {"status": SlideStatus.GENERATING.value, "startedAt": at},
            master_fields={"currentSlide": slide_number},
        )

    @tracer.capture_method
    @translated
    def mark_slide_completed(
        self, job_id: str, slide_number: int, image_key: str, at: datetime, *, as_reference: bool
    ) -> None:
        reference = {"referenceSlide": slide_number, "referenceImageKey": image_key} if as_reference else {}
        self._commit_slide(
            job_id,
            slide_number,
            at,
            {"status": SlideStatus.COMPLETED.value, "imageKey": image_key, "completedAt": at, "error": None},
            master_fields=reference,
        )

    @tracer.capture_method
    @translated
    def mark_slide_failed(self, job_id: str, slide_number: int, error: JobError, at: datetime) -> None:
        self._commit_slide(
            job_id,
            slide_number,
            at,
            {"status": SlideStatus.FAILED.value, "error": error_document(error), "completedAt": at},
        )

    @tracer.capture_method
    @translated
    def end_run(self, job: MasterJob, ending: RunEnding, *, images: Mapping[int, str]) -> RunEnding:
        at = ending.at
        batch = self._db.batch()
        batch.create(self._ending_ref(job.job_id, ending.run), ending_document(ending))
        master_update: dict[str, Any] = {
            "status": ending.status.value,
            "finishedAt": at,
            "updatedAt": at,
            "error": error_document(ending.error) if ending.error else None,
        }
        if images:
            recorded = job.with_images(dict(images), at)
            master_update |= {
                "referenceSlide": recorded.reference_slide,
                "referenceImageKey": recorded.reference_image_key,
            }
        for number, key in images.items():
            fields = {"status": SlideStatus.COMPLETED.value, "imageKey": key, "completedAt": at, "error": None}
            master_update |= _slide_paths(number, fields)
            batch.update(self._slide_ref(job.job_id, number), fields | _slide_progress(fields) | {"updatedAt": at})
        batch.update(self._ref(job.job_id), master_update)
        batch.update(self._claim_ref(job.story_id, job.lock_seq), {"released": True, "releasedAt": at})
        try:
            self._commit(batch)
        except AlreadyExists:
            held: RunEnding | None = self.get_ending(job.job_id, ending.run)
            assert held is not None, "an ending that exists reads back"
            return held
        # Counted where it is decided: whichever of a run's enders wins, only its claim lands here.
        count_by(Metric.JOBS_ENDED, ending.status.value)
        return ending

    @tracer.capture_method
    @translated
    def get_ending(self, job_id: str, run: int) -> RunEnding | None:
        snapshot = self._ending_ref(job_id, run).get(**self._call)
        return ending_from_document(snapshot.to_dict()) if snapshot.exists else None

    @tracer.capture_method
    @translated
    def restart_slides(self, job: MasterJob, slides: Sequence[int], *, run: int, lock_seq: int, at: datetime) -> None:
        batch = self._db.batch()
        batch.create(
            self._claim_ref(job.story_id, lock_seq), claim_document(replace(job, run=run, lock_seq=lock_seq), at)
        )
        master_update: dict[str, Any] = {
            "status": JobStatus.PENDING.value,
            "run": run,
            "lockSeq": lock_seq,
            "finishedAt": None,
            "error": None,
            "webhook": None,
            "updatedAt": at,
        }
        fields = {
            "status": SlideStatus.PENDING.value,
            "error": None,
            "queuedAt": None,
            "startedAt": None,
            "completedAt": None,
        }
        for number in slides:
            master_update |= _slide_paths(number, fields)
            batch.update(self._slide_ref(job.job_id, number), fields | _slide_progress(fields) | {"updatedAt": at})
        batch.update(self._ref(job.job_id), master_update)
        self._commit_claiming(batch)

    @tracer.capture_method
    @translated
    def record_webhook(self, job_id: str, outcome: WebhookOutcome) -> None:
        self._ref(job_id).update({"webhook": webhook_document(outcome)}, **self._call)

    def _commit_slide(
        self,
        job_id: str,
        slide_number: int,
        at: datetime,
        slide_fields: dict[str, Any],
        *,
        master_fields: Mapping[str, Any] | None = None,
    ) -> None:
        """One commit: the slide's entry in the master map, the master's own fields, the slide job."""
        batch = self._db.batch()
        batch.update(
            self._ref(job_id), _slide_paths(slide_number, slide_fields) | dict(master_fields or {}) | {"updatedAt": at}
        )
        batch.update(
            self._slide_ref(job_id, slide_number),
            slide_fields | _slide_progress(slide_fields) | {"updatedAt": at},
        )
        self._commit(batch)


def _master_or_none(document: Mapping[str, Any] | None) -> MasterJob | None:
    """A master job, or None: a slide job's id names a document too, but not a master job."""
    if document is None or document.get("type") != MASTER_JOB_TYPE:
        return None
    return master_from_document(document)


def ending_document(ending: RunEnding) -> dict[str, Any]:
    return {
        "run": ending.run,
        "status": ending.status.value,
        "at": ending.at,
        "by": ending.by.value,
        "error": error_document(ending.error) if ending.error else None,
    }


def ending_from_document(document: Mapping[str, Any]) -> RunEnding:
    return RunEnding(
        run=document["run"],
        status=JobStatus(document["status"]),
        at=document["at"],
        by=EndedBy(document["by"]),
        error=_error(document.get("error")),
    )


def _slide_paths(number: int, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {f"slides.{number}.{name}": value for name, value in fields.items()}


def _slide_progress(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {"progress": SlideStatus(fields["status"]).progress}


def claim_document(job: MasterJob, at: datetime) -> dict[str, Any]:
    return {
        "seq": job.lock_seq,
        "storyId": job.story_id,
        "masterJobId": job.job_id,
        "run": job.run,
        "claimedAt": at,
        "released": False,
        "releasedAt": None,
    }


def idempotency_document(record: IdempotencyRecord) -> dict[str, Any]:
    return {
        "ownerId": record.owner_id,
        "requestHash": record.request_hash,
        "masterJobId": record.job_id,
        "createdAt": record.created_at,
        # Firestore's TTL policy on `expiresAt` deletes old records (docs/deploy.md).
        "expiresAt": record.created_at + RETENTION,
    }


def error_document(error: JobError) -> dict[str, str]:
    return {"code": error.code, "message": error.message}


def _error(document: Mapping[str, Any] | None) -> JobError | None:
    return JobError(code=document["code"], message=document["message"]) if document else None


def webhook_document(outcome: WebhookOutcome) -> dict[str, Any]:
    return {
        "event": outcome.event,
        "status": outcome.status.value,
        "attempts": outcome.attempts,
        "lastStatusCode": outcome.last_status_code,
        "lastError": outcome.last_error,
        "at": outcome.at,
    }


def _webhook(document: Mapping[str, Any] | None) -> WebhookOutcome | None:
    if not document:
        return None
    return WebhookOutcome(
        event=document["event"],
        status=WebhookStatus(document["status"]),
        attempts=document["attempts"],
        last_status_code=document.get("lastStatusCode"),
        last_error=document.get("lastError"),
        at=document.get("at"),
    )


def master_document(job: MasterJob) -> dict[str, Any]:
    return {
        "jobId": job.job_id,
        "type": job.type,
        "storyId": job.story_id,
        "ownerId": job.owner_id,
        "status": job.status.value,
        "useCharacterConsistency": job.use_character_consistency,
        "image": {
            "model": job.image.model,
            "size": job.image.size,
            "quality": job.image.quality,
            "format": job.image.format,
        },
        "delaySeconds": job.delay_seconds,
        "totalSlides": job.total_slides,
        "currentSlide": job.current_slide,
        "referenceSlide": job.reference_slide,
        "referenceImageKey": job.reference_image_key,
        "webhookUrl": job.webhook_url,
        "webhook": webhook_document(job.webhook) if job.webhook else None,
        "lockSeq": job.lock_seq,
        "run": job.run,
        "createdAt": job.created_at,
        "updatedAt": job.updated_at,
        "finishedAt": job.finished_at,
        "error": error_document(job.error) if job.error else None,
        "slides": {
            str(n): {
                "status": s.status.value,
                "imageKey": s.image_key,
                "error": error_document(s.error) if s.error else None,
                "queuedAt": s.queued_at,
                "startedAt": s.started_at,
                "completedAt": s.completed_at,
            }
            for n, s in job.slides.items()
        },
    }


def master_from_document(document: Mapping[str, Any]) -> MasterJob:
    slides = {
        int(n): SlideState(
            number=int(n),
            status=SlideStatus(s["status"]),
            image_key=s.get("imageKey"),
            error=_error(s.get("error")),
            started_at=s.get("startedAt"),
            completed_at=s.get("completedAt"),
            queued_at=s.get("queuedAt"),
        )
        for n, s in document["slides"].items()
    }
    image = document["image"]
    return MasterJob(
        job_id=document["jobId"],
        story_id=document["storyId"],
        owner_id=document["ownerId"],
        status=JobStatus(document["status"]),
        use_character_consistency=document["useCharacterConsistency"],
        image=ImageSpec(model=image["model"], size=image["size"], quality=image["quality"], format=image["format"]),
        delay_seconds=document["delaySeconds"],
        slides=slides,
        created_at=document["createdAt"],
        updated_at=document["updatedAt"],
        current_slide=document.get("currentSlide", 0),
        reference_slide=document.get("referenceSlide"),
        reference_image_key=document.get("referenceImageKey"),
        finished_at=document.get("finishedAt"),
        error=_error(document.get("error")),
        webhook_url=document.get("webhookUrl"),
        webhook=_webhook(document.get("webhook")),
        lock_seq=document.get("lockSeq", 1),
        run=document.get("run", 0),
        type=document["type"],
    )


def slide_document(slide: SlideJob, created_at: datetime) -> dict[str, Any]:
    return {
        "jobId": slide.job_id,
        "type": slide.type,
        "masterJobId": slide.master_job_id,
        "storyId": slide.story_id,
        "slideNumber": slide.slide_number,
        "prompt": slide.prompt,
        "status": slide.status.value,
        "progress": slide.status.progress,
        "createdAt": created_at,
        "updatedAt": created_at,
    }


def slide_from_document(document: Mapping[str, Any]) -> SlideJob:
    return SlideJob(
        job_id=document["jobId"],
        master_job_id=document["masterJobId"],
        story_id=document["storyId"],
        slide_number=document["slideNumber"],
        prompt=document["prompt"],
        status=SlideStatus(document["status"]),
        type=document["type"],
    )
