"""Webhooks on every terminal state of a job, signed the Standard Webhooks way
(https://www.standardwebhooks.com): headers `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.

Only `https` URLs whose host resolves to public addresses are accepted, checked when the job
is started and again, on the addresses actually connected to, at every delivery (so a DNS
answer that changes in between cannot point a delivery at an internal service).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from storyimages.domain.errors import InvalidWebhookUrl, JobNotFound, WebhookDeliveryFailed
from storyimages.domain.jobs import JobError, JobStatus, MasterJob, WebhookOutcome, WebhookStatus
from storyimages.domain.ports import Clock

MAX_URL_CHARS = 2048
SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
EVENT_TYPES = {
    JobStatus.COMPLETED: "image_job.completed",
    JobStatus.COMPLETED_WITH_ERRORS: "image_job.completed_with_errors",
    JobStatus.FAILED: "image_job.failed",
    JobStatus.CANCELLED: "image_job.cancelled",
}


class Resolver(Protocol):
    def resolve(self, host: str) -> list[str]:
        """Every address the host resolves to; empty when it does not resolve."""
        ...


@dataclass(frozen=True)
class WebhookPolicy:
    # Only for a local stack whose test receiver listens on 127.0.0.1; never in AWS.
    allow_loopback: bool = False


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def check_webhook_url(url: str, *, resolver: Resolver, policy: WebhookPolicy) -> WebhookTarget:
    if len(url) > MAX_URL_CHARS:
        raise InvalidWebhookUrl(f"webhookUrl is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidWebhookUrl("webhookUrl is not a valid URL") from None
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise InvalidWebhookUrl("webhookUrl must be an https URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrl("webhookUrl must not carry credentials")
    host = parts.hostname
    addresses = tuple(resolver.resolve(host))
    if not addresses:
        raise InvalidWebhookUrl(f"webhookUrl's host {host!r} does not resolve")
    loopback_only = all(_address(a).is_loopback for a in addresses)
    for address in addresses:
        ip = _address(address)
        public = ip.is_global and not ip.is_multicast
        if not (public or (policy.allow_loopback and ip.is_loopback)):
            raise InvalidWebhookUrl(f"webhookUrl's host {host!r} resolves to a non-public address")
    if parts.scheme == "http" and not (policy.allow_loopback and loopback_only):
        raise InvalidWebhookUrl("webhookUrl must be an https URL")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = 443 if parts.scheme == "https" else 80
    return WebhookTarget(url, parts.scheme, host, port or default_port, path, addresses)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(text.split("%", 1)[0])
    # ::ffff:10.0.0.1 is 10.0.0.1 in disguise.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def payload(job: MasterJob, run: int, status: JobStatus, at: datetime) -> dict[str, Any]:
    summary = job.summary()
    return {
        "type": EVENT_TYPES[status],
        "timestamp": at.isoformat(),
        "data": {
            "masterJobId": job.job_id,
            "storyId": job.story_id,
            "status": status.value,
            "run": run,
            "summary": {
                "totalSlides": summary.total_slides,
                "completed": summary.completed,
                "errors": summary.errors,
                "skipped": summary.skipped,
            },
        },
    }


@dataclass(frozen=True)
class WebhookRequest:
    target: WebhookTarget
    headers: dict[str, str]
    body: bytes


class WebhookSender(Protocol):
    def send(self, request: WebhookRequest) -> int:
        """POST to one of the target's checked addresses; the HTTP status, or
        WebhookDeliveryFailed when nothing usable came back."""
        ...


class WebhookJobs(Protocol):
    def get_job(self, job_id: str) -> MasterJob | None: ...

    def record_webhook(self, job_id: str, outcome: WebhookOutcome) -> None: ...


def message_id(job_id: str, run: int) -> str:
    """The same for every attempt of one event, so receivers can drop duplicates."""
    return f"{job_id}-{run}"


def deliver_webhook(
    job_id: str,
    run: int,
    status: JobStatus,
    attempt: int,
    *,
    jobs: WebhookJobs,
    sender: WebhookSender,
    resolver: Resolver,
    policy: WebhookPolicy,
    secret: str,
    clock: Clock,
) -> WebhookOutcome:
    job = jobs.get_job(job_id)
    if job is None:
        raise JobNotFound(f"job {job_id!r} does not exist")
    if not job.webhook_url:
        raise InvalidWebhookUrl(f"job {job_id!r} has no webhook URL")
    event, now = EVENT_TYPES[status], clock.now()
    target = check_webhook_url(job.webhook_url, resolver=resolver, policy=policy)
    body = json.dumps(payload(job, run, status, now), separators=(",", ":")).encode()
    timestamp, event_id = int(now.timestamp()), message_id(job_id, run)
    headers = {
        "content-type": "application/json",
        "user-agent": "storyimages-webhooks/1",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, event_id, timestamp, body),
    }
    try:
        code = sender.send(WebhookRequest(target, headers, body))
        error = None if 200 <= code < 300 else f"the receiver answered {code}"
    except WebhookDeliveryFailed as exc:
        code, error = None, exc.message
    outcome = WebhookOutcome(
        event=event,
        status=WebhookStatus.DELIVERED if error is None else WebhookStatus.RETRYING,
        attempts=attempt + 1,
        last_status_code=code,
        last_error=error,
        at=now,
    )
    jobs.record_webhook(job_id, outcome)
    if error is not None:
        raise WebhookDeliveryFailed(error)
    return outcome


def record_webhook_failure(
    job_id: str, status: JobStatus, error: JobError, *, jobs: WebhookJobs, clock: Clock
) -> WebhookOutcome:
    """Retries ran out (or the URL stopped being acceptable): say so on the job."""
    job = jobs.get_job(job_id)
    if job is None:
        raise JobNotFound(f"job {job_id!r} does not exist")
    previous = job.webhook
    outcome = WebhookOutcome(
        event=EVENT_TYPES[status],
        status=WebhookStatus.FAILED,
        attempts=previous.attempts if previous else 0,
        last_status_code=previous.last_status_code if previous else None,
        last_error=error.message,
        at=clock.now(),
    )
    jobs.record_webhook(job_id, outcome)
    return outcome
