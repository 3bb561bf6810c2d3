"""Business metrics as CloudWatch reads them: a handler runs in this process with its function's
environment (the template's POWERTOOLS_* variables) and fakes for its ports, and its standard
output, where Lambda sends it to CloudWatch Logs, is read back as embedded metric format."""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from infra.function_catalogue import function_name
from storyimages.business_metrics import NAMESPACE, SERVICE, Metric
from storyimages.domain.errors import ImageRateLimited
from storyimages.domain.start_generation import GenerationConfig
from tests.emf import dimension_names, emf_documents, publications
from tests.job_world import World
from tools.handler_environment import SPECS, lambda_environment

# What a dimension may be: a few values each, never an id.
LOW_CARDINALITY = {"service", "function_name", "status", "errorCode", "outcome"}
# Invoke = (event) -> (the handler's answer, the EMF documents it printed)
Invoke = Callable[[dict[str, Any]], tuple[Any, list[dict[str, Any]]]]


@dataclass
class Context:
    """The attributes Powertools reads from Lambda's context object."""

    function_name: str
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:storyimages-test"
    function_version: str = "$LATEST"
    log_stream_name: str = "stream"


@pytest.fixture
def handler_on(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[[str, World], Invoke]:
    """Handler `name` imported with its function's environment, as a cold start imports it, its
    ports the world's fakes (its module builds real adapters at import)."""

    def load(name: str, world: World) -> Invoke:
        for key, value in lambda_environment(name).items():
            monkeypatch.setenv(key, value)
        module = importlib.import_module(f"storyimages.handlers.{name}")
        fakes = {"jobs": world.jobs, "storage": world.storage, "images": world.images, "tasks": world.tasks}
        for port, fake in fakes.items():
            if hasattr(module, port):
                monkeypatch.setattr(module, port, fake)
        context = Context(function_name(SPECS[name].name))

        def invoke(event: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            capsys.readouterr()
            answer = module.handler(event, context)
            return answer, emf_documents(capsys.readouterr().out.splitlines())

        return invoke

    return load


def image_messages(world: World, *slides: int) -> dict[str, Any]:
    """The image queue's SQS event bringing `slides` of the world's job to the worker."""
    bodies = [{"masterJobId": world.job_id, "slideNumber": n, "run": 0, "taskToken": f"token-{n}"} for n in slides]
    records = [
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
    return {"Records": records}


def refused_slide(world: World, slide: int) -> dict[str, Any]:
    """What the workflow's Catch gives the slide-failure recorder for a slide moderation refused."""
    caught = {"Error": "ImageRejected", "Cause": json.dumps({"errorMessage": "refused by the safety system"})}
    return {"masterJobId": world.job_id, "slideNumber": slide, "run": 0, "error": caught}


def test_given_queued_slides_when_the_image_worker_makes_them_then_it_publishes_completions_and_time_queued(
    config: GenerationConfig, handler_on: Callable[[str, World], Invoke]
) -> None:
    # Given two slides of a job waiting in the image queue
    world = World(config, slides=2)
    world.queue(1)
    world.queue(2)

    # When one batch brings both to the worker
    answer, documents = handler_on("generate_slide_image", world)(image_messages(world, 1, 2))

    # Then both are made, and its EMF output holds each measure once per slide, by service only
    assert answer == {"batchItemFailures": []}
    [completed] = publications(documents, Metric.SLIDES_COMPLETED)
    assert (completed.namespace, completed.dimensions, completed.unit, completed.values) == (
        NAMESPACE,
        [["service"]],
        "Count",
        [1.0, 1.0],
    )
    assert completed.document["service"] == SERVICE
    [queued] = publications(documents, Metric.TIME_QUEUED)
    assert (queued.dimensions, queued.unit, len(queued.values)) == ([["service"]], "Milliseconds", 2)
    assert all(value > 0 for value in queued.values)  # the worker reads the system clock; the fakes queued in the past
    assert dimension_names(documents) <= LOW_CARDINALITY


def test_given_the_image_service_answers_429_when_the_worker_asks_then_it_counts_a_rate_limit_and_no_completion(
    config: GenerationConfig, handler_on: Callable[[str, World], Invoke]
) -> None:
    # Given a slide whose image the service refuses with a rate limit
    world = World(config, slides=1)
    world.queue(1)
    world.images.failures.append(ImageRateLimited("slow down", retry_after_seconds=None))

    # When the worker takes it
    _, documents = handler_on("generate_slide_image", world)(image_messages(world, 1))

    # Then the rate limit is counted, the task is told by name, and nothing counts as completed
    [limited] = publications(documents, Metric.PROVIDER_RATE_LIMITED)
    assert (limited.dimensions, limited.unit, limited.values) == ([["service"]], "Count", [1.0])
    assert publications(documents, Metric.SLIDES_COMPLETED) == []
    assert world.tasks.answers["token-1"][0] == "failure"


def test_given_a_slide_past_its_retries_when_its_failure_is_recorded_then_it_counts_by_error_code_and_in_all(
    config: GenerationConfig, handler_on: Callable[[str, World], Invoke]
) -> None:
    # Given a slide whose image was refused by the image service's moderation
    world = World(config, slides=2)

    # When the workflow's Catch records it
    _, documents = handler_on("record_slide_failure", world)(refused_slide(world, 2))

    # Then SlidesFailed is published with the service alone (what an alarm sums) and by error code
    [failed] = publications(documents, Metric.SLIDES_FAILED)
    assert failed.dimensions == [["service"], ["service", "errorCode"]]
    assert failed.unit == "Count"
    assert failed.document["errorCode"] == "IMAGE_REJECTED"
    assert failed.values == [1.0]
    # ... with the job it is about as properties of the line, not dimensions
    assert (failed.document["masterJobId"], failed.document["run"], failed.document["slideNumber"]) == (
        world.job_id,
        0,
        2,
    )
    assert dimension_names(documents) <= LOW_CARDINALITY


def test_given_a_failure_recorded_already_when_its_task_is_retried_then_it_is_not_counted_again(
    config: GenerationConfig, handler_on: Callable[[str, World], Invoke]
) -> None:
    # Given a slide failure recorded once (its task then timed out, and Step Functions retries it)
    world = World(config, slides=2)
    record = handler_on("record_slide_failure", world)
    _, first = record(refused_slide(world, 2))
    assert len(publications(first, Metric.SLIDES_FAILED)) == 1

    # When the retried task records it again
    answer, documents = record(refused_slide(world, 2))

    # Then it answers as before and counts nothing
    assert answer["status"] == "failed"
    assert publications(documents, Metric.SLIDES_FAILED) == []
