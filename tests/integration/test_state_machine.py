"""The real ASL on moto's engine, invoking our real task handlers, against the Firestore
emulator, moto S3 and the local Images API server."""

from __future__ import annotations

import hashlib
import json
import time

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from infra.function_catalogue import function_name
from local_stack.firestore_meter import FirestoreMeter
from local_stack.images_server import CONTENT_POLICY_MARKER
from local_stack.stack import BUCKET
from storyimages.adapters.firestore_jobs import FirestoreJobStore
from storyimages.adapters.stepfunctions_workflow import StepFunctionsWorkflow
from storyimages.domain.jobs import JobStatus, SlideStatus
from tests.waiting import wait_until
from tests.workflow_runs import create_job_only, run_job, start_job, start_raw_execution, wait_for

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def stored_images(stack, job_id: str) -> dict[str, bytes]:
    s3 = stack.aws.client("s3")
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="images/")
    keys = [o["Key"] for o in listing.get("Contents", []) if f"/{job_id}/" in o["Key"]]
    return {key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys}


def slide_requests(images, slide: int) -> list[dict]:
    return [r for r in images.requests() if f"Scene: Juniper in scene {slide}\n" in r["prompt"]]


def test_given_a_five_slide_story_when_the_workflow_runs_then_every_slide_gets_a_stored_png(
    stack, new_story, images
) -> None:
    story = new_story(5)

    run = run_job(stack, story)

    assert run.status == "SUCCEEDED"
    assert run.job.status is JobStatus.COMPLETED
    assert [run.job.slide(n).status for n in range(1, 6)] == [SlideStatus.COMPLETED] * 5
    stored = stored_images(stack, run.job_id)
    assert sorted(stored) == [f"images/{story}/{run.job_id}/slide-{n}.png" for n in range(1, 6)]
    assert all(data.startswith(PNG_SIGNATURE) for data in stored.values())
    assert len(run.events("MapIterationSucceeded")) == 4


def test_given_a_run_when_its_history_is_read_then_payloads_carry_ids_and_numbers_only(
    stack, new_story, images
) -> None:
    story = new_story(3)

    run = run_job(stack, story)

    payloads = [
        details.get("input") or details.get("output") or details.get("parameters") or ""
        for event in run.history
        for key, details in event.items()
        if key.endswith("EventDetails") and isinstance(details, dict)
    ]
    assert payloads, "the history should show state inputs and outputs"
    assert not [p for p in payloads if "Scene:" in p or "Juniper" in p or "base64" in p]
    assert max(len(p) for p in payloads) < 1024


def test_given_consistency_when_the_workflow_runs_then_slide_one_is_the_reference_for_slides_two_to_n(
    stack, new_story, images
) -> None:
    story = new_story(5)

    run = run_job(stack, story)

    reference = stored_images(stack, run.job_id)[f"images/{story}/{run.job_id}/slide-1.png"]
    assert run.job.reference_slide == 1
    assert [r["endpoint"] for r in slide_requests(images, 1)] == ["generations"]
    for slide in range(2, 6):
        (request,) = slide_requests(images, slide)
        assert request["endpoint"] == "edits"
        assert request["referenceSha256"] == [hashlib.sha256(reference).hexdigest()]


def test_given_consistency_off_when_the_workflow_runs_then_no_slide_gets_a_reference(stack, new_story, images) -> None:
    story = new_story(3)

    run = run_job(stack, story, consistency=False)

    assert run.job.status is JobStatus.COMPLETED
    assert {r["endpoint"] for r in images.requests()} == {"generations"}
    assert run.job.reference_image_key is None


def test_given_one_slide_the_service_always_rejects_when_the_workflow_runs_then_the_others_complete(
    stack, new_story, images
) -> None:
    story = new_story(5, prompts={3: f"Juniper in scene 3 {CONTENT_POLICY_MARKER}"})

    run = run_job(stack, story)

    assert run.status == "SUCCEEDED"
    assert run.job.status is JobStatus.COMPLETED_WITH_ERRORS
    third = run.job.slide(3)
    assert third.status is SlideStatus.FAILED
    assert third.error is not None
    assert third.error.code == "IMAGE_REJECTED"
    assert "content_policy_violation" in third.error.message
    assert sorted(stored_images(stack, run.job_id)) == [
        f"images/{story}/{run.job_id}/slide-{n}.png" for n in (1, 2, 4, 5)
    ]
    assert run.job.summary().errors == 1
    # A content-policy refusal is not retried: the same prompt would be refused again.
    assert len([r for r in images.requests() if CONTENT_POLICY_MARKER in r["prompt"]]) == 1


def test_given_a_rate_limit_when_the_workflow_runs_then_step_functions_retries_and_the_slide_completes(
    stack, new_story, images
) -> None:
    story = new_story(3)
    images.set_faults([{"kind": "rate_limit", "match": "Juniper in scene 2\n", "times": 1, "retryAfter": 1}])

    run = run_job(stack, story)

    assert run.job.status is JobStatus.COMPLETED
    assert [r["status"] for r in slide_requests(images, 2)] == [429, 200]
    failed = [e for e in run.events("TaskFailed") if "ImageRateLimited" in str(e)]
    assert len(failed) == 1  # the retry is visible in the execution history


def test_given_a_server_error_when_the_workflow_runs_then_it_is_retried_as_transient(stack, new_story, images) -> None:
    story = new_story(2)
    images.set_faults([{"kind": "server_error", "match": "Juniper in scene 1\n", "times": 1}])

    run = run_job(stack, story)

    assert run.job.status is JobStatus.COMPLETED
    assert [r["status"] for r in slide_requests(images, 1)] == [500, 200]


def test_given_the_reference_slide_fails_when_the_workflow_runs_then_the_next_success_becomes_the_reference(
    stack, new_story, images
) -> None:
    story = new_story(4, prompts={1: f"Juniper in scene 1 {CONTENT_POLICY_MARKER}"})

    run = run_job(stack, story)

    assert run.job.status is JobStatus.COMPLETED_WITH_ERRORS
    assert run.job.slide(1).status is SlideStatus.FAILED
    assert run.job.reference_slide == 2
    new_reference = stored_images(stack, run.job_id)[f"images/{story}/{run.job_id}/slide-2.png"]
    assert [r["endpoint"] for r in slide_requests(images, 2)] == ["generations"]
    for slide in (3, 4):
        (request,) = slide_requests(images, slide)
        assert request["referenceSha256"] == [hashlib.sha256(new_reference).hexdigest()]


def test_given_every_slide_fails_when_the_workflow_runs_then_the_job_and_the_execution_fail(
    stack, new_story, images
) -> None:
    marked = {n: f"Juniper in scene {n} {CONTENT_POLICY_MARKER}" for n in (1, 2)}
    story = new_story(2, prompts=marked)

    run = run_job(stack, story)

    assert run.status == "FAILED"
    assert run.job.status is JobStatus.FAILED
    assert run.job.error is not None
    assert run.job.error.code == "NO_IMAGES_GENERATED"


def test_given_the_workflow_breaks_when_it_runs_then_the_job_is_failed_and_made_images_stay(
    stack, new_story, images
) -> None:
    # Given a recorded job whose execution input lacks the slides to map over
    story = new_story(3)
    job_id = create_job_only(stack, story)

    # When its execution runs: slide 1 succeeds, then the Map state cannot read its items
    start_raw_execution(
        stack, job_id, {"masterJobId": job_id, "run": 0, "firstSlide": 1, "delaySeconds": 0, "maxConcurrency": 1}
    )
    run = wait_for(stack, job_id)

    # Then the top-level Catch marks the job failed, keeping slide 1's image
    assert run.status == "FAILED"
    assert run.job.status is JobStatus.FAILED
    assert run.job.error is not None
    assert run.job.error.code == "WORKFLOW_ERROR"
    assert run.job.slide(1).status is SlideStatus.COMPLETED
    assert [run.job.visible_slides()[n].status for n in (2, 3)] == [SlideStatus.SKIPPED, SlideStatus.SKIPPED]
    assert list(stored_images(stack, job_id)) == [f"images/{story}/{job_id}/slide-1.png"]


def test_given_the_happy_path_when_measured_then_each_slide_costs_three_commits(stack, new_story, images) -> None:
    story = new_story(4)

    with FirestoreMeter(stack.firestore) as meter:
        run = run_job(stack, story)

    per_job = meter.commits_touching(f"imageJobs/{run.job_id}")
    # create (1) + 3 per slide (queued, generating, completed) + finalize (1)
    assert len(per_job) == 1 + 3 * 4 + 1


def test_given_a_finished_job_when_its_slide_comes_through_the_queue_again_then_nothing_is_paid_for_or_written(
    stack, new_story, images
) -> None:
    # Given a completed job (as after a message delivered twice, or sent again by a retry whose
    # first attempt did succeed)
    story = new_story(2)
    run = run_job(stack, story)
    before = stored_images(stack, run.job_id)
    images.reset()
    worker = function_name("GenerateSlideImage")
    invocations = len([i for i in stack.lambdas.invocations if i.function_name == worker])

    # When slide 2 comes through the image queue again, its task long gone
    with FirestoreMeter(stack.firestore) as meter:
        stack.aws.client("sqs").send_message(
            QueueUrl=stack.image_queue_url,
            MessageBody=json.dumps({"masterJobId": run.job_id, "slideNumber": 2, "run": 0, "taskToken": "gone"}),
        )
        wait_until(
            lambda: len([i for i in stack.lambdas.invocations if i.function_name == worker]) > invocations,
            "the worker takes the message",
        )
        (invocation,) = [i for i in stack.lambdas.invocations if i.function_name == worker][invocations:]

    # Then the worker took it (and dropped it) without calling the image service or writing anything
    assert invocation.error_type is None
    assert invocation.event["Records"][0]["body"].endswith('"taskToken": "gone"}')
    assert images.requests() == []
    assert meter.commits == []
    assert stored_images(stack, run.job_id) == before
    wait_until(lambda: queue_depth(stack) == 0, "the message is deleted")  # it does not come back


def queue_depth(stack) -> int:
    attributes = stack.aws.client("sqs").get_queue_attributes(
        QueueUrl=stack.image_queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def job_when(stack, job_id: str, condition, timeout: float = 20.0):
    """The job once `condition(job)` holds, read from Firestore until the deadline."""
    store = FirestoreJobStore(lambda: stack.db)
    deadline = time.monotonic() + timeout
    while not condition(job := store.get_job(job_id)):
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} never got there; it reads {job}")
        time.sleep(0.05)
    return job


def test_given_an_input_so_broken_that_even_the_last_resort_fails_when_it_runs_then_its_end_fails_the_job(
    stack, new_story, images
) -> None:
    # Given a recorded job whose execution input has nothing but its id: every task, "Mark job
    # failed" included, fails reading its payload
    job_id = create_job_only(stack, new_story(2))

    # When the execution runs and fails
    start_raw_execution(stack, job_id, {"masterJobId": job_id})
    assert wait_for(stack, job_id).status == "FAILED"

    # Then the execution's end (EventBridge -> EndAbandonedJob) ends the job and frees its story
    job = job_when(stack, job_id, lambda job: job.status.is_terminal)
    assert job.status is JobStatus.FAILED
    assert job.error is not None and job.error.code == "WORKFLOW_FAILED"
    assert FirestoreJobStore(lambda: stack.db).current_lock(job.story_id).released
    delivery = stack.events.settled(job_id, timeout=10)
    assert delivery.outcome == "handled"
    EventBridgeModel.model_validate(delivery.event)  # the event as EventBridge shapes it


def test_given_a_running_execution_stopped_from_the_console_when_it_ends_then_the_job_reads_cancelled(
    stack, new_story, images
) -> None:
    # Given a job whose first image is being drawn: held at the Images server, so that releasing
    # it below lets the task answer at once (a request arriving after the release was held its
    # full 30 s, past the wait for the job's end, when the worker cold-started slowly)
    images.set_faults([{"kind": "slow", "seconds": 30}])
    job_id = start_job(stack, new_story(3))
    job_when(stack, job_id, lambda job: job.slide(1).status is SlideStatus.GENERATING)
    wait_until(lambda: images.holding() >= 1, "the first image held")

    # When someone stops its execution from the Step Functions console
    stack.aws.client("stepfunctions").stop_execution(
        executionArn=StepFunctionsWorkflow(stack.state_machine_arn).execution_arn(job_id), cause="by hand"
    )
    images.release_held_requests()

    # Then the job ends as cancelled rather than reading generating forever
    job = job_when(stack, job_id, lambda job: job.status.is_terminal)
    assert job.status is JobStatus.CANCELLED
    assert job.error is not None and job.error.code == "WORKFLOW_STOPPED"
