"""The SQS event source (local_stack/sqs_poller.py) delivers a queue's messages to a function as
Lambda's SQS event source mapping does: batches of up to BatchSize in Lambda's SQS event (checked
against Powertools' SqsModel, an independent model of that event), partial batch responses, a
function error and a throttle leaving the batch in the queue, MaximumConcurrency, the queue's own
redrive to its dead-letter queue, and a prompt stop.

Real parts only: a moto server's SQS, and the local Lambda runtime running a small handler
(`probe/sqs.py`, written into a task root of the test's own) in child processes. The handler
records each event it gets in a file of its own, and each message's body tells it how to behave:
{"fail_times": n} reports the message as a batch item failure on its first n receives,
{"raise_times": n} makes the invocation raise while the message is on one of its first n
receives, {"respond": x, "respond_times": n} returns x instead, {"hold": true} waits until the
test creates `release`."""

from __future__ import annotations

import base64
import hashlib
import json
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import SqsModel

from local_stack.aws import MotoAws, MotoLambdaBridge
from local_stack.lambda_runtime import REGION, InvokeRefused, InvokeResult, LambdaRuntime, LocalFunction
from local_stack.sqs_poller import SqsEventSource
from tests import waiting

DEADLINE_SECONDS = 15.0
FUNCTION = "sqs-probe"
# Lambda's record, key by key (the AWS sample event, with md5OfMessageAttributes when there are any).
RECORD_KEYS = {
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfBody",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
}

HANDLER = """
import json
import os
import time
import uuid
from pathlib import Path

OUT = Path(os.environ["PROBE_OUT"])


def handler(event, context):
    name = f"{time.time_ns()}-{uuid.uuid4().hex}"
    started = time.time()
    (OUT / "started" / name).touch()
    records = event["Records"]
    rules = [(json.loads(r["body"]), int(r["attributes"]["ApproximateReceiveCount"])) for r in records]
    if any(body.get("hold") for body, _ in rules):
        give_up = time.monotonic() + 20
        while not (OUT / "release").exists():
            if time.monotonic() > give_up:
                raise TimeoutError("never released")
            time.sleep(0.01)
    outcome = {"event": event, "started": started, "ended": time.time(), "pid": os.getpid()}
    (OUT / "events" / f"{name}.json").write_text(json.dumps(outcome))
    if any(count <= body.get("raise_times", 0) for body, count in rules):
        raise RuntimeError("poison message")
    for body, count in rules:
        if count <= body.get("respond_times", 0):
            return body["respond"]
    failed = [r["messageId"] for r, (body, count) in zip(records, rules) if count <= body.get("fail_times", 0)]
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
"""


def wait_until(condition: Callable[[], bool], what: str, seconds: float = DEADLINE_SECONDS) -> None:
    waiting.wait_until(condition, what, seconds)


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoAws]:
    bridge = MotoLambdaBridge(LambdaRuntime(tmp_path_factory.mktemp("unused-lambda-logs")))
    running = MotoAws(lambdas=bridge).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sqs(aws: MotoAws) -> Any:
    return aws.client("sqs")


class Probe:
    """The handler's records: one event file per invocation that got as far as recording."""

    def __init__(self, out: Path) -> None:
        self.out = out
        for folder in ("started", "events"):
            (out / folder).mkdir(parents=True)

    def started(self) -> int:
        return len(list((self.out / "started").iterdir()))

    def invocations(self) -> list[dict[str, Any]]:
        """In the order they started."""
        return [json.loads(path.read_text()) for path in sorted((self.out / "events").iterdir())]

    def events(self) -> list[dict[str, Any]]:
        return [invocation["event"] for invocation in self.invocations()]

    def receive_counts(self) -> dict[str, list[int]]:
        """Each message id: its ApproximateReceiveCount on each delivery, in order."""
        counts: dict[str, list[int]] = {}
        for event in self.events():
            for record in event["Records"]:
                counts.setdefault(record["messageId"], []).append(int(record["attributes"]["ApproximateReceiveCount"]))
        return {message_id: sorted(seen) for message_id, seen in counts.items()}

    def release(self) -> None:
        (self.out / "release").touch()


@pytest.fixture
def probe(tmp_path: Path) -> Probe:
    return Probe(tmp_path / "probe-out")


@pytest.fixture
def runtime(tmp_path: Path, probe: Probe) -> Iterator[LambdaRuntime]:
    task_root = tmp_path / "task"
    (task_root / "probe").mkdir(parents=True)
    (task_root / "probe" / "__init__.py").write_text("")
    (task_root / "probe" / "sqs.py").write_text(textwrap.dedent(HANDLER))
    running = LambdaRuntime(tmp_path / "logs", task_root=task_root)
    running.deploy({FUNCTION: LocalFunction(FUNCTION, "probe.sqs:handler", {"PROBE_OUT": str(probe.out)}, 25.0, 128)})
    try:
        yield running
    finally:
        running.stop()


class Queue:
    def __init__(self, sqs: Any, *, visibility_timeout: int = 1, max_receive_count: int | None = None) -> None:
        self.sqs = sqs
        name = f"q-{uuid.uuid4().hex[:12]}"
        attributes = {"VisibilityTimeout": str(visibility_timeout)}
        self.dead_letters: Queue | None = None
        self.arn: str
        if max_receive_count is not None:
            self.dead_letters = Queue(sqs, visibility_timeout=visibility_timeout)
            policy = {"deadLetterTargetArn": self.dead_letters.arn, "maxReceiveCount": max_receive_count}
            attributes["RedrivePolicy"] = json.dumps(policy)
        self.url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self.arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def send(self, *bodies: dict[str, Any], **send: Any) -> list[str]:
        """Sends them (in batches of 10) and returns their message ids."""
        ids: list[str] = []
        for start in range(0, len(bodies), 10):
            entries = [
                {"Id": str(i), "MessageBody": json.dumps(body), **send}
                for i, body in enumerate(bodies[start : start + 10])
            ]
            response = self.sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
            assert not response.get("Failed"), response
            ids += [entry["MessageId"] for entry in sorted(response["Successful"], key=lambda e: int(e["Id"]))]
        return ids

    def counts(self) -> tuple[int, int]:
        """(visible, in flight): ApproximateNumberOfMessages and ...NotVisible."""
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def empty(self) -> bool:
        return self.counts() == (0, 0)


SourceFactory = Callable[..., SqsEventSource]


@pytest.fixture
def event_source(aws: MotoAws, runtime: LambdaRuntime) -> Iterator[SourceFactory]:
    """Starts an event source for a queue (stopped after the test)."""
    started: list[SqsEventSource] = []

    def start(queue: Queue, *, invoker: Any = None, **settings: Any) -> SqsEventSource:
        source = SqsEventSource(
            lambda: aws.client("sqs"),
            invoker or runtime,
            queue_url=queue.url,
            queue_arn=queue.arn,
            function_name=FUNCTION,
            region=REGION,
            **settings,
        )
        started.append(source.start())
        return source

    yield start
    for source in started:
        source.stop()


# Batches and the event


def test_given_waiting_messages_when_polled_then_they_arrive_in_batches_of_at_most_batch_size_as_lambdas_sqs_event(
    sqs: Any, probe: Probe, event_source: SourceFactory
) -> None:
    # Given 12 messages waiting, with a String, a Number and a Binary message attribute
    queue = Queue(sqs)
    attributes = {
        "colour": {"DataType": "String", "StringValue": "red"},
        "count": {"DataType": "Number", "StringValue": "3"},
        "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xffbytes"},
    }
    ids = queue.send(*({"n": n} for n in range(12)), MessageAttributes=attributes)

    # When a source with a batch size of 4 polls the queue
    source = event_source(queue, batch_size=4)
    wait_until(lambda: source.messages_deleted == 12 and queue.empty(), "every message delivered and deleted")

    # Then each message came once, in batches of at most 4 (the first receive fills one)
    events = probe.events()
    assert sorted(r["messageId"] for e in events for r in e["Records"]) == sorted(ids)
    assert all(1 <= len(e["Records"]) <= 4 for e in events)
    assert max(len(e["Records"]) for e in events) == 4
    assert (source.invocations, source.messages_delivered) == (len(events), 12)
    assert (source.function_errors, source.batch_item_failures, source.throttles) == (0, 0, 0)
    # ... in Lambda's SQS event, as Powertools' model of it reads it
    for event in events:
        parsed = SqsModel.model_validate(event)
        assert len(parsed.Records) == len(event["Records"])
        for record, model in zip(event["Records"], parsed.Records, strict=True):
            assert set(record) == RECORD_KEYS | {"md5OfMessageAttributes"}
            assert model.eventSource == "aws:sqs"
            assert (model.eventSourceARN, model.awsRegion) == (queue.arn, REGION)
            assert model.md5OfBody == hashlib.md5(record["body"].encode()).hexdigest()  # noqa: S324 (SQS's digest)
            assert model.attributes.ApproximateReceiveCount == "1"
            assert model.attributes.SenderId
            assert model.attributes.ApproximateFirstReceiveTimestamp >= model.attributes.SentTimestamp
            assert set(record["attributes"]) >= {
                "ApproximateReceiveCount",
                "SentTimestamp",
                "SenderId",
                "ApproximateFirstReceiveTimestamp",
            }
            assert record["messageAttributes"] == {
                "colour": {"stringValue": "red", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
                "count": {"stringValue": "3", "stringListValues": [], "binaryListValues": [], "dataType": "Number"},
                "raw": {
                    "binaryValue": base64.b64encode(b"\x00\xffbytes").decode(),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": "Binary",
                },
            }


def test_given_a_batching_window_when_more_than_10_messages_wait_then_a_batch_gathers_past_one_receive(
    sqs: Any, probe: Probe, event_source: SourceFactory
) -> None:
    # Given 25 messages waiting
    queue = Queue(sqs, visibility_timeout=30)
    ids = queue.send(*({"n": n} for n in range(25)))

    # When a source of batch size 25 with a 1 s window and two pollers delivers them
    source = event_source(queue, batch_size=25, maximum_batching_window_seconds=1, maximum_concurrency=2)
    wait_until(lambda: source.messages_deleted == 25 and queue.empty(), "all 25 delivered and deleted")

    # Then the two pollers gathered them (10 a receive) into at most two batches, one over 10
    events = probe.events()
    assert sorted(r["messageId"] for e in events for r in e["Records"]) == sorted(ids)
    assert len(events) <= 2
    assert max(len(e["Records"]) for e in events) > 10
    SqsModel.model_validate(events[0])


# Outcomes


def test_given_a_partial_batch_failure_when_reported_then_only_the_failed_messages_return(
    sqs: Any, probe: Probe, event_source: SourceFactory
) -> None:
    # Given six messages, two of which the function reports as failed on their first receive
    queue = Queue(sqs, visibility_timeout=1)
    failing = queue.send({"fail_times": 1}, {"fail_times": 1})
    passing = queue.send({}, {}, {}, {})

    # When the source delivers them
    source = event_source(queue, batch_size=10)
    wait_until(lambda: source.messages_deleted == 6 and queue.empty(), "every message deleted in the end")

    # Then only the two failed ones came back (after the visibility timeout), once each
    counts = probe.receive_counts()
    assert {message_id: counts[message_id] for message_id in failing} == {m: [1, 2] for m in failing}
    assert {message_id: counts[message_id] for message_id in passing} == {m: [1] for m in passing}
    assert source.batch_item_failures == 2
    assert source.function_errors == 0


def test_given_a_function_error_when_a_batch_fails_then_every_message_of_the_batch_returns(
    sqs: Any, probe: Probe, event_source: SourceFactory
) -> None:
    # Given four messages waiting, one of which makes the function raise on its first receive
    queue = Queue(sqs, visibility_timeout=1)
    poison, *innocent = queue.send({"raise_times": 1}, {}, {}, {})

    # When the source delivers them (its first receive takes all four)
    source = event_source(queue, batch_size=10, maximum_concurrency=2)
    wait_until(lambda: source.messages_deleted == 4 and queue.empty(), "every message deleted in the end")

    # Then the failed invocation had all four, and none of them was deleted: all four came back
    first, *_ = probe.events()
    assert sorted(r["messageId"] for r in first["Records"]) == sorted([poison, *innocent])
    assert probe.receive_counts() == {message_id: [1, 2] for message_id in [poison, *innocent]}
    assert source.function_errors == 1
    assert source.batch_item_failures == 0


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"itemIdentifier": "not-a-message-of-this-batch"}]},
        {"batchItemFailures": [{"messageId": "a-bad-key"}]},
    ],
    ids=["empty-identifier", "null-identifier", "unknown-identifier", "bad-key"],
)
def test_given_an_invalid_partial_batch_response_when_returned_then_the_whole_batch_returns(
    response: dict[str, Any], sqs: Any, probe: Probe, event_source: SourceFactory
) -> None:
    # Given messages for which the function answers an invalid response on their first receive
    queue = Queue(sqs, visibility_timeout=1)
    ids = queue.send(*[{"respond": response, "respond_times": 1}] * 3)

    # When the source delivers them
    source = event_source(queue, batch_size=10)
    wait_until(lambda: source.messages_deleted == 3 and queue.empty(), "every message deleted in the end")

    # Then Lambda's rule holds: the batch failed as a whole, and every message came back once
    assert probe.receive_counts() == {message_id: [1, 2] for message_id in ids}
    assert source.function_errors == 0


def test_given_batch_item_failures_not_reported_when_the_function_names_failures_then_the_whole_batch_is_deleted(
    sqs: Any, probe: Probe, event_source: SourceFactory
) -> None:
    # Given a source without ReportBatchItemFailures
    queue = Queue(sqs, visibility_timeout=1)
    ids = queue.send({"fail_times": 5}, {})

    # When the function answers a partial batch response
    source = event_source(queue, report_batch_item_failures=False)
    wait_until(lambda: source.messages_deleted == 2 and queue.empty(), "both messages deleted")

    # Then the response is ignored: both messages were deleted after their one delivery
    assert probe.receive_counts() == {message_id: [1] for message_id in ids}
    assert source.batch_item_failures == 0


def test_given_a_message_that_always_fails_when_received_max_receive_count_times_then_it_is_dead_lettered(
    sqs: Any, probe: Probe, event_source: SourceFactory
) -> None:
    # Given a queue that redrives after 2 receives, and a message that always fails
    queue = Queue(sqs, visibility_timeout=1, max_receive_count=2)
    assert queue.dead_letters is not None
    (poison,) = queue.send({"raise_times": 99})

    # When the source keeps delivering it
    source = event_source(queue)
    wait_until(lambda: queue.dead_letters is not None and queue.dead_letters.counts() == (1, 0), "a dead letter")

    # Then the function saw it twice, and the dead-letter queue has it, no longer in the queue
    assert probe.receive_counts() == {poison: [1, 2]}
    assert source.function_errors == 2
    assert queue.counts() == (0, 0)
    dead = sqs.receive_message(QueueUrl=queue.dead_letters.url, MaxNumberOfMessages=10)["Messages"]
    assert [(m["MessageId"], json.loads(m["Body"])) for m in dead] == [(poison, {"raise_times": 99})]


class Throttling:
    """The runtime behind a reserved concurrency that is in use for the first `times` invokes."""

    def __init__(self, runtime: LambdaRuntime, times: int) -> None:
        self._runtime = runtime
        self._left = times
        self._lock = threading.Lock()

    def invoke(self, name: str, event: Any, *, trace_header: str | None = None) -> InvokeResult:
        with self._lock:
            throttle, self._left = self._left > 0, self._left - 1
        if throttle:
            raise InvokeRefused("TooManyRequestsException", "Rate Exceeded.", 429)
        return self._runtime.invoke(name, event, trace_header=trace_header)


def test_given_a_throttle_within_the_visibility_timeout_when_it_passes_then_the_batch_is_retried_and_run_once(
    sqs: Any, probe: Probe, runtime: LambdaRuntime, event_source: SourceFactory
) -> None:
    # Given a function throttled for its next three invokes, and a queue with a 10 s visibility timeout
    queue = Queue(sqs, visibility_timeout=10)
    (message_id,) = queue.send({})

    # When the source delivers the message
    source = event_source(queue, invoker=Throttling(runtime, 3))
    wait_until(lambda: source.messages_deleted == 1 and queue.empty(), "the message deleted")

    # Then it retried the same batch, not returning the message to the queue: one receive, one run
    assert source.throttles == 3
    assert probe.receive_counts() == {message_id: [1]}
    assert source.invocations == 1


def test_given_a_throttle_outlasting_the_visibility_timeout_when_retries_give_up_then_the_message_returns(
    sqs: Any, probe: Probe, runtime: LambdaRuntime, event_source: SourceFactory
) -> None:
    # Given a queue with a 1 s visibility timeout and a throttle longer than the retries within it
    queue = Queue(sqs, visibility_timeout=1)
    (message_id,) = queue.send({})

    # When the source delivers the message
    source = event_source(queue, invoker=Throttling(runtime, 6), throttle_backoff_seconds=0.2)
    wait_until(lambda: source.messages_deleted == 1 and queue.empty(), "the message deleted in the end")

    # Then it gave up on its first receive and ran the message on a later one
    assert source.throttles == 6
    (counts,) = probe.receive_counts().values()
    assert counts[0] > 1
    assert probe.receive_counts().keys() == {message_id}


# Concurrency


def test_given_maximum_concurrency_2_when_10_messages_wait_for_a_blocked_function_then_2_run_and_the_rest_stay_visible(
    sqs: Any, probe: Probe, event_source: SourceFactory
) -> None:
    # Given ten messages the function holds until released
    queue = Queue(sqs, visibility_timeout=30)
    ids = queue.send(*[{"hold": True}] * 10)

    # When a source of batch size 1 and maximum concurrency 2 delivers them
    source = event_source(queue, batch_size=1, maximum_concurrency=2)
    wait_until(lambda: probe.started() == 2, "two invocations running")

    # Then two run, a third poller reads one ahead and holds it for the next free slot, and the
    # seven others wait in the queue, visible
    wait_until(lambda: queue.counts() == (7, 3), "one message read ahead")
    assert (source.in_flight, source.pollers) == (2, 3)
    assert probe.started() == 2
    # ... and once released, the rest run, never more than two at a time
    probe.release()
    wait_until(lambda: source.messages_deleted == 10 and queue.empty(), "all ten delivered and deleted")
    assert probe.receive_counts() == {message_id: [1] for message_id in ids}
    assert source.peak_concurrency == 2
    spans = [(i["started"], i["ended"]) for i in probe.invocations()]
    assert max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans) <= 2


def test_given_no_maximum_concurrency_when_many_messages_wait_then_the_source_scales_past_its_five_starting_pollers(
    sqs: Any, probe: Probe, event_source: SourceFactory
) -> None:
    # Given eight messages the function holds until released
    queue = Queue(sqs, visibility_timeout=30)
    queue.send(*[{"hold": True}] * 8)

    # When a source of batch size 1 without a maximum concurrency delivers them
    source = event_source(queue, batch_size=1)

    # Then all eight run at once (Lambda starts with five and scales up while messages wait)
    wait_until(lambda: probe.started() == 8, "eight invocations running", seconds=30)
    assert source.in_flight == 8
    assert queue.counts() == (0, 8)
    probe.release()
    wait_until(lambda: source.messages_deleted == 8, "all eight deleted")
    assert source.peak_concurrency == 8


# Stopping


def test_given_a_running_source_when_stopped_then_its_pollers_end_promptly_and_later_messages_stay_in_the_queue(
    sqs: Any, probe: Probe, event_source: SourceFactory
) -> None:
    # Given a source polling an empty queue
    queue = Queue(sqs)
    source = event_source(queue)
    wait_until(lambda: source.pollers == 5, "five pollers")

    # When it is stopped, allowing a few long polls' time
    source.stop(timeout=3)

    # Then its pollers have ended, and nothing takes a message sent now
    assert source.pollers == 0
    queue.send({})
    assert queue.counts() == (1, 0)
    assert (source.invocations, probe.started()) == (0, 0)


def test_given_an_invocation_in_flight_when_stopped_then_it_finishes_and_its_message_is_deleted_before_stop_returns(
    sqs: Any, probe: Probe, event_source: SourceFactory
) -> None:
    # Given an invocation under way
    queue = Queue(sqs, visibility_timeout=30)
    queue.send({"hold": True})
    source = event_source(queue)
    wait_until(lambda: probe.started() == 1, "the invocation running")

    # When the source is stopped (and the invocation then released)
    stopping = threading.Thread(target=source.stop)
    stopping.start()
    wait_until(lambda: source.pollers == 1, "every idle poller gone")
    assert stopping.is_alive()
    probe.release()
    stopping.join(DEADLINE_SECONDS)

    # Then stop() waited for it, and its outcome was applied: the message deleted
    assert not stopping.is_alive()
    assert (source.invocations, source.messages_deleted, source.pollers) == (1, 1, 0)
    assert queue.empty()


def test_given_invalid_settings_when_a_source_is_made_then_it_refuses_them_as_create_event_source_mapping_does() -> (
    None
):
    def make(**settings: Any) -> SqsEventSource:
        defaults: dict[str, Any] = {
            "queue_url": "http://sqs/q",
            "queue_arn": "arn:aws:sqs:us-east-1:123456789012:q",
            "function_name": FUNCTION,
            "region": REGION,
        }
        return SqsEventSource(lambda: None, Throttling(None, 0), **(defaults | settings))  # type: ignore[arg-type]

    for settings in (
        {"batch_size": 0},
        {"batch_size": 11},  # over 10 needs a batching window
        {"batch_size": 10_001, "maximum_batching_window_seconds": 1},
        {"maximum_batching_window_seconds": 301},
        {"maximum_concurrency": 1},
        {"maximum_concurrency": 1001},
        {"queue_arn": "arn:aws:sqs:us-east-1:123456789012:q.fifo", "batch_size": 11},
        {"queue_arn": "arn:aws:sqs:us-east-1:123456789012:q.fifo", "maximum_batching_window_seconds": 1},
    ):
        with pytest.raises(ValueError):  # noqa: PT011 (each its own message)
            make(**settings)
    assert make(batch_size=10_000, maximum_batching_window_seconds=1).batch_size == 10_000
    assert make().batch_size == 10
