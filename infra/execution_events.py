"""The event that ends a job whose execution ended without ending it: which executions raise
it, its shape, and how it is delivered. CDK builds the EventBridge rule from this and the local
stack delivers the same events from it (no CDK here).

Why an event and not a sweeper: Step Functions emits "Execution Status Change" for every
execution that ends, however it ends (a Fail state, an error no Catch took, a timeout, a stop
from the console), within seconds and at no cost to poll. A scheduled sweep would need a
Firestore index over every open job and would find the job minutes later."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

SOURCE = "aws.states"
DETAIL_TYPE = "Step Functions Execution Status Change"
# An execution that succeeded ended its job on the way (finalize is the last task).
ENDED_WITHOUT_FINISHING = ("FAILED", "TIMED_OUT", "ABORTED")
# EventBridge invokes the function asynchronously: Lambda tries twice more (about 1 and 2
# minutes later) within the event's maximum age, then sends it to the dead-letter queue.
ASYNC_RETRY_ATTEMPTS = 2
MAX_EVENT_AGE_HOURS = 6


def event_pattern(state_machine_arn: str) -> dict[str, Any]:
    return {
        "source": [SOURCE],
        "detail-type": [DETAIL_TYPE],
        "detail": {"status": list(ENDED_WITHOUT_FINISHING), "stateMachineArn": [state_machine_arn]},
    }


def status_change_event(execution: Mapping[str, Any], *, account: str, region: str) -> dict[str, Any]:
    """The EventBridge event for an ended execution, from DescribeExecution's answer."""

    def millis(value: Any) -> int | None:
        return int(value.timestamp() * 1000) if isinstance(value, datetime) else None

    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [execution["executionArn"]],
        "detail": {
            "executionArn": execution["executionArn"],
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"],
            "status": execution["status"],
            "startDate": millis(execution.get("startDate")),
            "stopDate": millis(execution.get("stopDate")),
            "input": execution.get("input", "{}"),
            "output": execution.get("output"),
            "inputDetails": {"included": True},
            "outputDetails": {"included": True},
            "error": execution.get("error"),
            "cause": execution.get("cause"),
        },
    }


def matches(event: Mapping[str, Any], state_machine_arn: str) -> bool:
    detail = event["detail"]
    return bool(
        event["source"] == SOURCE
        and event["detail-type"] == DETAIL_TYPE
        and detail["status"] in ENDED_WITHOUT_FINISHING
        and detail["stateMachineArn"] == state_machine_arn
    )
