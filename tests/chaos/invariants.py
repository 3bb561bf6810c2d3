"""What must hold after any fault, checked from the outside: the API's answers, the bucket and
the Images API server's request log (what the provider made, and so billed).

- No stuck job: every job ends once the faults stop.
- An image in S3 for a slide implies that slide reads `completed` once its job has ended.
- Generations per slide <= 1 + the provider faults that slide saw (an error answer, or an
  answer held past the OpenAI timeout, which the provider made and billed all the same).
- A slide fails only when its faults outlast the documented retry budget (transient tests).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from local_stack.stack import BUCKET
from statemachine.definition import RETRY_DEFAULTS
from tests.api_client import RUNNING, ApiClient
from tests.chaos.conftest import IMAGE_TIMEOUT_SECONDS
from tests.stories import story_document

OPENAI_TIMEOUT_SECONDS = IMAGE_TIMEOUT_SECONDS - 30


def marker(story_id: str, slide: int) -> str:
    """Text only slide `slide` of story `story_id` has in its prompt."""
    return f"[{story_id}#{slide}]"


def new_story(stack: Any, slides: int) -> str:
    story_id = f"chaos-{uuid.uuid4().hex[:12]}"
    document = story_document(slides)
    for number, slide in enumerate(document["slides"], start=1):
        slide["imagePrompt"] = f"Juniper in scene {number} {marker(story_id, number)}"
    stack.db.collection("stories").document(story_id).create(document)
    return story_id


def slide_reads(stack, job_id: str, slide: int, status: str, timeout: float = 60.0) -> None:
    """Wait, reading Firestore directly (not through any function's proxy), for a slide's status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        document = stack.db.collection("imageJobs").document(job_id).get().to_dict()
        if document and document["slides"][str(slide)]["status"] == status:
            return
        time.sleep(0.05)
    raise TimeoutError(f"slide {slide} of {job_id} never read {status}")


def held(images: Any, count: int = 1, timeout: float = 60.0) -> None:
    """Wait until the Images server holds `count` requests (a `slow` rule): releasing before
    they arrive would let them be held for the rule's whole time."""
    deadline = time.monotonic() + timeout
    while images.holding() < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the Images server holds {images.holding()} requests, not {count}")
        time.sleep(0.02)


@dataclass
class Job:
    story_id: str
    job_id: str
    slides: int
    data: dict[str, Any] | None = None  # the last status answer's data

    @property
    def status(self) -> str | None:
        return self.data["masterJob"]["status"] if self.data else None


def wait_until_ended(api: ApiClient, jobs: Iterable[Job], timeout: float) -> list[Job]:
    """Poll every job until it has ended or the deadline passed; the ones still running (stuck)."""
    pending = list(jobs)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        still = []
        for job in pending:
            answer = api.status(job.job_id)
            if answer.status_code == 200:
                job.data = answer.json()["data"]
                if job.status not in RUNNING:
                    continue
            still.append(job)
        pending = still
        if pending:
            time.sleep(0.25)  # each poll is a gateway request and two Lambda invocations
    return pending


@dataclass
class SlideRecord:
    job: Job
    number: int
    status: str
    error_code: str | None
    stored: bool
    generations: int  # images the provider made for it (billed)
    faults: int  # answers that were errors, or made after the client gave up
    rate_limited: int
    server_errors: int


@dataclass
class Findings:
    slides: list[SlideRecord] = field(default_factory=list)
    stuck: list[Job] = field(default_factory=list)

    @property
    def stored_not_completed(self) -> list[SlideRecord]:
        return [s for s in self.slides if s.stored and s.status != "completed"]

    @property
    def double_paid(self) -> list[SlideRecord]:
        return [s for s in self.slides if s.generations > 1 + s.faults]

    @property
    def failed(self) -> list[SlideRecord]:
        return [s for s in self.slides if s.status == "failed"]

    @property
    def failed_within_budget(self) -> list[SlideRecord]:
        """Failed slides whose transient faults did not outlast the retry budget."""
        return [
            s
            for s in self.failed
            if s.error_code in {"RATE_LIMITED", "IMAGE_SERVICE_UNAVAILABLE"}
            and s.rate_limited <= RETRY_DEFAULTS["RateLimitRetryMaxAttempts"]
            and s.server_errors <= RETRY_DEFAULTS["TransientRetryMaxAttempts"]
        ]

    def assert_invariants(self) -> None:
        assert self.stuck == [], f"stuck jobs: {[j.job_id for j in self.stuck]}"
        assert self.stored_not_completed == [], f"stored images not recorded: {self.stored_not_completed}"
        assert self.double_paid == [], f"images paid for twice: {self.double_paid}"

    def report(self, title: str) -> str:
        jobs = {s.job.job_id for s in self.slides} | {j.job_id for j in self.stuck}
        lines = [
            f"{title}: {len(jobs)} jobs, {len(self.slides)} slides",
            f"  stuck jobs {len(self.stuck)}; stored images not reading completed {len(self.stored_not_completed)};"
            f" slides paid for more than 1 + their faults {len(self.double_paid)}",
            f"  provider faults seen {sum(s.faults for s in self.slides)};"
            f" generations {sum(s.generations for s in self.slides)};"
            f" failed slides {len(self.failed)}"
            f" ({len(self.failed_within_budget)} of them within the retry budget)",
        ]
        print("\n".join(lines))
        return "\n".join(lines)


def check(stack: Any, jobs: Iterable[Job], stuck: Iterable[Job] = ()) -> Findings:
    """The invariants' evidence for ended `jobs`."""
    requests = stack.images.requests()
    s3 = stack.aws.client("s3")
    stored = {
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="images/")
        for item in page.get("Contents", [])
    }
    findings = Findings(stuck=list(stuck))
    for job in jobs:
        assert job.data is not None
        for slide in job.data["slideJobs"]:
            number = slide["slideNumber"]
            mine = [r for r in requests if marker(job.story_id, number) in (r["prompt"] or "")]
            made = [r for r in mine if r["status"] == 200]
            late = [r for r in made if r["heldSeconds"] >= OPENAI_TIMEOUT_SECONDS]
            errors = [r for r in mine if r["status"] != 200]
            findings.slides.append(
                SlideRecord(
                    job=job,
                    number=number,
                    status=slide["status"],
                    error_code=(slide.get("error") or {}).get("code"),
                    stored=f"images/{job.story_id}/{job.job_id}/slide-{number}.png" in stored,
                    generations=len(made),
                    faults=len(errors) + len(late),
                    rate_limited=sum(r["status"] == 429 for r in mine),
                    server_errors=sum(r["status"] >= 500 for r in mine),
                )
            )
    return findings


def webhook_statuses(receiver: Any, job_id: str) -> list[str]:
    return [
        json.loads(d.body)["data"]["status"]
        for d in receiver.deliveries
        if json.loads(d.body)["data"]["masterJobId"] == job_id
    ]
