"""Business metrics as CloudWatch reads them: a handler runs in this process with its function's
environment (the template's POWERTOOLS_* variables) and fakes for its ports, and its standard
output, where Lambda sends it to CloudWatch Logs, is read back as embedded metric format."""

from __future__ import annotations

import importlib
import json
import uuid
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from storyimages.business_metrics import NAMESPACE, Metric
from storyimages.domain.errors import ImageRateLimited
from storyimages.domain.start_generation import GenerationConfig
from tests.job_world import World
from tools.handler_environment import lambda_environment

SERVICE = "storyimages"


@dataclass
class Context:
    """The attributes Powertools reads from Lambda's context object."""

    function_name: str
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:storyimages-test"
    function_version: str = "$LATEST"
    log_stream_name: str = "stream"


# What a dimension may be: a few values each, never an id.
LOW_CARDINALITY = {"service", "function_name", "status", "errorCode", "outcome"}


def only_low_cardinality_dimensions(documents: list[dict[str, Any]]) -> bool:
    return all(
        set(dimension_set) <= LOW_CARDINALITY
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for dimension_set in directive["Dimensions"]
    )


def emf_lines(output: str) -> list[dict[str, Any]]:
    """The embedded-metric-format documents among a function's output lines."""
    documents = []
    for line in output.splitlines():
        if line.startswith("{"):
            document = json.loads(line)
            if "_aws" in document:
                documents.append(document)
    return documents


def published(documents: list[dict[str, Any]], name: str) -> list[tuple[list[list[str]], str, Any, dict[str, Any]]]:
    """(dimension sets, unit, values, document) of each publication of metric `name`."""
    found = []
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == NAMESPACE
            for metric in directive["Metrics"]:
                if metric["Name"] == name:
                    found.append((directive["Dimensions"], metric["Unit"], document[name], document))
    return found


@pytest.fixture
def handler_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Import a handler with its function's environment, as a cold start would."""

    def load(name: str) -> ModuleType:
        for key, value in lambda_environment(name).items():
            monkeypatch.setenv(key, value)
        return importlib.import_module(f"storyimages.handlers.{name}")

    return load


def sqs_event(*bodies: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1796650000000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:storyimages-images",
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


def use_world(monkeypatch: pytest.MonkeyPatch, module: ModuleType, world: World) -> None:
    """The handler's ports are the world's fakes (its module builds real adapters at import)."""
    for port, fake in {
        "jobs": world.jobs,
        "storage": world.storage,
        "images": world.images,
        "tasks": world.tasks,
    }.items():
        if hasattr(module, port):
            monkeypatch.setattr(module, port, fake)


def test_given_queued_slides_when_the_image_worker_makes_them_then_it_publishes_completions_and_time_queued(
    config: GenerationConfig,
    handler_module: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given two slides of a job waiting in the image queue (the fake clock moves 1 s per reading)
    world = World(config, slides=2)
    world.queue(1)
    world.queue(2)
    worker = handler_module("generate_slide_image")
    use_world(monkeypatch, worker, world)
    capsys.readouterr()

    # When one batch brings both to the worker
    messages = [{"masterJobId": world.job_id, "slideNumber": n, "run": 0, "taskToken": f"token-{n}"} for n in (1, 2)]
    answer = worker.handler(sqs_event(*messages), Context("storyimages-generate-slide-image"))

    # Then both are made, and its EMF output holds each measure once per slide, by service only
    assert answer == {"batchItemFailures": []}
    documents = emf_lines(capsys.readouterr().out)
    [(dimensions, unit, completed, document)] = published(documents, Metric.SLIDES_COMPLETED)
    assert (dimensions, unit, completed, document["service"]) == ([["service"]], "Count", [1.0, 1.0], SERVICE)
    [(dimensions, unit, queued, _)] = published(documents, Metric.TIME_QUEUED)
    assert (dimensions, unit, len(queued)) == ([["service"]], "Milliseconds", 2)
    assert all(value > 0 for value in queued)  # the worker reads the system clock; the fakes queued in the past
    assert only_low_cardinality_dimensions(documents)


def test_given_the_image_service_answers_429_when_the_worker_asks_then_it_counts_a_rate_limit_and_no_completion(
    config: GenerationConfig,
    handler_module: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a slide whose image the service refuses with a rate limit
    world = World(config, slides=1)
    world.queue(1)
    world.images.failures.append(ImageRateLimited("slow down", retry_after_seconds=None))
    worker = handler_module("generate_slide_image")
    use_world(monkeypatch, worker, world)
    capsys.readouterr()

    # When the worker takes it
    worker.handler(
        sqs_event({"masterJobId": world.job_id, "slideNumber": 1, "run": 0, "taskToken": "token-1"}),
        Context("storyimages-generate-slide-image"),
    )

    # Then the rate limit is counted, the task is told by name, and nothing counts as completed
    documents = emf_lines(capsys.readouterr().out)
    [(dimensions, unit, value, _)] = published(documents, Metric.PROVIDER_RATE_LIMITED)
    assert (dimensions, unit, value) == ([["service"]], "Count", [1.0])
    assert published(documents, Metric.SLIDES_COMPLETED) == []
    assert world.tasks.answers["token-1"][0] == "failure"


def test_given_a_slide_past_its_retries_when_its_failure_is_recorded_then_it_counts_by_error_code_and_in_all(
    config: GenerationConfig,
    handler_module: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a slide whose image was refused by the image service's moderation
    world = World(config, slides=2)
    recorder = handler_module("record_slide_failure")
    use_world(monkeypatch, recorder, world)
    capsys.readouterr()

    # When the workflow's Catch records it
    caught = {"Error": "ImageRejected", "Cause": json.dumps({"errorMessage": "refused by the safety system"})}
    recorder.handler(
        {"masterJobId": world.job_id, "slideNumber": 2, "run": 0, "error": caught},
        Context("storyimages-record-slide-failure"),
    )

    # Then SlidesFailed is published with the service alone (what an alarm sums) and by error code
    documents = emf_lines(capsys.readouterr().out)
    [(dimensions, unit, value, document)] = published(documents, Metric.SLIDES_FAILED)
    assert dimensions == [["service"], ["service", "errorCode"]]
    assert unit == "Count"
    assert document["errorCode"] == "IMAGE_REJECTED"
    assert value == [1.0]
    # ... with the job it is about as properties of the line, not dimensions
    assert (document["masterJobId"], document["run"], document["slideNumber"]) == (world.job_id, 0, 2)
    assert only_low_cardinality_dimensions(documents)


def test_given_a_failure_recorded_already_when_its_task_is_retried_then_it_is_not_counted_again(
    config: GenerationConfig,
    handler_module: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a slide failure recorded once (its task then timed out, and Step Functions retries it)
    world = World(config, slides=2)
    recorder = handler_module("record_slide_failure")
    use_world(monkeypatch, recorder, world)
    caught = {"Error": "ImageRejected", "Cause": json.dumps({"errorMessage": "refused by the safety system"})}
    event = {"masterJobId": world.job_id, "slideNumber": 2, "run": 0, "error": caught}
    recorder.handler(event, Context("storyimages-record-slide-failure"))
    capsys.readouterr()

    # When the retried task records it again
    answer = recorder.handler(event, Context("storyimages-record-slide-failure"))

    # Then it answers as before and counts nothing
    assert answer["status"] == "failed"
    assert published(emf_lines(capsys.readouterr().out), Metric.SLIDES_FAILED) == []
