"""Webhooks on every terminal state of a job, signed the Standard Webhooks way
(https://www.standardwebhooks.com): headers `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.

Only `https` URLs whose host resolves to public addresses are accepted, checked when the job
is started and again, on the addresses actually connected to, at every delivery (so a DNS
answer that changes in between cannot point a delivery at an internal service).

What a delivery says (status, summary) is fixed when the job ends and travels with the
delivery, so retries sent hours later say the same, even if the job has been retried since.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from storyimages.domain.errors import InvalidWebhookUrl, WebhookDeliveryFailed
from storyimages.domain.job_status import existing_job
from storyimages.domain.jobs import JobError, JobStatus, Summary, WebhookOutcome, WebhookStatus
from storyimages.domain.ports import Clock, JobStore, Resolver, WebhookRequest, WebhookSender, WebhookTarget

MAX_URL_CHARS = 2048
SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
EVENT_TYPES = {
    JobStatus.COMPLETED: "image_job.completed",
    JobStatus.COMPLETED_WITH_ERRORS: "image_job.completed_with_errors",
    JobStatus.FAILED: "image_job.failed",
    JobStatus.CANCELLED: "image_job.cancelled",
}
# IPv6 ranges that carry an IPv4 address inside (NAT64, 6to4, Teredo, IPv4-compatible): the
# address they reach is the embedded one, so they are refused rather than decoded.
_EMBEDDING_IPV4 = tuple(
    ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "::/96")
)


@dataclass(frozen=True)
class WebhookPolicy:
    # Only for a local stack whose test receiver listens on 127.0.0.1; never in AWS.
    allow_loopback: bool = False


@dataclass(frozen=True)
class JobEnding:
    """One end of one run of a job: what its webhook says, however late it is delivered."""

    job_id: str
    run: int
    status: JobStatus
    summary: Summary

    @property
    def event(self) -> str:
        return EVENT_TYPES[self.status]

    @property
    def message_id(self) -> str:
        """The same for every attempt of one event, so receivers can drop duplicates."""
        return f"{self.job_id}-{self.run}"


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
        if not (_public(address) or (policy.allow_loopback and _address(address).is_loopback)):
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


def _public(text: str) -> bool:
    ip = _address(text)
    if isinstance(ip, ipaddress.IPv6Address) and any(ip in network for network in _EMBEDDING_IPV4):
        return False
    return ip.is_global and not ip.is_multicast


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`secret` as Secrets Manager keeps it: base64 (padded or not, as receivers' libraries
    accept it), with or without the `whsec_` prefix."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    key = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def payload(ending: JobEnding, story_id: str, at: datetime) -> dict[str, Any]:
    summary = ending.summary
    return {
        "type": ending.event,
        "timestamp": at.isoformat(),
        "data": {
            "masterJobId": ending.job_id,
            "storyId": story_id,
            "status": ending.status.value,
            "run": ending.run,
            "summary": {
                "totalSlides": summary.total_slides,
                "completed": summary.completed,
                "errors": summary.errors,
                "skipped": summary.skipped,
            },
        },
    }


def deliver_webhook(
    ending: JobEnding,
    attempt: int,
    *,
    jobs: JobStore,
    sender: WebhookSender,
    resolver: Resolver,
    policy: WebhookPolicy,
    secret: str,
    clock: Clock,
) -> WebhookOutcome:
    job = existing_job(ending.job_id, jobs)
    if not job.webhook_url:
        raise InvalidWebhookUrl(f"job {ending.job_id!r} has no webhook URL")
    now = clock.now()
    target = check_webhook_url(job.webhook_url, resolver=resolver, policy=policy)
    body = json.dumps(payload(ending, job.story_id, now), separators=(",", ":")).encode()
    timestamp = int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": "storyimages-webhooks/1",
        "webhook-id": ending.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, ending.message_id, timestamp, body),
    }
    try:
        code = sender.send(WebhookRequest(target, headers, body))
        error = None if 200 <= code < 300 else f"the receiver answered {code}"
    except WebhookDeliveryFailed as exc:
        code, error = None, exc.message
    outcome = WebhookOutcome(
        event=ending.event,
        status=WebhookStatus.DELIVERED if error is None else WebhookStatus.RETRYING,
        attempts=attempt + 1,
        last_status_code=code,
        last_error=error,
        at=now,
    )
    # A newer run owns the job's webhook record: an older run's delivery does not overwrite it.
    if job.run == ending.run:
        jobs.record_webhook(ending.job_id, outcome)
    if error is not None:
        raise WebhookDeliveryFailed(error)
    return outcome


def record_webhook_failure(ending: JobEnding, error: JobError, *, jobs: JobStore, clock: Clock) -> WebhookOutcome:
    """Retries ran out (or the URL stopped being acceptable): say so on the job."""
    job = existing_job(ending.job_id, jobs)
    previous = job.webhook
    outcome = WebhookOutcome(
        event=ending.event,
        status=WebhookStatus.FAILED,
        attempts=previous.attempts if previous else 0,
        last_status_code=previous.last_status_code if previous else None,
        last_error=error.message,
        at=clock.now(),
    )
    if job.run == ending.run:
        jobs.record_webhook(ending.job_id, outcome)
    return outcome
