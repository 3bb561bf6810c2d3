"""Every handler at the log levels it is deployed and debugged at: a logging call that cannot
run at a level (a reserved LogRecord name as a key, say) breaks the answer, not just a log line.
And at each level, every line names its own function, a task's lines name their job, run and
slide, and an API function's its request (correlation id).

One scenario reaches every function: a start with a webhook the receiver refuses until the
delivery gives up, a slide the image service refuses, status polls, a retry whose webhook is
delivered, and a run whose workflow breaks."""

from __future__ import annotations

import json

import pytest

from infra.function_catalogue import function_name, function_specs
from local_stack.images_server import CONTENT_POLICY_MARKER
from storyimages.domain.jobs import execution_name
from tests.webhook_receiver import WebhookReceiver
from tests.workflow_runs import create_job_only, start_raw_execution, wait_for

# What the scenario makes handlers raise on purpose; Step Functions catches both.
EXPECTED_ERRORS = {"ImageRejected", "WebhookDeliveryFailed"}
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
# The keys every log line of a task function carries, so one job's lines are found by its id.
_RUN = {"masterJobId", "run"}
_SLIDE = _RUN | {"slideNumber"}
JOB_KEYS = {
    "QueueSlideImage": _SLIDE,
    "GenerateSlideImage": _SLIDE,
    "RecordSlideFailure": _SLIDE,
    "FinalizeJob": _RUN,
    "MarkJobFailed": _RUN,
    "DeliverWebhook": _RUN,
    "RecordWebhookFailure": _RUN,
    "EndAbandonedJob": _RUN,
}
API_FUNCTIONS = {"StartGeneration", "JobStatus", "JobControl"}


@pytest.fixture(params=["DEBUG", "INFO"])
def log_level(request, stack):  # type: ignore[no-untyped-def]
    deployed = stack.config.deployment.log_level
    stack.redeploy(log_level=request.param)
    yield request.param
    stack.redeploy(log_level=deployed)


def test_given_a_log_level_when_a_story_is_started_then_it_answers_202(
    stack, api, new_story, images, log_level
) -> None:
    response = api.start(new_story(2))

    assert response.status_code == 202, response.text


def test_given_a_log_level_when_every_function_runs_then_each_answers_and_logs_at_that_level(
    stack, api, new_story, images, log_level
) -> None:
    before = len(stack.lambdas.invocations)
    logged_before = {name: len(stack.logs(name)) for name in function_specs(stack.config.deployment)}

    # Given a story whose second slide the image service refuses, and a receiver that refuses every
    # attempt of the first run's webhook (3), then takes the next
    story = new_story(3, prompts={2: f"Juniper in scene 2 {CONTENT_POLICY_MARKER}"})
    with WebhookReceiver(answers=[500] * 3) as receiver:
        # When it is started, polled to its end, retried once its webhook gave up, and polled again
        started = api.start(story, webhookUrl=receiver.url)
        assert started.status_code == 202, started.text
        job_id = started.json()["data"]["masterJobId"]
        first = api.wait(job_id)
        gave_up = wait_for(stack, job_id, execution=f"{job_id}-notify-0", machine=stack.webhook_state_machine_arn)
        retried = api.retry(job_id)
        assert retried.status_code == 202, retried.text
        second = api.wait(job_id)
        wait_for(stack, job_id, execution=execution_name(job_id, 1))
        delivered = wait_for(stack, job_id, execution=f"{job_id}-notify-1", machine=stack.webhook_state_machine_arn)
        assert len(receiver.deliveries) == 3 + 1

    # ... and a job whose workflow breaks
    broken = create_job_only(stack, new_story(2))
    start_raw_execution(
        stack, broken, {"masterJobId": broken, "run": 0, "firstSlide": 1, "delaySeconds": 0, "maxConcurrency": 1}
    )
    assert wait_for(stack, broken).job.status.value == "failed"
    # ... whose failed execution's end reaches EndAbandonedJob (which finds the job ended already)
    assert stack.events.settled(broken, timeout=30).outcome == "handled"

    # Then every function ran, none failed but as designed, and the answers are the usual ones
    assert (first["masterJob"]["status"], second["masterJob"]["status"]) == (
        "completed_with_errors",
        "completed_with_errors",
    )
    # ... the first run's webhook given up after its attempts, the retried run's delivered
    assert gave_up.job.webhook is not None and gave_up.job.webhook.status.value == "failed"
    assert delivered.job.webhook is not None and delivered.job.webhook.status.value == "delivered"
    invocations = stack.lambdas.invocations[before:]
    ran = {invocation.function_name for invocation in invocations}
    assert ran == {function_name(name) for name in function_specs(stack.config.deployment)}
    assert {i.error_type for i in invocations if i.error_type} <= EXPECTED_ERRORS
    # ... and what they logged is JSON at the configured level or above
    records = {
        name: [json.loads(line) for line in stack.logs(name)[logged_before[name] :] if line.startswith('{"level"')]
        for name in function_specs(stack.config.deployment)
    }
    assert records["StartGeneration"] and records["RecordSlideFailure"] and records["FinalizeJob"]
    for name, logged in records.items():
        assert all(LEVELS[record["level"]] >= LEVELS[log_level] for record in logged), name
        assert not [r for r in logged if "Attempt to overwrite" in json.dumps(r)], name
        # ... each line names its own function (keys never carry over from another's)
        assert {record["function_name"] for record in logged} <= {function_name(name)}, name
        # ... every task line says which job and run it is about, and slide tasks which slide
        if name in JOB_KEYS:
            assert logged, f"{name} logged nothing: its keys went unchecked"
            missing = [r["message"] for r in logged if not JOB_KEYS[name] <= r.keys()]
            assert not missing, (name, missing)
        if name in API_FUNCTIONS:
            assert logged, f"{name} logged nothing: its correlation id went unchecked"
            assert all(r.get("correlation_id") for r in logged), name
    # ... and the retried run's task lines say run 1, with the first run's saying 0
    slide_runs = {(r["masterJobId"], r["run"]) for r in records["QueueSlideImage"]}
    assert {(job_id, 0), (job_id, 1)} <= slide_runs
