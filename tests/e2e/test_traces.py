"""What an operator's trace shows, on the local stack as deployed (Powertools Tracer on, X-Ray
SDK sending to the local daemon stand-in): a start's trace from the gateway through the
functions to Firestore and Step Functions, and a slide's through OpenAI, S3 and the answer to
its waiting task, each findable by the job's annotations. Prints the traces it read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local_stack.xray_daemon import Entity, TraceHeader
from tests.waiting import wait_until

WORKER = "storyimages-generate-slide-image"
OPENAI_CALL = "## storyimages.adapters.openai_images.OpenAIImageGenerator.generate"


def annotated(entities: list[Entity], **annotations: Any) -> list[Entity]:
    return [
        entity
        for entity in entities
        if all((entity.document.get("annotations") or {}).get(key) == value for key, value in annotations.items())
    ]


def operations(entities: list[Entity]) -> set[tuple[str, str]]:
    """(service, operation) of every AWS SDK call: botocore's subsegments are named by the
    service's endpoint prefix (s3, states)."""
    return {(entity.name, entity.aws_operation) for entity in entities if entity.aws_operation}


def names(entities: list[Entity], where: Callable[[str], bool] = lambda name: True) -> set[str]:
    return {entity.name for entity in entities if where(entity.name)}


def test_given_a_story_when_it_is_illustrated_then_its_traces_show_every_call_by_job(  # type: ignore[no-untyped-def]
    stack, api, new_story, images
) -> None:
    traces = stack.traces

    # When a two-slide story is started (the answer names the request's trace) and runs to its end
    started = api.start(new_story(2))
    assert started.status_code == 202, started.text
    job_id = started.json()["data"]["masterJobId"]
    header = TraceHeader.parse(started.headers["X-Amzn-Trace-Id"])
    assert header is not None
    api.wait(job_id)

    # Then the start's trace runs from the gateway's stage through the authorizer to the start
    # function, whose handler read the story and wrote the job in Firestore and started the execution
    def start_traced(document: dict[str, Any]) -> bool:
        return document.get("trace_id") == header.root and document.get("name") == "storyimages-start-generation"

    traces.wait_for(start_traced)
    start = traces.entities(header.root)
    print(traces.tree(header.root))
    assert {"AWS::ApiGateway::Stage", "AWS::Lambda::Function"} <= {e.origin for e in start if e.origin}
    assert {"storyimages-authorizer", "storyimages-start-generation", "## handler"} <= names(start)
    firestore = names(start, lambda name: ".firestore_" in name)
    assert any(name.endswith("FirestoreStories.get_story") for name in firestore), firestore
    assert any(name.endswith("FirestoreJobStore.create_job") for name in firestore), firestore
    assert ("states", "StartExecution") in operations(start)
    assert annotated(start, masterJobId=job_id), "the start's handler names its job"

    # ... and each slide's image work is a trace of its own (the queue's message carries no
    # header here), found by the job's annotations: OpenAI's call, the
    # image stored in S3, the slide recorded in Firestore and the waiting task answered
    for slide in (1, 2):
        keys = {"masterJobId": job_id, "run": 0, "slideNumber": slide}

        def worked(keys: dict[str, Any] = keys) -> str | None:
            """The trace whose image work is this slide's, once its function segment, which the
            runtime sends after the handler returned, has arrived."""
            for trace_id in traces.trace_ids():
                entities = traces.entities(trace_id)
                if annotated(entities, **keys) and WORKER in names(entities):
                    return trace_id
            return None

        trace_id = wait_until(worked, f"the trace of slide {slide}'s image", 30)
        work = traces.entities(trace_id)
        print(traces.tree(trace_id))
        assert WORKER in names(work)
        assert OPENAI_CALL in names(work)
        [openai_call] = [e for e in work if e.name == OPENAI_CALL]
        assert openai_call.duration_ms is not None and not openai_call.flags
        assert {("s3", "PutObject"), ("states", "SendTaskSuccess")} <= operations(work)
        assert any(name.endswith("FirestoreJobStore.mark_slide_completed") for name in names(work))
        assert not [e for e in work if e.flags and e.name != "s3"], [e.line() for e in work if e.flags]
