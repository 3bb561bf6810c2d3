"""Every route but /health needs a Firebase ID token; users act on their own stories and jobs only."""

from __future__ import annotations

import time

import pytest
import requests

from local_stack.identity import SigningKey
from tests.api_client import START, ApiClient


def bad_tokens(stack) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Tokens firebase-admin must refuse, each for one reason."""
    identities = stack.identities
    now = int(time.time())
    impostor = SigningKey.generate()
    impostor.key_id = identities.key.key_id  # same kid, another key: a forged signature
    header, payload, _ = identities.token("user-1").split(".")
    return {
        "expired": identities.token("user-1", iat=now - 7200, exp=now - 3600, auth_time=now - 7200),
        "wrongly signed": impostor.sign(identities.claims("user-1")),
        "unknown key": SigningKey.generate().sign(identities.claims("user-1")),
        "other project": identities.token("user-1", aud="someone-else", iss="https://securetoken.google.com/x"),
        "unsigned": header + "." + payload + ".",
        "tampered": header
        + "."
        + identities.token("user-2").split(".")[1]
        + "."
        + identities.token("user-1").split(".")[2],
        "issued in the future": identities.token("user-1", iat=now + 3600, exp=now + 7200),
        "no subject": identities.token("", sub=""),
    }


ROUTES = [
    ("POST", START, {"storyId": "abc"}),
    ("GET", "/api/images/master-job/auto-gen-abc-1", None),
    ("POST", "/api/images/master-job/auto-gen-abc-1/cancel", None),
    ("POST", "/api/images/master-job/auto-gen-abc-1/retry", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Basic dXNlcjpwdw==", "Bearer not-a-jwt", "Bearer a.b.c"]
)
def test_given_no_or_a_malformed_token_when_any_route_is_called_then_401(
    stack, method: str, path: str, body, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    response = requests.request(method, f"{stack.url}{path}", json=body, headers=headers, timeout=10)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    "reason",
    [
        "expired",
        "wrongly signed",
        "unknown key",
        "other project",
        "unsigned",
        "tampered",
        "issued in the future",
        "no subject",
    ],
)
def test_given_a_token_firebase_would_refuse_when_used_then_401(stack, new_story, reason: str) -> None:
    story = new_story(1)
    client = ApiClient(stack.url, bad_tokens(stack)[reason])

    response = client.start(story)

    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_given_a_valid_token_when_used_then_the_authorizer_result_is_cached_per_token(
    stack, api, new_story, images
) -> None:
    job_id = api.start_job(new_story(1))
    calls = stack.gateway_app.authorizer_calls

    for _ in range(3):
        assert api.status(job_id).status_code == 200

    assert stack.gateway_app.authorizer_calls == calls


def test_given_someone_elses_story_when_started_then_404_as_if_it_did_not_exist(stack, stranger, new_story) -> None:
    story = new_story(1)

    response = stranger.start(story)
    missing = stranger.start("no-such-story-at-all")

    assert (response.status_code, response.json()["error"]["code"]) == (404, "STORY_NOT_FOUND")
    assert response.json()["error"]["message"] == f"story {story!r} does not exist"
    assert missing.json()["error"]["message"] == "story 'no-such-story-at-all' does not exist"


def test_given_someone_elses_job_when_read_cancelled_or_retried_then_404_and_nothing_changes(
    stack, api, stranger, new_story, images
) -> None:
    images.set_faults([{"kind": "slow", "match": None, "times": None, "seconds": 0.3}])
    job_id = api.start_job(new_story(3))

    for response in (stranger.status(job_id), stranger.cancel(job_id), stranger.retry(job_id)):
        assert (response.status_code, response.json()["error"]["code"]) == (404, "JOB_NOT_FOUND")

    assert api.wait(job_id)["masterJob"]["status"] == "completed"


def test_given_health_when_asked_without_a_token_then_it_answers(stack) -> None:
    assert requests.get(f"{stack.url}/health", timeout=5).status_code == 200
