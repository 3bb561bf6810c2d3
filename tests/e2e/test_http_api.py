"""The whole local stack through HTTP, as the app uses it: start, poll, read the images."""

from __future__ import annotations

import pytest
import requests
from google.cloud.firestore_v1.base_query import FieldFilter

from local_stack.firestore_meter import FirestoreMeter
from tests.api_client import START
from tests.conftest import TEST_IMAGE_SIZE


def test_given_the_stack_when_health_is_asked_then_it_answers_200(stack) -> None:
    assert requests.get(f"{stack.url}/health", timeout=5).status_code == 200


def test_given_a_story_when_started_over_http_then_it_answers_at_once_and_completes_with_readable_images(
    stack, api, new_story, images
) -> None:
    story = new_story(3)

    started = api.start(story)

    assert started.status_code == 202
    body = started.json()
    data = body["data"]
    assert body["success"] is True
    assert data["masterJobId"].startswith(f"auto-gen-{story}-")
    assert (data["totalSlides"], data["estimatedTime"]) == (3, "3 minutes")
    assert data["message"] == "Automatic image generation started. Images will be generated sequentially."
    assert (data["alreadyRunning"], data["idempotentReplay"]) == (False, False)

    final = api.wait(data["masterJobId"])

    assert final["masterJob"]["status"] == "completed"
    assert final["summary"] == {
        "totalSlides": 3,
        "completed": 3,
        "errors": 0,
        "skipped": 0,
        "inProgress": 0,
        "queued": 0,
        "overallProgress": 100,
    }
    for slide in final["slideJobs"]:
        assert slide["jobId"] == f"{data['masterJobId']}-slide-{slide['slideNumber']}"
        assert (slide["result"]["format"], slide["result"]["size"]) == ("png", TEST_IMAGE_SIZE)
        image = requests.get(slide["result"]["imageUrl"], timeout=10)
        assert image.status_code == 200
        assert image.content.startswith(b"\x89PNG")


def test_given_options_when_started_then_the_images_follow_them(stack, api, new_story, images) -> None:
    story = new_story(2)

    job_id = api.start_job(story, size="1024x1536", quality="low", delaySeconds=0, useCharacterConsistency=False)
    final = api.wait(job_id)

    assert {s["result"]["size"] for s in final["slideJobs"]} == {"1024x1536"}
    assert {(r["size"], r["quality"]) for r in images.requests()} == {("1024x1536", "low")}
    assert {r["endpoint"] for r in images.requests()} == {"generations"}


def test_given_a_job_when_its_status_is_read_then_it_costs_one_document_read_and_no_write(
    stack, api, new_story, images
) -> None:
    job_id = api.start_job(new_story(4))
    api.wait(job_id)

    with FirestoreMeter(stack.firestore) as meter:
        assert api.status(job_id).status_code == 200

    assert meter.reads == [[f"imageJobs/{job_id}"]]
    assert meter.commits == []


def test_given_a_running_job_when_polled_then_progress_only_moves_forward(stack, api, new_story, images) -> None:
    images.set_faults([{"kind": "slow", "match": None, "times": None, "seconds": 0.2}])
    job_id = api.start_job(new_story(3))

    seen = [data["summary"]["overallProgress"] for data in api.polls(job_id)]

    assert seen == sorted(seen)
    assert seen[-1] == 100
    assert len(set(seen)) > 2  # the app saw intermediate progress


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"storyId": "no-such-story"}, 404, "STORY_NOT_FOUND"),
        ({"storyId": "has spaces"}, 422, "INVALID_REQUEST"),
        ({"storyId": "x" * 41}, 422, "INVALID_REQUEST"),
        ({}, 422, "INVALID_REQUEST"),
        ({"storyId": "abc", "useCharacterConsistency": "yes"}, 422, "INVALID_REQUEST"),
        ({"storyId": "abc", "surprise": 1}, 422, "INVALID_REQUEST"),
        ({"storyId": "abc", "delaySeconds": "2"}, 422, "INVALID_REQUEST"),
        ({"storyId": "abc", "delaySeconds": 9999}, 422, "INVALID_REQUEST"),
        ({"storyId": "abc", "delaySeconds": 61}, 422, "INVALID_OPTION"),
        ({"storyId": "abc", "size": "7x7"}, 422, "INVALID_REQUEST"),
        ({"storyId": "abc", "size": "4096x4096"}, 422, "INVALID_OPTION"),
        ({"storyId": "abc", "quality": "ultra"}, 422, "INVALID_OPTION"),
        ([], 422, "INVALID_REQUEST"),
        ("just a string", 422, "INVALID_REQUEST"),
    ],
)
def test_given_bad_start_input_when_posted_then_a_stable_error(stack, api, body, status: int, code: str) -> None:
    response = requests.post(f"{stack.url}{START}", json=body, headers=api.headers(), timeout=10)

    assert response.status_code == status
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == code


def test_given_a_wrongly_typed_field_when_posted_then_the_error_names_it(stack, api) -> None:
    response = api.start("abc", useCharacterConsistency=1)

    assert response.json()["error"]["details"][0]["field"] == "body.useCharacterConsistency"


def test_given_malformed_json_when_posted_then_400(stack, api) -> None:
    response = requests.post(
        f"{stack.url}{START}", data="{not json", headers=api.headers({"Content-Type": "application/json"}), timeout=10
    )

    assert (response.status_code, response.json()["error"]["code"]) == (400, "MALFORMED_JSON")


@pytest.mark.parametrize(
    "body",
    [
        '{"storyId": "a", "storyId": "b"}',
        '{"storyId": "abc", "delaySeconds": 0, "delaySeconds": 5}',
        '{"storyId": "abc", "nested": {"x": 1, "x": 2}}',
    ],
)
def test_given_a_body_repeating_a_key_when_posted_then_400_naming_the_key(stack, api, body: str) -> None:
    # Given a JSON body that names the same key twice in one object (JSON leaves the meaning open)

    # When it is posted to the start route
    response = requests.post(
        f"{stack.url}{START}", data=body, headers=api.headers({"Content-Type": "application/json"}), timeout=10
    )

    # Then it is refused as malformed, saying which key, before anything reads it
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (400, "MALFORMED_JSON")
    assert "more than once" in error["message"]


def test_given_a_body_repeating_a_key_when_posted_to_cancel_and_retry_then_400(stack, api) -> None:
    # Given a job id (the body is refused before the job is looked up)
    for action in ("cancel", "retry"):
        # When a body repeating a key is posted to the route
        response = requests.post(
            f"{stack.url}/api/images/master-job/auto-gen-nothing-1/{action}",
            data='{"a": 1, "a": 2}',
            headers=api.headers({"Content-Type": "application/json"}),
            timeout=10,
        )

        # Then it is refused like on the start route
        assert (response.status_code, response.json()["error"]["code"]) == (400, "MALFORMED_JSON"), action


def test_given_an_oversized_body_when_posted_then_413(stack, api) -> None:
    body = '{"storyId": "abc", "padding": "' + "x" * 20_000 + '"}'

    response = requests.post(
        f"{stack.url}{START}", data=body, headers=api.headers({"Content-Type": "application/json"}), timeout=10
    )

    assert (response.status_code, response.json()["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")


def test_given_stories_outside_the_schema_when_started_then_422_and_no_job(stack, api, new_story) -> None:
    story = new_story(1)
    stack.db.collection("stories").document(f"{story}-empty").create({"ownerId": "user-1", "slides": []})
    stack.db.collection("stories").document(f"{story}-long").create(
        {"ownerId": "user-1", "slides": [{"text": f"s{n}"} for n in range(51)]}
    )

    empty = api.start(f"{story}-empty")
    long = api.start(f"{story}-long")

    assert (empty.status_code, empty.json()["error"]["code"]) == (422, "INVALID_STORY")
    assert (long.status_code, long.json()["error"]["code"]) == (422, "TOO_MANY_SLIDES")
    for story_id in (f"{story}-empty", f"{story}-long"):
        query = stack.db.collection("imageJobs").where(filter=FieldFilter("storyId", "==", story_id))
        assert list(query.stream()) == []


def test_given_a_slide_text_stored_as_bytes_when_started_then_422_naming_it_and_no_job(stack, api, new_story) -> None:
    # Given a story whose second slide's text Firestore holds as bytes (a Blob), not a string
    story = f"{new_story(1)}-bytes"
    stack.db.collection("stories").document(story).create(
        {"ownerId": "user-1", "slides": [{"text": "A fox wakes."}, {"text": b"A fox naps."}]}
    )

    # When it is started
    response = api.start(story)

    # Then it is refused as outside the schema, naming the field, and no job is recorded
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (422, "INVALID_STORY")
    assert error["details"] == [{"field": "slides.1.text", "problem": "Input should be a valid string"}]
    query = stack.db.collection("imageJobs").where(filter=FieldFilter("storyId", "==", story))
    assert list(query.stream()) == []


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/images/master-job/auto-gen-nothing-1", 404, "JOB_NOT_FOUND"),
        ("/api/images/master-job/bad%20id", 422, "INVALID_REQUEST"),
        ("/api/images/nothing-here", 404, "ROUTE_NOT_FOUND"),
    ],
)
def test_given_bad_status_requests_when_asked_then_a_stable_error(
    stack, api, path: str, status: int, code: str
) -> None:
    response = requests.get(f"{stack.url}{path}", headers=api.headers(), timeout=10)

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


def test_given_a_known_route_when_called_with_the_wrong_method_then_404_as_api_gateway_answers(stack, api) -> None:
    # API Gateway answers a method the resource lacks with its MISSING_AUTHENTICATION_TOKEN
    # response, which the stack maps to 404 ROUTE_NOT_FOUND.
    response = requests.get(f"{stack.url}{START}", headers=api.headers(), timeout=10)

    assert (response.status_code, response.json()["error"]["code"]) == (404, "ROUTE_NOT_FOUND")


def test_given_a_body_that_is_not_json_when_posted_then_415(stack, api) -> None:
    for content_type in ("text/plain", "multipart/form-data", "application/x-www-form-urlencoded"):
        response = requests.post(
            f"{stack.url}{START}", data="storyId=abc", headers=api.headers({"Content-Type": content_type}), timeout=10
        )

        assert (response.status_code, response.json()["error"]["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")


def test_given_a_body_that_is_not_utf8_when_posted_then_400(stack, api) -> None:
    response = requests.post(
        f"{stack.url}{START}", data=b"\xfc\xff{", headers=api.headers({"Content-Type": "application/json"}), timeout=10
    )

    assert (response.status_code, response.json()["error"]["code"]) == (400, "MALFORMED_JSON")


def test_given_json_nested_past_reason_when_posted_then_400_not_a_crash(stack, api) -> None:
    body = "[" * 5000 + "]" * 5000

    response = requests.post(
        f"{stack.url}{START}", data=body, headers=api.headers({"Content-Type": "application/json"}), timeout=10
    )

    assert (response.status_code, response.json()["error"]["code"]) == (400, "MALFORMED_JSON")


@pytest.mark.parametrize("reserved", ["__story__", "__x__"])
def test_given_an_id_firestore_reserves_when_asked_then_404(stack, api, reserved: str) -> None:
    started = api.start(reserved)
    status = api.status(reserved)

    assert (started.status_code, started.json()["error"]["code"]) == (404, "STORY_NOT_FOUND")
    assert (status.status_code, status.json()["error"]["code"]) == (404, "JOB_NOT_FOUND")
