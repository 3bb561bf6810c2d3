"""Fakes for the CLI's unit tests (no sockets): a transport that records every request and answers from a
script, status answers shaped as the API's, and a clock that moves only when the code under test sleeps."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from storyimages_cli.api import ConnectionFailed, HttpAnswer, HttpRequest

BASE_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/dev/"
JOB_ID = "auto-gen-fox-1795510800000"


@dataclass
class RecordingTransport:
    """Answers each request with the next scripted answer (a ConnectionFailed is raised instead); records them all."""

    script: list[HttpAnswer | ConnectionFailed] = field(default_factory=list)
    requests: list[HttpRequest] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)

    def answer(self, *answers: HttpAnswer | ConnectionFailed) -> RecordingTransport:
        self.script.extend(answers)
        return self

    def send(self, request: HttpRequest, timeout: float) -> HttpAnswer:
        self.requests.append(request)
        self.timeouts.append(timeout)
        assert self.script, f"no answer scripted for {request.method} {request.url}"
        answer = self.script.pop(0)
        if isinstance(answer, ConnectionFailed):
            raise answer
        return answer


@dataclass
class FakeClock:
    """Monotonic seconds that pass only through sleep(); records each sleep."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def ok(data: dict[str, Any], status: int = 200) -> HttpAnswer:
    return HttpAnswer(status, json.dumps({"success": True, "data": data}))


def refusal(status: int, code: str, message: str = "refused", details: Any = None) -> HttpAnswer:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return HttpAnswer(status, json.dumps({"success": False, "error": error}))


def slide(number: int, status: str = "pending", error: str | None = None) -> dict[str, Any]:
    done = status == "completed"
    return {
        "jobId": f"{JOB_ID}-slide-{number}",
        "slideNumber": number,
        "status": status,
        "progress": 100 if done else 50 if status == "generating" else 0,
        "result": {
            "imageUrl": f"https://bucket.s3.amazonaws.com/images/fox/slide-{number}.png?X-Amz-Signature=abc",
            "size": "1024x1024",
            "model": "gpt-image-2",
            "format": "png",
        }
        if done
        else None,
        "error": None if error is None else {"code": error, "message": f"{error} happened"},
    }


def job(status: str, slides: Iterable[dict[str, Any]], *, run: int = 0) -> dict[str, Any]:
    """A status answer's data, its summary counted from the slides as the API counts it."""
    slides = list(slides)
    count = {name: sum(s["status"] == name for s in slides) for name in ("completed", "failed", "skipped", "queued")}
    ended = count["completed"] + count["failed"] + count["skipped"]
    return {
        "masterJob": {
            "jobId": JOB_ID,
            "type": "auto-generation-sequence",
            "storyId": "fox",
            "status": status,
            "progress": round(100 * ended / len(slides)),
            "currentSlide": 1,
            "totalSlides": len(slides),
            "useCharacterConsistency": True,
            "referenceSlide": 1,
            "createdAt": "2026-11-24T09:00:00+00:00",
            "updatedAt": "2026-11-24T09:00:05+00:00",
            "finishedAt": None,
            "run": run,
            "error": None,
            "webhook": None,
        },
        "slideJobs": slides,
        "summary": {
            "totalSlides": len(slides),
            "completed": count["completed"],
            "errors": count["failed"],
            "skipped": count["skipped"],
            "queued": count["queued"],
            "inProgress": len(slides) - ended,
            "overallProgress": round(100 * ended / len(slides)),
        },
    }


def started(job_id: str = JOB_ID, **fields: Any) -> dict[str, Any]:
    return {
        "masterJobId": job_id,
        "message": "Automatic image generation started. Images will be generated sequentially.",
        "totalSlides": 3,
        "estimatedTime": "4 minutes",
        "estimatedSeconds": 200,
        "alreadyRunning": False,
        "idempotentReplay": False,
    } | fields
