"""The whole local stack through HTTP, as the app uses it: start, poll, read the images."""

from __future__ import annotations

import time

import pytest
import requests
from google.cloud.firestore_v1.base_query import FieldFilter

from local_stack.firestore_meter import FirestoreMeter

START = "/api/images/generate-all-automatically"


def status_of(stack, job_id: str) -> requests.Response:
    return requests.get(f"{stack.url}/api/images/master-job/{job_id}", timeout=10)


def poll_until_finished(stack, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = status_of(stack, job_id).json()
        if body["data"]["masterJob"]["status"] not in {"pending", "generating"}:
            return body
        time.sleep(0.1)
    raise TimeoutError(job_id)


def test_given_the_stack_when_health_is_asked_then_it_answers_200(stack) -> None:
    assert requests.get(f"{stack.url}/health", timeout=5).status_code == 200


def test_given_a_story_when_started_over_http_then_it_answers_at_once_and_completes_with_readable_images(
    stack, new_story, images
) -> None:
    story = new_story(3)

    started = requests.post(f"{stack.url}{START}", json={"storyId": story}, timeout=10)

    assert started.status_code == 202
    data = started.json()["data"]
    assert started.json()["success"] is True
    assert data["masterJobId"].startswith(f"auto-gen-{story}-")
    assert data["totalSlides"] == 3
    assert data["message"] == "Automatic image generation started. Images will be generated sequentially."
    assert data["estimatedTime"] == "3 minutes"

    final = poll_until_finished(stack, data["masterJobId"])

    assert final["data"]["masterJob"]["status"] == "completed"
    assert final["data"]["summary"] == {
        "totalSlides": 3,
        "completed": 3,
        "errors": 0,
        "skipped": 0,
        "inProgress": 0,
        "overallProgress": 100,
    }
    for slide in final["data"]["slideJobs"]:
        assert slide["jobId"] == f"{data['masterJobId']}-slide-{slide['slideNumber']}"
        assert slide["result"]["format"] == "png"
        assert slide["result"]["size"] == "256x256"
        image = requests.get(slide["result"]["imageUrl"], timeout=10)
        assert image.status_code == 200
        assert image.content.startswith(b"\x89PNG")


def test_given_a_job_when_its_status_is_read_then_it_costs_one_document_read_and_no_write(
    stack, new_story, images
) -> None:
    story = new_story(4)
    job_id = requests.post(f"{stack.url}{START}", json={"storyId": story}, timeout=10).json()["data"]["masterJobId"]
    poll_until_finished(stack, job_id)

    with FirestoreMeter() as meter:
        assert status_of(stack, job_id).status_code == 200

    assert meter.reads == [[f"imageJobs/{job_id}"]]
    assert meter.commits == []


def test_given_a_running_job_when_polled_then_progress_only_moves_forward(stack, new_story, images) -> None:
    story = new_story(3)
    images.set_faults([{"kind": "slow", "match": None, "times": None, "seconds": 0.2}])
    job_id = requests.post(f"{stack.url}{START}", json={"storyId": story}, timeout=10).json()["data"]["masterJobId"]

    seen = []
    while True:
        body = status_of(stack, job_id).json()["data"]
        seen.append(body["summary"]["overallProgress"])
        if body["masterJob"]["status"] not in {"pending", "generating"}:
            break
        time.sleep(0.05)

    assert seen == sorted(seen)
    assert seen[-1] == 100
    assert len(set(seen)) > 2  # the app saw intermediate progress


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"storyId": "no-such-story"}, 404, "STORY_NOT_FOUND"),
        ({"storyId": "has spaces"}, 422, "INVALID_REQUEST"),
        ({"storyId": "x" * 58}, 422, "INVALID_REQUEST"),
        ({}, 422, "INVALID_REQUEST"),
        ({"storyId": "abc", "useCharacterConsistency": "yes"}, 422, "INVALID_REQUEST"),
        ({"storyId": "abc", "surprise": 1}, 422, "INVALID_REQUEST"),
        ([], 422, "INVALID_REQUEST"),
    ],
)
def test_given_bad_start_input_when_posted_then_a_stable_error(stack, body, status: int, code: str) -> None:
    response = requests.post(f"{stack.url}{START}", json=body, timeout=10)

    assert response.status_code == status
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == code


def test_given_a_wrongly_typed_field_when_posted_then_the_error_names_it(stack) -> None:
    response = requests.post(f"{stack.url}{START}", json={"storyId": "abc", "useCharacterConsistency": 1}, timeout=10)

    assert response.json()["error"]["details"][0]["field"] == "body.useCharacterConsistency"


def test_given_malformed_json_when_posted_then_400(stack) -> None:
    response = requests.post(
        f"{stack.url}{START}", data="{not json", headers={"Content-Type": "application/json"}, timeout=10
    )

    assert (response.status_code, response.json()["error"]["code"]) == (400, "MALFORMED_JSON")


def test_given_stories_outside_the_schema_when_started_then_422_and_no_job(stack, new_story) -> None:
    story = new_story(1)
    stack.db.collection("stories").document(f"{story}-empty").create({"ownerId": "u", "slides": []})
    stack.db.collection("stories").document(f"{story}-long").create(
        {"ownerId": "u", "slides": [{"text": f"s{n}"} for n in range(51)]}
    )

    empty = requests.post(f"{stack.url}{START}", json={"storyId": f"{story}-empty"}, timeout=10)
    long = requests.post(f"{stack.url}{START}", json={"storyId": f"{story}-long"}, timeout=10)

    assert (empty.status_code, empty.json()["error"]["code"]) == (422, "INVALID_STORY")
    assert (long.status_code, long.json()["error"]["code"]) == (422, "TOO_MANY_SLIDES")
    for story_id in (f"{story}-empty", f"{story}-long"):
        query = stack.db.collection("imageJobs").where(filter=FieldFilter("storyId", "==", story_id))
        assert list(query.stream()) == []


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/images/master-job/auto-gen-nothing-1", 404, "JOB_NOT_FOUND"),
        ("/api/images/master-job/bad%20id", 422, "INVALID_REQUEST"),
        ("/api/images/nothing-here", 404, "ROUTE_NOT_FOUND"),
    ],
)
def test_given_bad_status_requests_when_asked_then_a_stable_error(stack, path: str, status: int, code: str) -> None:
    response = requests.get(f"{stack.url}{path}", timeout=10)

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


def test_given_a_known_route_when_called_with_the_wrong_method_then_405(stack) -> None:
    response = requests.get(f"{stack.url}{START}", timeout=10)

    assert (response.status_code, response.json()["error"]["code"]) == (405, "METHOD_NOT_ALLOWED")
