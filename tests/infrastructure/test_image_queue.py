"""The image queue, read from the synthesized template: every story's slides wait there, the
image worker takes them at most `imageConcurrency` at a time and answers the waiting tasks."""

from __future__ import annotations

import pytest

from infra import image_queue as settings
from infra.config import StackConfig
from statemachine import definition
from tests.infrastructure.conftest import TEST_CONFIG, synthesize
from tests.infrastructure.template_reading import (
    actions_of,
    function,
    image_queue,
    resources,
    role_actions,
    state_machine,
    state_machine_statements,
)

ANSWER_TASKS = {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}


def test_the_worker_takes_one_slide_at_a_time_at_most_image_concurrency_at_once(template) -> None:
    (mapping,) = resources(template, "AWS::Lambda::EventSourceMapping").values()
    properties = mapping["Properties"]

    assert properties["EventSourceArn"] == {"Fn::GetAtt": [image_queue(template)[0], "Arn"]}
    assert properties["FunctionName"] == {"Ref": function(template, "GenerateSlideImage")[0]}
    assert properties["BatchSize"] == settings.BATCH_SIZE == 1
    assert properties["ScalingConfig"] == {"MaximumConcurrency": TEST_CONFIG["imageConcurrency"]}
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_queue_is_encrypted_outlasts_its_worker_and_dead_letters_what_keeps_failing(template) -> None:
    _, queue = image_queue(template)
    properties = queue["Properties"]
    timeout = function(template, "GenerateSlideImage")[1]["Properties"]["Timeout"]

    assert properties["SqsManagedSseEnabled"] is True
    assert properties["VisibilityTimeout"] == 6 * timeout
    assert properties["MessageRetentionPeriod"] == settings.RETENTION_SECONDS
    # A slide's task gives up before its message could expire.
    assert definition.RETRY_DEFAULTS["ImageQueueTimeoutSeconds"] < settings.RETENTION_SECONDS
    redrive = properties["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == settings.MAX_RECEIVE_COUNT
    dead_letters_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
    dead_letters = resources(template, "AWS::SQS::Queue")[dead_letters_id]["Properties"]
    assert dead_letters["SqsManagedSseEnabled"] is True
    assert dead_letters["MessageRetentionPeriod"] == settings.DEAD_LETTER_RETENTION_SECONDS
    # Only the image queue may use it, so a redrive takes its messages back there.
    assert dead_letters["RedriveAllowPolicy"]["redrivePermission"] == "byQueue"
    (source,) = dead_letters["RedriveAllowPolicy"]["sourceQueueArns"]
    assert source["Fn::Join"][1][-1] == f":{properties['QueueName']}"


def test_both_queues_refuse_requests_without_tls(template) -> None:
    queue_id, queue = image_queue(template)
    dead_letters_id = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    denied = set()
    for policy in resources(template, "AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}:
                denied |= {q["Ref"] for q in policy["Properties"]["Queues"]}

    assert {queue_id, dead_letters_id} <= denied


def test_the_image_workflow_sends_slides_to_the_image_queue_and_to_no_other(template) -> None:
    queue_id, _ = image_queue(template)

    sqs = [
        s for s in state_machine_statements(template, "-image-generation") if any("sqs:" in a for a in actions_of(s))
    ]

    assert sqs
    assert "sqs:SendMessage" in set().union(*(actions_of(s) for s in sqs))
    assert all(s["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]} for s in sqs)
    assert all(a.startswith("sqs:") and "Delete" not in a and "Receive" not in a for s in sqs for a in actions_of(s))
    webhook = state_machine_statements(template, "-webhook-delivery")
    assert not [a for s in webhook for a in actions_of(s) if a.startswith("sqs:")]


def test_the_image_workflow_no_longer_invokes_the_worker(template) -> None:
    invoked = [
        target
        for s in state_machine_statements(template, "-image-generation")
        if "lambda:InvokeFunction" in actions_of(s)
        for target in s["Resource"]
    ]

    assert {"Fn::GetAtt": [function(template, "QueueSlideImage")[0], "Arn"]} in invoked
    assert {"Fn::GetAtt": [function(template, "GenerateSlideImage")[0], "Arn"]} not in invoked


def test_the_template_fills_every_placeholder_of_both_definitions_the_queue_url_with_the_queues(template) -> None:
    queue_id, _ = image_queue(template)
    for suffix in ("-image-generation", "-webhook-delivery"):
        properties = state_machine(template, suffix)["Properties"]
        substitutions = properties.get("DefinitionSubstitutions", {})

        rendered = properties["DefinitionString"]
        for placeholder in substitutions:
            rendered = rendered.replace(f"${{{placeholder}}}", "<filled>")

        assert "${" not in rendered, suffix
    image = state_machine(template, "-image-generation")["Properties"]
    assert image["DefinitionSubstitutions"][definition.IMAGE_QUEUE_URL] == {"Ref": queue_id}


def test_only_the_worker_answers_waiting_tasks_and_only_the_image_workflows(template) -> None:
    machine_id = next(
        logical_id
        for logical_id, r in resources(template, "AWS::StepFunctions::StateMachine").items()
        if r["Properties"]["StateMachineName"].endswith("-image-generation")
    )
    answering = {
        name
        for name in (
            r["Properties"]["Description"].removeprefix("storyimages ")
            for r in resources(template, "AWS::Lambda::Function").values()
        )
        if role_actions(template, name) & ANSWER_TASKS
    }

    assert answering == {"GenerateSlideImage"}
    assert role_actions(template, "GenerateSlideImage") >= ANSWER_TASKS
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if actions_of(statement) & ANSWER_TASKS:
                assert statement["Resource"] == {"Ref": machine_id}


def test_alarms_watch_the_oldest_slide_waiting_and_the_image_dead_letters(template) -> None:
    queue_id, queue = image_queue(template)
    dead_letters_id = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]

    def on(queue_logical_id: str, metric: str) -> list[dict]:
        return [
            a
            for a in alarms
            if a.get("MetricName") == metric
            and a["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_logical_id, "QueueName"]}}]
        ]

    (oldest,) = on(queue_id, "ApproximateAgeOfOldestMessage")
    assert (oldest["Statistic"], oldest["Threshold"]) == ("Maximum", settings.OLDEST_MESSAGE_ALARM_SECONDS)
    assert oldest["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    (dead,) = on(dead_letters_id, "ApproximateNumberOfMessagesVisible")
    assert dead["Threshold"] == 1
    assert oldest["AlarmActions"] and dead["AlarmActions"]
    (worker_throttles,) = [
        a
        for a in alarms
        if a.get("MetricName") == "Throttles"
        and a["Dimensions"][0]["Value"] == {"Ref": function(template, "GenerateSlideImage")[0]}
    ]
    assert (worker_throttles["Threshold"], worker_throttles["EvaluationPeriods"]) == (10, 3)


def test_the_dashboard_shows_the_image_queue(template) -> None:
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    text = body if isinstance(body, str) else "".join(p for p in body["Fn::Join"][1] if isinstance(p, str))

    for metric in (
        "ApproximateNumberOfMessagesVisible",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateAgeOfOldestMessage",
    ):
        assert metric in text


def test_given_no_reservation_when_synthesized_then_the_worker_reserves_nothing_and_the_queue_still_caps_it() -> None:
    _, template = synthesize({**TEST_CONFIG, "reserveImageConcurrency": False})

    assert "ReservedConcurrentExecutions" not in function(template, "GenerateSlideImage")[1]["Properties"]
    (mapping,) = resources(template, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": TEST_CONFIG["imageConcurrency"]}


@pytest.mark.parametrize("concurrency", [1, 1001])
def test_given_an_image_concurrency_the_event_source_cannot_take_when_configured_then_it_is_refused(
    concurrency: int,
) -> None:
    with pytest.raises(SystemExit, match="imageConcurrency"):
        StackConfig.from_context({**TEST_CONFIG, "imageConcurrency": concurrency})
