"""Cancel a running job; retry the slides that have no image."""

from __future__ import annotations

import hashlib

from local_stack.stack import BUCKET
from tests.waiting import wait_until
from tests.workflow_runs import wait_for


def image_queue_drained(stack) -> bool:  # type: ignore[no-untyped-def]
    """No slide waits in the image queue and none is being worked on (taken, not yet deleted)."""
    attributes = stack.aws.client("sqs").get_queue_attributes(
        QueueUrl=stack.image_queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_given_a_running_job_when_cancelled_then_it_stops_and_made_images_stay(stack, api, new_story, images) -> None:
    images.set_faults([{"kind": "slow", "match": None, "times": None, "seconds": 0.4}])
    job_id = api.start_job(new_story(5))
    wait_until(lambda: api.status(job_id).json()["data"]["summary"]["completed"] >= 2, "two slides drawn", 60)

    response = api.cancel(job_id)

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["masterJob"]["status"] == "cancelled"
    # AWS reports ABORTED; moto's engine, stopped inside a Map, ends the execution FAILED.
    assert wait_for(stack, job_id).status in {"ABORTED", "FAILED"}
    # an image that was being drawn when the cancel came may still land: wait for the worker to let go
    wait_until(lambda: image_queue_drained(stack), "the image worker done with what it had taken", 60)
    final = api.status(job_id).json()["data"]
    assert final["masterJob"]["status"] == "cancelled"
    summary = final["summary"]
    assert summary["completed"] >= 2
    assert summary["inProgress"] == 0
    assert summary["completed"] + summary["skipped"] == 5
    for slide in final["slideJobs"]:
        assert (slide["status"] == "completed") == (slide["result"] is not None)
    again = api.cancel(job_id)
    assert (again.status_code, again.json()["data"]["masterJob"]["status"]) == (200, "cancelled")


def test_given_a_finished_job_when_cancelled_then_409(stack, api, new_story, images) -> None:
    job_id = api.start_job(new_story(1))
    api.wait(job_id)

    response = api.cancel(job_id)

    assert (response.status_code, response.json()["error"]["code"]) == (409, "JOB_ALREADY_FINISHED")


def test_given_failed_slides_when_retried_then_only_they_run_again_with_the_stored_reference(
    stack, api, new_story, images
) -> None:
    story = new_story(4)
    images.set_faults(
        [
            {"kind": "reject", "match": "Juniper in scene 2\n", "times": 1},
            {"kind": "reject", "match": "Juniper in scene 4\n", "times": 1},
        ]
    )
    job_id = api.start_job(story)
    first = api.wait(job_id)
    assert first["masterJob"]["status"] == "completed_with_errors"
    assert first["summary"]["errors"] == 2
    images.reset()

    response = api.retry(job_id)

    assert response.status_code == 202
    assert response.json()["data"]["masterJob"]["status"] == "generating"
    assert response.json()["data"]["masterJob"]["run"] == 1
    seen = []
    for data in api.polls(job_id):
        summary = data["summary"]
        seen.append(summary)
        assert summary["completed"] + summary["errors"] + summary["skipped"] + summary["inProgress"] == 4
    assert data["masterJob"]["status"] == "completed"
    assert [s["completed"] for s in seen] == sorted(s["completed"] for s in seen)
    assert wait_for(stack, job_id, execution=f"{job_id}-retry-1").status == "SUCCEEDED"
    reference = stack.aws.client("s3").get_object(Bucket=BUCKET, Key=f"images/{story}/{job_id}/slide-1.png")
    reference_sha = hashlib.sha256(reference["Body"].read()).hexdigest()
    assert sorted(r["prompt"].split("Scene: ")[1].split("\n")[0] for r in images.requests()) == [
        "Juniper in scene 2",
        "Juniper in scene 4",
    ]
    assert {tuple(r["referenceSha256"]) for r in images.requests()} == {(reference_sha,)}


def test_given_a_running_or_complete_job_when_retried_then_409(stack, api, new_story, images) -> None:
    images.set_faults([{"kind": "slow", "match": None, "times": None, "seconds": 0.3}])
    job_id = api.start_job(new_story(2))

    running = api.retry(job_id)
    api.wait(job_id)
    done = api.retry(job_id)

    assert (running.status_code, running.json()["error"]["code"]) == (409, "JOB_STILL_RUNNING")
    assert (done.status_code, done.json()["error"]["code"]) == (409, "NOTHING_TO_RETRY")
