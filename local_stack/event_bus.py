"""EventBridge for the local stack: the one rule the template has, "an image-generation execution
ended FAILED, TIMED_OUT or ABORTED" -> EndAbandonedJob (`infra.execution_events`).

moto emits no events, so this watches the executions over the Step Functions API (a poll of
ListExecutions), builds for each newly ended one the event EventBridge would send, and invokes
the function asynchronously as Lambda does for EventBridge: on a function error it tries
`retry_delays` more times, then keeps the event as a dead letter (the deployed stack's
dead-letter queue). Differences from AWS: delivery comes within a poll interval (AWS: seconds),
and the retry delays are configuration (AWS: about 1 and 2 minutes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra import execution_events
from local_stack.lambda_runtime import InvokeRefused, LambdaRuntime

logger = logging.getLogger(__name__)
POLL_SECONDS = 0.25
# Lambda's asynchronous retries: about a minute, then about two more.
PRODUCTION_RETRY_DELAYS = (60.0, 120.0)


@dataclass
class Delivery:
    event: dict[str, Any]
    attempts: int = 0
    outcome: str = "pending"  # "handled" | "dead-letter"
    errors: list[str] = field(default_factory=list)


class ExecutionEventBus:
    def __init__(
        self,
        stepfunctions: Callable[[], Any],
        runtime: LambdaRuntime,
        *,
        state_machine_arn: str,
        function_name: str,
        account: str,
        region: str,
        retry_delays: Sequence[float] = PRODUCTION_RETRY_DELAYS,
    ) -> None:
        self._client_factory = stepfunctions
        self._runtime = runtime
        self._state_machine_arn = state_machine_arn
        self._function_name = function_name
        self._account, self._region = account, region
        self._retry_delays = tuple(retry_delays)
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.deliveries: list[Delivery] = []
        self._thread: threading.Thread | None = None
        self._workers: list[threading.Thread] = []

    def start(self) -> ExecutionEventBus:
        self._thread = threading.Thread(target=self._watch, name="event-bus", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for worker in list(self._workers):
            worker.join(timeout=10)

    def settled(self, execution_name: str, timeout: float) -> Delivery:
        """The event of execution `execution_name` once delivered (handled or dead-lettered)."""

        def found() -> Delivery | None:
            mine = [d for d in self.deliveries if d.event["detail"]["name"] == execution_name]
            return mine[0] if mine and mine[0].outcome != "pending" else None

        with self._changed:
            if not self._changed.wait_for(lambda: found() is not None, timeout):
                raise TimeoutError(f"no event of {execution_name} was delivered within {timeout} s")
            delivery = found()
            assert delivery is not None
            return delivery

    def _watch(self) -> None:
        client = self._client_factory()
        while not self._stop.wait(POLL_SECONDS):
            try:
                ended = self._ended_executions(client)
            except Exception:  # the moto server stopping under us at shutdown
                logger.debug("could not list executions", exc_info=True)
                continue
            for arn in ended:
                if self._stop.is_set():
                    return
                execution = client.describe_execution(executionArn=arn)
                event = execution_events.status_change_event(execution, account=self._account, region=self._region)
                if execution_events.matches(event, self._state_machine_arn):
                    self._deliver(Delivery(event))

    def _ended_executions(self, client: Any) -> list[str]:
        new = []
        for status in execution_events.ENDED_WITHOUT_FINISHING:
            for page in client.get_paginator("list_executions").paginate(
                stateMachineArn=self._state_machine_arn, statusFilter=status
            ):
                for execution in page["executions"]:
                    if execution["executionArn"] not in self._seen:
                        self._seen.add(execution["executionArn"])
                        new.append(execution["executionArn"])
        return new

    def _deliver(self, delivery: Delivery) -> None:
        with self._changed:
            self.deliveries.append(delivery)
            self._changed.notify_all()
        worker = threading.Thread(target=self._invoke, args=(delivery,), name="event-delivery", daemon=True)
        self._workers = [w for w in self._workers if w.is_alive()] + [worker]
        worker.start()

    def _invoke(self, delivery: Delivery) -> None:
        delays = (0.0, *self._retry_delays)
        for delay in delays:
            if self._stop.wait(delay):
                return
            delivery.attempts += 1
            try:
                result = self._runtime.invoke(self._function_name, delivery.event)
            except InvokeRefused as refused:
                delivery.errors.append(refused.code)
                continue
            if result.error_type is None:
                self._settle(delivery, "handled")
                return
            delivery.errors.append(result.error_type)
        self._settle(delivery, "dead-letter")

    def _settle(self, delivery: Delivery, outcome: str) -> None:
        with self._changed:
            delivery.outcome = outcome
            self._changed.notify_all()
