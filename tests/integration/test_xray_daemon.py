"""The local X-Ray daemon (local_stack/xray_daemon.py) against what talks to it in Lambda: the
AWS X-Ray SDK for Python's own recorder and UDP emitter (an independent implementation of the
daemon protocol), over real UDP on 127.0.0.1. And the local stack's trace of one API request:
the gateway's stage segment, the Lambda runtime's function segments, the functions' subsegments;
and the SQS event source passing a message's AWSTraceHeader on.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aws_xray_sdk import global_sdk_config
from aws_xray_sdk.core.context import Context
from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter
from aws_xray_sdk.core.recorder import AWSXRayRecorder

from local_stack.lambda_runtime import REGION, InvokeResult
from local_stack.sqs_poller import SqsEventSource
from local_stack.xray_daemon import TraceHeader, XRayDaemon, new_entity_id, new_trace_id, send_document
from tests import waiting

TRACE_ID = r"1-[0-9a-f]{8}-[0-9a-f]{24}"


@pytest.fixture
def daemon() -> Iterator[XRayDaemon]:
    with XRayDaemon() as running:
        yield running


@pytest.fixture
def recorder(daemon: XRayDaemon) -> Iterator[AWSXRayRecorder]:
    """The SDK's recorder outside Lambda (the test process has no LAMBDA_TASK_ROOT): segments of
    its own, every one sampled, sent by its UDP emitter to the daemon. The SDK is switched on
    for the test: Powertools' Tracer switches it off for the whole process when it finds itself
    outside Lambda, as it does once any test imports storyimages.observability."""
    enabled = global_sdk_config.sdk_enabled()
    global_sdk_config.set_sdk_enabled(True)
    recorder = AWSXRayRecorder()
    recorder.configure(
        sampling=False, context=Context(), emitter=UDPEmitter(daemon.address), context_missing="LOG_ERROR"
    )
    yield recorder
    global_sdk_config.set_sdk_enabled(enabled)


def send_raw(daemon: XRayDaemon, datagram: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(datagram, (daemon.host, daemon.port))


def by_id(daemon: XRayDaemon, entity_id: str) -> dict[str, Any]:
    (document,) = daemon.wait_for(lambda document: document["id"] == entity_id)
    return document


# The daemon protocol, as the SDK speaks it


def test_given_the_sdk_recorder_when_a_segment_with_a_subsegment_ends_then_the_daemon_records_it_with_its_ids(
    daemon: XRayDaemon, recorder: AWSXRayRecorder
) -> None:
    segment = recorder.begin_segment("probe-service", sampling=1)
    with recorder.in_subsegment("work", namespace="remote") as subsegment:
        subsegment.put_http_meta("status", 201)
        subsegment.put_annotation("slide", 3)
    recorder.end_segment()

    # The segment arrives as one document, its subsegment nested in it
    document = by_id(daemon, segment.id)
    assert (document["name"], document["trace_id"]) == ("probe-service", segment.trace_id)
    assert re.fullmatch(TRACE_ID, document["trace_id"])
    (nested,) = document["subsegments"]
    assert (nested["id"], nested["name"], nested["namespace"]) == (subsegment.id, "work", "remote")
    assert nested["annotations"] == {"slide": 3}
    # ... and the trace reads as one tree: the subsegment under its segment, with its HTTP status
    assert daemon.trace(segment.trace_id) == [document]
    entities = daemon.entities(segment.trace_id)
    assert [(e.name, e.parent_id, e.trace_id) for e in entities] == [
        ("probe-service", None, segment.trace_id),
        ("work", segment.id, segment.trace_id),
    ]
    assert entities[1].http_status == 201
    lines = daemon.tree(segment.trace_id).splitlines()
    assert lines[0] == f"trace {segment.trace_id}: 2 segments and subsegments"
    assert re.fullmatch(r"  probe-service  \d+\.\d ms", lines[1])
    assert re.fullmatch(r"    work  \d+\.\d ms  http 201", lines[2])
    assert daemon.malformed == 0


def test_given_more_subsegments_than_the_streaming_threshold_when_they_end_then_each_comes_on_its_own(
    daemon: XRayDaemon, recorder: AWSXRayRecorder
) -> None:
    # The SDK streams a segment's completed subsegments once it holds more than the threshold (in
    # Lambda the threshold is 0: every subsegment is sent as it ends)
    recorder.configure(streaming_threshold=1)
    segment = recorder.begin_segment("streaming", sampling=1)
    ids = []
    for n in range(3):
        with recorder.in_subsegment(f"step-{n}") as subsegment:
            ids.append(subsegment.id)
    recorder.end_segment()

    by_id(daemon, segment.id)
    documents = daemon.trace(segment.trace_id)
    streamed = [d for d in documents if d.get("type") == "subsegment"]
    assert streamed, documents
    for document in streamed:  # a subsegment sent alone names its trace and its parent
        assert (document["trace_id"], document["parent_id"]) == (segment.trace_id, segment.id)
    # ... and, streamed or nested, the trace has every one, each once, under the segment
    entities = daemon.entities(segment.trace_id)
    assert sorted(e.id for e in entities if e.id != segment.id) == sorted(ids)
    assert {e.parent_id for e in entities if e.id != segment.id} == {segment.id}


def test_given_a_subsegment_larger_than_a_datagram_when_sent_then_the_sdk_drops_it_and_the_daemon_serves_on(
    daemon: XRayDaemon, recorder: AWSXRayRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    recorder.configure(streaming_threshold=0)  # as in Lambda: each subsegment is a datagram of its own
    segment = recorder.begin_segment("sizes", sampling=1)
    with recorder.in_subsegment("large") as large:
        large.put_metadata("blob", "x" * 60_000)  # fits in one datagram (65,507 bytes)
    with caplog.at_level(logging.ERROR, logger="aws_xray_sdk"), recorder.in_subsegment("too-large") as too_large:
        too_large.put_metadata("blob", "x" * 70_000)
    with recorder.in_subsegment("after") as after:
        pass
    recorder.end_segment()

    # The SDK sends one document per datagram: the one over 64 KB fails in the emitter, logged
    assert len(by_id(daemon, large.id)["metadata"]["default"]["blob"]) == 60_000
    by_id(daemon, after.id)
    by_id(daemon, segment.id)
    assert not [d for d in daemon.documents() if d["id"] == too_large.id]
    assert "Failed to send entity to Daemon." in caplog.text
    assert daemon.malformed == 0


def test_given_datagrams_that_are_not_the_protocol_when_received_then_they_are_counted_and_the_daemon_serves_on(
    daemon: XRayDaemon,
) -> None:
    good = {"name": "fine", "id": new_entity_id(), "trace_id": new_trace_id(), "start_time": 1.0, "end_time": 2.0}
    header = json.dumps({"format": "json", "version": 1}).encode()
    for datagram in [
        b"",
        b"not json at all",
        json.dumps(good).encode(),  # no header line
        json.dumps({"format": "json", "version": 2}).encode() + b"\n" + json.dumps(good).encode(),
        header + b"\n[1, 2, 3]",
        header + b"\n{truncated",
        header + b"\n" + json.dumps({**good, "id": ""}).encode(),
        header + b"\n" + json.dumps({k: v for k, v in good.items() if k != "start_time"}).encode(),
        b"\xff\xfe\n\xff",
    ]:
        send_raw(daemon, datagram)
    send_raw(daemon, header + b"\n" + json.dumps(good).encode())

    assert daemon.wait_for(lambda document: document["id"] == good["id"]) == [good]
    assert daemon.malformed == 9
    assert daemon.documents() == [good]
    assert daemon.summary().endswith("\n9 malformed datagrams")


def test_given_documents_from_threads_at_once_when_received_then_every_one_is_recorded() -> None:
    with XRayDaemon() as daemon:
        trace_id = new_trace_id()

        def send_many(n: int) -> None:
            for i in range(50):
                send_document(
                    daemon.address, {"name": f"t{n}-{i}", "id": new_entity_id(), "trace_id": trace_id, "start_time": 1}
                )

        threads = [threading.Thread(target=send_many, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert len(daemon.wait_for(lambda document: document["trace_id"] == trace_id, count=400)) == 400
    # ... and what it recorded stays readable once stopped
    assert len(daemon.trace(trace_id)) == 400


def test_given_a_trace_with_errors_and_aws_calls_when_rendered_then_the_tree_shows_them_and_marks_orphans(
    daemon: XRayDaemon,
) -> None:
    trace_id, caller = new_trace_id(), new_entity_id()
    segment_id, call_id, failed_id = new_entity_id(), new_entity_id(), new_entity_id()
    send_document(
        daemon.address,
        {
            "name": "storyimages-job-status",
            "id": segment_id,
            "trace_id": trace_id,
            "parent_id": caller,
            "origin": "AWS::Lambda::Function",
            "start_time": 100.0,
            "end_time": 100.25,
            "fault": True,
            "cause": {"exceptions": [{"id": new_entity_id(), "type": "ValueError", "message": "no slide"}]},
        },
    )
    send_document(
        daemon.address,
        {
            "type": "subsegment",
            "name": "DynamoDB",
            "namespace": "aws",
            "id": call_id,
            "trace_id": trace_id,
            "parent_id": segment_id,
            "start_time": 100.01,
            "end_time": 100.02,
            "aws": {"operation": "GetItem"},
            "http": {"response": {"status": 200}},
        },
    )
    # ... sent in progress, then complete: the complete one is what the tree shows
    in_progress = {"name": "requests", "id": failed_id, "trace_id": trace_id, "parent_id": segment_id}
    send_document(daemon.address, {**in_progress, "type": "subsegment", "start_time": 100.05, "in_progress": True})
    send_document(
        daemon.address,
        {
            **in_progress,
            "type": "subsegment",
            "start_time": 100.05,
            "end_time": 100.2,
            "error": True,
            "throttle": True,
            "http": {"response": {"status": 429}},
        },
    )
    daemon.wait_for(lambda document: document["trace_id"] == trace_id, count=4)

    assert daemon.tree(trace_id).splitlines() == [
        f"trace {trace_id}: 3 segments and subsegments",
        "  storyimages-job-status  (AWS::Lambda::Function)  250.0 ms  FAULT  [ValueError: no slide]"
        f"  (parent {caller})",
        "    DynamoDB  10.0 ms  aws GetItem  http 200",
        "    requests  150.0 ms  http 429  ERROR  THROTTLE",
    ]
    assert daemon.trace_ids() == [trace_id]
    assert daemon.summary() == daemon.tree(trace_id)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            TraceHeader("1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", True),
        ),
        (
            "Sampled=0; Parent=53995c3f42cd8ad8; Root=1-5759e988-bd862e3fe1be46a994272793; Lineage=a87bd80c:0",
            TraceHeader("1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", False),
        ),
        ("Root=1-5759e988-bd862e3fe1be46a994272793", TraceHeader("1-5759e988-bd862e3fe1be46a994272793")),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?", TraceHeader("1-5759e988-bd862e3fe1be46a994272793")),
        ("Root=not-a-trace;Parent=53995c3f42cd8ad8;Sampled=1", None),
        ("Self=1-5759e988-bd862e3fe1be46a994272793", None),
        ("", None),
        (None, None),
    ],
)
def test_given_a_trace_header_when_parsed_then_it_has_the_root_parent_and_decision(
    text: str | None, expected: TraceHeader | None
) -> None:
    assert TraceHeader.parse(text) == expected


def test_given_a_trace_header_when_written_then_it_has_the_fields_it_knows() -> None:
    root = "1-5759e988-bd862e3fe1be46a994272793"
    assert str(TraceHeader(root, "53995c3f42cd8ad8", True)) == f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1"
    assert str(TraceHeader(root, sampled=False)) == f"Root={root};Sampled=0"
    assert str(TraceHeader(root)) == f"Root={root}"
    assert re.fullmatch(TRACE_ID, new_trace_id())
    assert new_trace_id(0x5759E988).startswith("1-5759e988-")


# The local stack's trace of an API request


def test_given_the_stack_when_an_api_request_carries_a_trace_header_then_its_trace_runs_gateway_to_functions(
    stack: Any,
) -> None:
    root, parent = new_trace_id(), new_entity_id()
    token = stack.token(f"trace-{uuid.uuid4().hex[:8]}")  # a new token: the authorizer runs, uncached

    response = requests.get(
        f"{stack.url}/api/images/master-job/auto-gen-missing-1",
        headers={"Authorization": f"Bearer {token}", "X-Amzn-Trace-Id": f"Root={root};Parent={parent};Sampled=1"},
        timeout=30,
    )

    assert response.headers["X-Amzn-Trace-Id"] == f"Root={root};Sampled=1"
    # The gateway's stage segment continues the client's trace ...
    (stage,) = stack.traces.wait_for(lambda d: d["trace_id"] == root and d.get("origin") == "AWS::ApiGateway::Stage")
    assert stage["parent_id"] == parent
    assert stage["http"]["response"]["status"] == response.status_code
    assert stage["http"]["request"]["method"] == "GET"
    # ... both Lambda invocations hang under it, each with its function segment
    functions = stack.traces.wait_for(
        lambda d: d["trace_id"] == root and d.get("origin") == "AWS::Lambda::Function", count=2
    )
    assert sorted(f["name"] for f in functions) == ["storyimages-authorizer", "storyimages-job-status"]
    assert {f["parent_id"] for f in functions} == {stage["id"]}
    # ... and the runtime's invocations ran with that trace, each its own Parent
    headers = {
        i.function_name: TraceHeader.parse(i.trace_header)
        for i in stack.lambdas.invocations
        if i.trace_header and root in i.trace_header
    }
    assert {name: (h.root, h.parent, h.sampled) for name, h in headers.items() if h} == {
        f["name"]: (root, f["id"], True) for f in functions
    }
    assert f"trace {root}:" in stack.traces.summary([root])


class RecordingInvoker:
    """Stands in for the runtime behind an SQS event source: records each batch's trace header."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str | None]] = []
        self._lock = threading.Lock()

    def invoke(self, name: str, event: Any, *, trace_header: str | None = None) -> InvokeResult:
        with self._lock:
            self.calls.append(([json.loads(r["body"])["n"] for r in event["Records"]], trace_header))
        return InvokeResult({}, None, 0.0)


def test_given_messages_with_and_without_an_aws_trace_header_when_polled_then_each_invocation_carries_its_own(
    stack: Any,
) -> None:
    sqs = stack.aws.client("sqs")
    url = sqs.create_queue(QueueName=f"traced-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    header = f"Root={new_trace_id()};Parent={new_entity_id()};Sampled=1"
    traced = {"AWSTraceHeader": {"StringValue": header, "DataType": "String"}}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1}), MessageSystemAttributes=traced)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 2}))
    invoker = RecordingInvoker()

    source = SqsEventSource(
        lambda: stack.aws.client("sqs"),
        invoker,
        queue_url=url,
        queue_arn=arn,
        function_name="f",
        region=REGION,
        batch_size=1,
    )
    source.start()
    try:
        waiting.wait_until(lambda: source.messages_deleted == 2, "both messages handled", 15)
    finally:
        source.stop()

    # The message's AWSTraceHeader is the invocation's trace; a message without one gets none
    # (the runtime then starts a trace of its own)
    assert sorted(invoker.calls, key=lambda call: call[0]) == [([1], header), ([2], None)]
