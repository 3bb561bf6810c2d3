"""The image API as the CLI calls it: URLs, the token, the answers' envelope, retries after connection failures.

Every failure reaches the caller as one ApiError: the API's own `{"success": false, "error": {...}}`,
an answer that is not the API's (a proxy's HTML, an empty 502), or the network (`NETWORK_ERROR`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import requests

USER_AGENT = "storyimages-cli/0.1.0"
# API Gateway cuts an integration at 29 s; waiting a little longer lets its own 504 arrive instead of ours.
REQUEST_TIMEOUT_SECONDS = 35.0
# Three attempts in all for a request that is safe to resend, with these pauses between them.
PAUSES_BETWEEN_ATTEMPTS_SECONDS = (1.0, 2.0)

START_PATH = "api/images/generate-all-automatically"

NETWORK_ERROR = "NETWORK_ERROR"
UNEXPECTED_ANSWER = "UNEXPECTED_ANSWER"
# Answers that say "not now" rather than "no": a later poll may well succeed.
_TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})


class ApiError(Exception):
    """The API refused (its code), answered something that is not the API's, or could not be reached."""

    def __init__(self, status: int | None, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    @property
    def transient(self) -> bool:
        """Whether asking again later may succeed (network failures, throttles, gateways, an unavailable store)."""
        return self.status is None or self.status in _TRANSIENT_STATUSES


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    text: str


class ConnectionFailed(Exception):
    """No answer arrived; the request may or may not have reached the API."""


class Transport(Protocol):
    def send(self, request: HttpRequest, timeout: float) -> HttpAnswer:
        """The answer, or ConnectionFailed."""
        ...


class RequestsTransport:
    """HTTP through a requests session (one connection pool for every poll of a watch)."""

    def __init__(self, session: requests.Session | None = None) -> None:
        self._session = session or requests.Session()

    def send(self, request: HttpRequest, timeout: float) -> HttpAnswer:
        try:
            response = self._session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                json=None if request.body is None else dict(request.body),
                timeout=timeout,
            )
        except requests.RequestException as exc:
            raise ConnectionFailed(f"{request.method} {request.url}: {exc}") from exc
        return HttpAnswer(response.status_code, response.text)


def endpoint_url(base_url: str, path: str) -> str:
    """`path` under `base_url`, which may carry a stage (`https://…/dev/`, `https://…/dev`) or be a bare host.

    Not urljoin: it would drop the stage of a base without a trailing slash.
    """
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def job_path(job_id: str, action: str | None = None) -> str:
    # Quoted whole so that an id can never step out of its path segment ("../", "?", "#").
    path = f"api/images/master-job/{quote(job_id, safe='')}"
    return path if action is None else f"{path}/{action}"


@dataclass(frozen=True)
class StartOptions:
    """A start request; None leaves a field to the deployment's default."""

    story_id: str
    use_character_consistency: bool | None = None
    delay_seconds: int | None = None
    size: str | None = None
    quality: str | None = None
    webhook_url: str | None = None

    def body(self) -> dict[str, Any]:
        fields = {
            "storyId": self.story_id,
            "useCharacterConsistency": self.use_character_consistency,
            "delaySeconds": self.delay_seconds,
            "size": self.size,
            "quality": self.quality,
            "webhookUrl": self.webhook_url,
        }
        return {name: value for name, value in fields.items() if value is not None}


class ApiClient:
    """One user (their Firebase ID token) against one deployment (its base URL)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        transport: Transport,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._base_url = base_url
        self._token = token
        self._transport = transport
        self._sleep = sleep

    def start(self, options: StartOptions, idempotency_key: str) -> dict[str, Any]:
        """The start answer's data. Safe to resend: the same key makes the API answer the first request's job."""
        return self._call(
            "POST", START_PATH, body=options.body(), headers={"Idempotency-Key": idempotency_key}, resend=True
        )

    def status(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", job_path(job_id), resend=True)

    def cancel(self, job_id: str) -> dict[str, Any]:
        # A repeated cancel answers the same cancelled job.
        return self._call("POST", job_path(job_id, "cancel"), resend=True)

    def retry(self, job_id: str) -> dict[str, Any]:
        # Never resent: had the first one started a run, the resend would answer 409 JOB_STILL_RUNNING and hide it.
        return self._call("POST", job_path(job_id, "retry"), resend=False)

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        resend: bool,
    ) -> dict[str, Any]:
        request = HttpRequest(
            method,
            endpoint_url(self._base_url, path),
            {
                "Authorization": f"Bearer {self._token}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
                **(headers or {}),
            },
            body,
        )
        pauses = PAUSES_BETWEEN_ATTEMPTS_SECONDS if resend else ()
        for pause in (*pauses, None):
            try:
                answer = self._transport.send(request, REQUEST_TIMEOUT_SECONDS)
            except ConnectionFailed as exc:
                if pause is None:
                    unsure = "" if resend else " (it may have reached the API: the job's status tells)"
                    raise ApiError(None, NETWORK_ERROR, f"{exc}{unsure}") from exc
                self._sleep(pause)
                continue
            return data_of(answer)
        raise AssertionError("unreachable: the last attempt returns or raises")


def data_of(answer: HttpAnswer) -> dict[str, Any]:
    """The `data` of a successful answer; ApiError for anything else."""
    try:
        document = json.loads(answer.text)
    except ValueError:
        document = None
    if isinstance(document, dict):
        data = document.get("data")
        if 200 <= answer.status < 300 and document.get("success") is True and isinstance(data, dict):
            return data
        error = document.get("error")
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            raise ApiError(answer.status, error["code"], str(error.get("message", "")), error.get("details"))
    snippet = " ".join(answer.text.split())[:200] or "(empty body)"
    raise ApiError(answer.status, UNEXPECTED_ANSWER, f"HTTP {answer.status} that is not the API's answer: {snippet}")
