"""Lambda's SQS event source mapping for the local stack: polls a queue and invokes a function in
the local Lambda runtime with batches of its messages, as Lambda's pollers do. moto runs no event
source mapping for a queue (the one its own Lambda API makes invokes moto's Lambda, inside
SendMessage), so this does it.

As Lambda does (Lambda developer guide: "Using Lambda with Amazon SQS", its scaling and error
handling pages, and the CreateEventSourceMapping parameters):
- Pollers long-poll ReceiveMessage for every system and message attribute and invoke the function
  synchronously with up to `batch_size` records (1-10,000; 10 at most for a FIFO queue; over 10
  needs a batching window) in Lambda's SQS event: {"Records": [{"messageId", "receiptHandle",
  "body", "attributes", "messageAttributes" (each {"stringValue" | "binaryValue" (base64),
  "stringListValues", "binaryListValues", "dataType"}), "md5OfBody", "md5OfMessageAttributes" (when
  the message has attributes), "eventSource": "aws:sqs", "eventSourceARN", "awsRegion"}]}. With a
  batching window (0-300 s) a poller gathers until the batch is full or the window ends, and a
  batch never exceeds the 6 MB a synchronous invoke takes (what does not fit opens the next one).
- At most `maximum_concurrency` (2-1,000; None: Lambda's 1,000) invocations run for this source
  at once, each poller invoking one batch at a time; one poller beyond them reads ahead and holds
  its batch until a slot frees (a slot frees when its invocation returns, before the deletes), as
  Lambda's pollers hold the batches they have read (why AWS asks for a visibility timeout of six
  times the function's timeout). The other messages wait in the queue, visible
  (ApproximateNumberOfMessages).
- Success deletes the batch (DeleteMessageBatch). With `report_batch_item_failures`
  (FunctionResponseTypes ReportBatchItemFailures) the response's {"batchItemFailures":
  [{"itemIdentifier": messageId}]} keeps those messages; no list, an empty or null one, or a
  response that is not an object, is complete success; an entry that is not an object or has an
  empty, null, missing or unknown itemIdentifier, or a list that is not one, fails the whole batch.
  A function error deletes nothing: the messages return once the queue's visibility timeout
  passes. A throttle (TooManyRequestsException: the function's reserved concurrency is all in use)
  is retried with backoff until the batch's visibility timeout would pass, then the batch is left
  to return to the queue. Another Invoke API refusal deletes nothing either.
- Redrive (RedrivePolicy's maxReceiveCount -> the dead-letter queue) is the queue's own: moto's.
- Tracing: a batch whose messages carry an AWSTraceHeader system attribute is invoked in the
  trace of the first that does (the runtime starts a new trace for one without).

Differences from AWS: pollers are threads of this process, and scaling is immediate: it starts
with Lambda's 5 (fewer under a smaller maximum concurrency), adds one whenever all are invoking
(Lambda adds up to 300 a minute) and lets one beyond those 5 go after an empty receive (Lambda
scales down to 2, or 5 with a maximum concurrency); the pollers take turns to call ReceiveMessage
(moto's is not atomic: two calls at once can both get a message), while their invocations run side
by side; function errors do not scale the source back (Lambda backs off after them); a long poll
waits `wait_seconds` (default 1 s, so stop() is prompt; Lambda: 20 s); the batching window opens
at a poller's first message; on stop(), messages received and not yet invoked are made visible at
once (ChangeMessageVisibility 0) and in-flight invocations end first, within stop()'s bound; none
of CreateEventSourceMapping's checks against the function (the queue's visibility timeout at least
the function's timeout), filter criteria, provisioned mode or metrics are implemented; a single
record too large for an invoke is refused by the runtime (RequestEntityTooLargeException) and
returns to the queue. X-Ray links the traces of a batch's other messages to the invocation's;
here they are not.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from local_stack.lambda_runtime import MAX_PAYLOAD_BYTES, InvokeRefused, InvokeResult

logger = logging.getLogger(__name__)

# Lambda's: concurrent batches at the start, and the most an event source mapping runs at once.
STARTING_POLLERS = 5
MAXIMUM_CONCURRENCY = 1000
MAXIMUM_BATCH_SIZE = 10_000
MAXIMUM_FIFO_BATCH_SIZE = 10
MAXIMUM_BATCHING_WINDOW_SECONDS = 300
RECEIVE_LIMIT = 10  # ReceiveMessage's MaxNumberOfMessages
WAIT_SECONDS = 1  # each long poll (SQS allows up to 20)
THROTTLE_BACKOFF_SECONDS = 0.1  # doubled on each throttle of a batch, up to the next
MAXIMUM_THROTTLE_BACKOFF_SECONDS = 2.0
ERROR_BACKOFF_SECONDS = 1.0  # after an SQS call fails or the Invoke API refuses a batch
STOP_SECONDS = 30.0
EVENT_OVERHEAD = len('{"Records":[]}')

# boto3 builds clients from one default session, which is not safe to use from two threads at once.
_client_lock = threading.Lock()


class Invoker(Protocol):
    """What the source invokes through: LambdaRuntime."""

    def invoke(self, name: str, event: Any, *, trace_header: str | None = None) -> InvokeResult: ...


@dataclass
class _Received:
    record: dict[str, Any]
    size: int  # its bytes in the event, with the comma before it
    received_at: float  # monotonic: when its visibility timeout began


class SqsEventSource:
    """One event source mapping: queue -> function. start(), then stop()."""

    def __init__(
        self,
        sqs: Callable[[], Any],
        runtime: Invoker,
        *,
        queue_url: str,
        queue_arn: str,
        function_name: str,
        region: str,
        batch_size: int = 10,
        maximum_batching_window_seconds: int = 0,
        maximum_concurrency: int | None = None,
        report_batch_item_failures: bool = True,
        wait_seconds: int = WAIT_SECONDS,
        throttle_backoff_seconds: float = THROTTLE_BACKOFF_SECONDS,
    ) -> None:
        fifo = queue_arn.endswith(".fifo")
        largest = MAXIMUM_FIFO_BATCH_SIZE if fifo else MAXIMUM_BATCH_SIZE
        if not 1 <= batch_size <= largest:
            raise ValueError(f"batch_size must be 1 to {largest} for this queue, not {batch_size}")
        if not 0 <= maximum_batching_window_seconds <= MAXIMUM_BATCHING_WINDOW_SECONDS:
            raise ValueError(f"maximum_batching_window_seconds must be 0 to {MAXIMUM_BATCHING_WINDOW_SECONDS}")
        if fifo and maximum_batching_window_seconds:
            raise ValueError("a batching window is not supported for FIFO queues")
        if batch_size > RECEIVE_LIMIT and maximum_batching_window_seconds < 1:
            raise ValueError("a batch_size over 10 needs maximum_batching_window_seconds of at least 1")
        if maximum_concurrency is not None and not 2 <= maximum_concurrency <= MAXIMUM_CONCURRENCY:
            raise ValueError(f"maximum_concurrency must be 2 to {MAXIMUM_CONCURRENCY}, not {maximum_concurrency}")
        if not 0 <= wait_seconds <= 20:
            raise ValueError("wait_seconds must be 0 to 20")
        self._sqs = sqs
        self._runtime = runtime
        self.queue_url, self.queue_arn, self.function_name = queue_url, queue_arn, function_name
        self._region = region
        self.batch_size = batch_size
        self.maximum_batching_window_seconds = maximum_batching_window_seconds
        self.maximum_concurrency = maximum_concurrency
        self.report_batch_item_failures = report_batch_item_failures
        self._wait_seconds = wait_seconds
        self._throttle_backoff = throttle_backoff_seconds
        self._limit = maximum_concurrency or MAXIMUM_CONCURRENCY
        self._floor = min(self._limit, STARTING_POLLERS)
        self._visibility_timeout = 30.0  # the queue's, read at start()
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._receiving = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._pollers = 0
        self._started = 0
        self._in_flight = 0
        # Observable, under self._changed:
        self.invocations = 0  # invocations the function ran (throttled and refused ones not)
        self.messages_delivered = 0  # records in them
        self.messages_deleted = 0
        self.function_errors = 0  # invocations that failed (error_type set)
        self.batch_item_failures = 0  # messages kept by a partial batch response (or a bad one)
        self.throttles = 0  # TooManyRequestsException refusals
        self.refusals = 0  # the Invoke API's other refusals
        self.peak_concurrency = 0  # the most invocations under way at once

    @property
    def in_flight(self) -> int:
        """Invocations under way now (a throttled batch waiting to be retried included)."""
        with self._changed:
            return self._in_flight

    @property
    def pollers(self) -> int:
        with self._changed:
            return self._pollers

    def start(self) -> SqsEventSource:
        attributes = self._client().get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"])
        self._visibility_timeout = float(attributes["Attributes"]["VisibilityTimeout"])
        with self._changed:
            for _ in range(self._floor):
                self._add_poller()
        return self

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop polling; invocations under way end first (and their outcome is applied), within
        `timeout` in all."""
        give_up = time.monotonic() + timeout
        with self._changed:
            self._stop.set()
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, give_up - time.monotonic()))
        if any(thread.is_alive() for thread in threads):
            logger.warning("the %s poller of %s did not stop within %s s", self.queue_arn, self.function_name, timeout)

    def _client(self) -> Any:
        with _client_lock:
            return self._sqs()

    def _add_poller(self) -> None:
        """Under self._changed; none once stopping (stop() joins the pollers it sees then)."""
        if self._stop.is_set():
            return
        self._pollers += 1
        self._started += 1
        thread = threading.Thread(target=self._poll, name=f"sqs-poller-{self._started}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _poll(self) -> None:
        retired = False
        try:
            client = self._client()
            carried: list[_Received] = []
            while not self._stop.is_set():
                try:
                    batch, carried = self._gather(client, carried)
                except Exception:  # moto stopping under us, say
                    logger.warning("could not receive from %s", self.queue_url, exc_info=True)
                    self._stop.wait(ERROR_BACKOFF_SECONDS)
                    continue
                if self._stop.is_set():
                    self._release(client, batch + carried)
                    return
                if not batch:
                    with self._changed:
                        if self._pollers > self._floor:
                            self._pollers -= 1
                            retired = True
                            self._changed.notify_all()
                            return
                    continue
                with self._changed:
                    # An invocation slot: at most maximum_concurrency invocations at once. A
                    # poller holding a batch waits here for one.
                    while self._in_flight >= self._limit and not self._stop.is_set():
                        self._changed.wait(0.1)
                    stopping = self._stop.is_set()
                    if not stopping:
                        self._in_flight += 1
                        self.peak_concurrency = max(self.peak_concurrency, self._in_flight)
                        if self._in_flight >= self._pollers and self._pollers < self._limit + 1:
                            self._add_poller()  # all are invoking: one more listens, and reads ahead
                if stopping:
                    self._release(client, batch + carried)
                    return
                try:
                    result = self._invoke(client, batch)
                finally:
                    with self._changed:  # the slot is free once the invocation returns
                        self._in_flight -= 1
                        self._changed.notify_all()
                if result is not None:
                    self._settle(client, batch, result)
        finally:
            if not retired:
                with self._changed:
                    self._pollers -= 1
                    self._changed.notify_all()

    def _gather(self, client: Any, carried: list[_Received]) -> tuple[list[_Received], list[_Received]]:
        """The next batch, and what was received but does not fit in it."""
        batch: list[_Received] = []
        size = EVENT_OVERHEAD
        while carried and len(batch) < self.batch_size and size + carried[0].size <= MAX_PAYLOAD_BYTES:
            size += carried[0].size
            batch.append(carried.pop(0))
        if carried or (batch and not self.maximum_batching_window_seconds):
            return batch, carried
        window_ends = batch[0].received_at + self.maximum_batching_window_seconds if batch else None
        while len(batch) < self.batch_size and not self._stop.is_set():
            if window_ends is None:
                wait = self._wait_seconds
            else:
                remaining = window_ends - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(self._wait_seconds, int(remaining))  # whole seconds, as SQS takes them
            count = min(RECEIVE_LIMIT, self.batch_size - len(batch))
            received = self._receive(client, count, wait)
            for item in received:
                if not batch or (not carried and size + item.size <= MAX_PAYLOAD_BYTES):
                    size += item.size
                    batch.append(item)
                else:
                    carried.append(item)  # the 6 MB are reached: it opens the next batch
            if carried or not batch:
                break  # full, or nothing came within the long poll
            if window_ends is None:
                if not self.maximum_batching_window_seconds:
                    break
                window_ends = batch[0].received_at + self.maximum_batching_window_seconds
            elif not received and wait == 0:
                self._stop.wait(min(0.1, max(0.0, window_ends - time.monotonic())))
        return batch, carried

    def _receive(self, client: Any, count: int, wait: int) -> list[_Received]:
        """Up to `count` messages; none once stopping. One poller receives at a time: moto's
        ReceiveMessage is not atomic, and two at once can both get the same message."""
        while not self._receiving.acquire(timeout=0.1):
            if self._stop.is_set():
                return []
        try:
            if self._stop.is_set():
                return []
            response = client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        finally:
            self._receiving.release()
        now = time.monotonic()
        records = [sqs_record(message, self.queue_arn, self._region) for message in response.get("Messages", [])]
        return [_Received(record, len(_json(record)) + 1, now) for record in records]

    def _invoke(self, client: Any, batch: list[_Received]) -> InvokeResult | None:
        """The invocation's result; None when it never ran (refused, or throttled until the
        batch's visibility timeout would pass, or the source stopped)."""
        event = {"Records": [item.record for item in batch]}
        headers = (record["attributes"].get("AWSTraceHeader") for record in event["Records"])
        trace = next((header for header in headers if header), None)
        visible_again = min(item.received_at for item in batch) + self._visibility_timeout
        backoff = self._throttle_backoff
        while True:
            try:
                result = self._runtime.invoke(self.function_name, event, trace_header=trace)
                break
            except InvokeRefused as refused:
                if refused.code != "TooManyRequestsException":
                    self._count(refusals=1)
                    logger.warning("%s refused a batch from %s: %s", self.function_name, self.queue_arn, refused)
                    self._stop.wait(ERROR_BACKOFF_SECONDS)
                    return None
                self._count(throttles=1)
                if time.monotonic() + backoff >= visible_again:
                    return None  # Lambda retries until the visibility timeout; then the messages return
                if self._stop.wait(backoff):
                    self._release(client, batch)
                    return None
                backoff = min(backoff * 2, MAXIMUM_THROTTLE_BACKOFF_SECONDS)
        self._count(invocations=1, messages_delivered=len(batch))
        return result

    def _settle(self, client: Any, batch: list[_Received], result: InvokeResult) -> None:
        """Delete what the invocation handled; what it did not returns after the visibility timeout."""
        records = [item.record for item in batch]
        if result.error_type is not None:
            self._count(function_errors=1)
            return
        failed = batch_item_failures(result.payload, records) if self.report_batch_item_failures else set()
        if failed is None:  # a bad response: the whole batch failed
            self._count(batch_item_failures=len(records))
            return
        self._count(batch_item_failures=len(failed))
        self._delete(client, [r for r in records if r["messageId"] not in failed])

    def _delete(self, client: Any, records: Sequence[Mapping[str, Any]]) -> None:
        for chunk in _chunks(records):
            entries = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)]
            try:
                response = client.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception:
                logger.warning("could not delete %d messages from %s", len(entries), self.queue_url, exc_info=True)
                continue
            self._count(messages_deleted=len(response.get("Successful", [])))
            for failure in response.get("Failed", []):
                logger.warning("could not delete a message from %s: %s", self.queue_url, failure)

    def _release(self, client: Any, batch: Sequence[_Received]) -> None:
        """Make messages this source holds without invoking visible again at once."""
        for chunk in _chunks([item.record for item in batch]):
            entries = [
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"], "VisibilityTimeout": 0} for i, r in enumerate(chunk)
            ]
            try:
                client.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception:
                logger.debug("could not release %d messages to %s", len(entries), self.queue_url, exc_info=True)

    def _count(self, **increments: int) -> None:
        with self._changed:
            for name, increment in increments.items():
                setattr(self, name, getattr(self, name) + increment)
            self._changed.notify_all()


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS ReceiveMessage message (as boto3 returns it) as a record of Lambda's SQS event."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record |= {"eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region}
    return record


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = _base64(value["BinaryValue"])
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [_base64(item) for item in value.get("BinaryListValues", [])]
    attribute["dataType"] = value["DataType"]
    return attribute


def _base64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def batch_item_failures(payload: Any, records: Sequence[Mapping[str, Any]]) -> set[str] | None:
    """The message ids a partial batch response keeps in the queue; None when the response fails
    the whole batch (Lambda: an entry with an empty, null or unknown itemIdentifier, or a bad key)."""
    if not isinstance(payload, dict) or payload.get("batchItemFailures") is None:
        return set()
    failures = payload["batchItemFailures"]
    if not isinstance(failures, list):
        return None
    ids = {record["messageId"] for record in records}
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in ids:
            return None
        failed.add(identifier)
    return failed


def _chunks(records: Sequence[Mapping[str, Any]]) -> Iterator[Sequence[Mapping[str, Any]]]:
    for start in range(0, len(records), RECEIVE_LIMIT):
        yield records[start : start + RECEIVE_LIMIT]


def _json(value: Any) -> str:
    """As the runtime serializes an event."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
