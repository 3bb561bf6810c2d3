"""docs/openapi.json against the local gateway, checked by schemathesis.

Generated requests: no 5xx, every answer fits the document (status code, content type, headers,
body schema), and requests that break the schema are refused. Random job and story ids find
nothing, so those answers are the 404s and 422s.

Real ids: every operation is also called on real jobs (running, completed with its webhook
delivered, completed with a failed slide, failed, cancelled) and on real stories, so that the
success answers (200, 202) and the 409s of each state are checked against the document too.

Not checked: that every schema-valid request is accepted. Whether a story exists and is yours,
whether a webhook host resolves to a public address, and the deployment's allowed sizes are
rules the schema cannot state; they answer with the documented 404 and 422."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks

from storyimages.api.routes import ROUTES
from tests.api_client import ApiClient
from tests.waiting import wait_until
from tests.webhook_receiver import WebhookReceiver

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
schema = schemathesis.openapi.from_path(SPEC)

# What every answer to a real id must satisfy. ignored_auth runs on 2xx answers only: it sends
# the request again without the token, and with a wrong one, and expects a refusal.
CONFORMANCE = [
    not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.ignored_auth,
]
CONTENT_POLICY = "[content-policy-violation]"


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_given_generated_requests_when_sent_then_no_server_error_and_every_answer_fits_the_spec(
    case, stack, images
) -> None:
    case.call_and_validate(
        base_url=stack.url,
        headers={"Authorization": f"Bearer {stack.token('user-1')}"},
        # API Gateway answers a method a resource lacks with its MISSING_AUTHENTICATION_TOKEN
        # response (404 ROUTE_NOT_FOUND here), not 405; the local gateway answers as it does.
        excluded_checks=[checks.positive_data_acceptance, checks.unsupported_method],
    )


@dataclass(frozen=True)
class Job:
    story_id: str
    job_id: str


@dataclass(frozen=True)
class RealJobs:
    """user-1's jobs, one in each state the API distinguishes."""

    running: Job
    completed: Job
    with_failed_slide: Job
    failed: Job
    cancelled: Job

    def by_state(self) -> dict[str, Job]:
        return {
            "running": self.running,
            "completed": self.completed,
            "completed_with_errors": self.with_failed_slide,
            "failed": self.failed,
            "cancelled": self.cancelled,
        }


@pytest.fixture
def real_jobs(api: ApiClient, new_story, images) -> Iterator[RealJobs]:  # type: ignore[no-untyped-def]
    hold = f"held-{uuid.uuid4().hex[:8]}"
    # Held until the test ends (the images fixture then lets it go): the job stays generating.
    images.set_faults([{"kind": "slow", "match": hold, "times": None, "seconds": 600}])
    with WebhookReceiver() as receiver:

        def start(slides: int, prompts: dict[int, str] | None = None, **fields: Any) -> Job:
            story_id = new_story(slides, prompts=prompts)
            return Job(story_id, api.start_job(story_id, **fields))

        running = start(2, {1: f"Juniper waits ({hold})"})
        cancelled = start(2, {1: f"Juniper waits too ({hold})"})
        completed = start(2, webhookUrl=receiver.url)
        with_failed_slide = start(2, {2: f"Juniper in scene 2 {CONTENT_POLICY}"})
        failed = start(1, {1: f"Juniper alone {CONTENT_POLICY}"})
        wait_until(lambda: images.holding() >= 2, "both held jobs generating their first slide")
        assert api.cancel(cancelled.job_id).status_code == 200
        for job, ending in ((completed, "completed"), (with_failed_slide, "completed_with_errors"), (failed, "failed")):
            assert api.wait(job.job_id)["masterJob"]["status"] == ending
        wait_until(lambda: _webhook(api, completed) == "delivered", "the completed job's webhook delivered")
        yield RealJobs(running, completed, with_failed_slide, failed, cancelled)


def _webhook(api: ApiClient, job: Job) -> str | None:
    webhook = api.status(job.job_id).json()["data"]["masterJob"]["webhook"]
    return None if webhook is None else str(webhook["status"])


# What each operation answers on each state, as the README's routes and errors say; the check
# that matters is that schemathesis finds each answer documented, with a body that fits.
EXPECTED = {
    "GET /api/images/master-job/{masterJobId}": dict.fromkeys(
        ("running", "completed", "completed_with_errors", "failed", "cancelled"), 200
    ),
    "POST /api/images/master-job/{masterJobId}/cancel": {
        "running": 200,
        "completed": 409,
        "completed_with_errors": 409,
        "failed": 409,
        "cancelled": 200,
    },
    "POST /api/images/master-job/{masterJobId}/retry": {
        "running": 409,
        "completed": 409,
        "completed_with_errors": 202,
        "failed": 202,
        "cancelled": 202,
    },
}
START = next(route for route in ROUTES if "{" not in route.resource)


def test_given_the_routes_then_every_job_operation_is_called_on_real_jobs() -> None:
    job_operations = {f"{route.method} {route.resource}" for route in ROUTES if route is not START}
    assert set(EXPECTED) == job_operations


@pytest.mark.parametrize("operation_name", list(EXPECTED))
def test_given_jobs_in_every_state_when_an_operation_is_called_on_them_then_each_answer_is_documented_and_fits(
    stack, api: ApiClient, real_jobs: RealJobs, operation_name: str
) -> None:
    method, path = operation_name.split(" ")
    operation = schema[path][method]
    answered = {}
    for state, job in real_jobs.by_state().items():
        case = operation.Case(path_parameters={"masterJobId": job.job_id})

        response = case.call_and_validate(base_url=stack.url, headers=api.headers(), checks=CONFORMANCE)

        answered[state] = response.status_code
    assert answered == EXPECTED[operation_name]


def test_given_real_stories_when_started_then_each_answer_is_documented_and_fits(
    stack, api: ApiClient, real_jobs: RealJobs, new_story
) -> None:
    operation = schema[START.resource][START.method]
    key = f"key-{uuid.uuid4().hex}"
    fresh = new_story(1)
    requests = {
        "the running job's story": ({"storyId": real_jobs.running.story_id}, {}),
        "a finished job's story": ({"storyId": real_jobs.completed.story_id}, {}),
        "a new story with a key": ({"storyId": fresh, "useCharacterConsistency": False}, {"Idempotency-Key": key}),
        "the same again": ({"storyId": fresh, "useCharacterConsistency": False}, {"Idempotency-Key": key}),
    }
    answered = {}
    for name, (body, headers) in requests.items():
        case = operation.Case(body=body, media_type="application/json", headers=headers)

        response = case.call_and_validate(base_url=stack.url, headers=api.headers(), checks=CONFORMANCE)

        data = response.json()["data"]
        answered[name] = (response.status_code, data["alreadyRunning"] or data["idempotentReplay"])
    assert answered == {
        "the running job's story": (200, True),  # alreadyRunning
        "a finished job's story": (202, False),
        "a new story with a key": (202, False),
        "the same again": (200, True),  # idempotentReplay
    }
