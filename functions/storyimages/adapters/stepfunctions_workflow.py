"""The workflows as Step Functions Standard executions: one per run of a job, and one per
webhook delivery."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from storyimages.domain.errors import WorkflowStartFailed
from storyimages.domain.jobs import MasterJob
from storyimages.domain.story_lock import ExecutionState
from storyimages.observability import logger

# What the caller is told; the AWS error (account, role ARNs) goes to the log only.
UNAVAILABLE = "the workflow service could not start this job; nothing was started, try again"


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class StepFunctionsWorkflow:
    def __init__(self, state_machine_arn: str, *, client: Any = None) -> None:
        self._state_machine_arn = state_machine_arn
        self._injected = client

    @cached_property
    def _sfn(self) -> Any:
        if self._injected is not None:
            return self._injected
        import boto3

        return boto3.client("stepfunctions")

    def start(self, name: str, payload: Mapping[str, Any]) -> str:
        try:
            response = self._sfn.start_execution(
                stateMachineArn=self._state_machine_arn, name=name, input=json.dumps(payload)
            )
        except ClientError as exc:
            if _error_code(exc) == "ExecutionAlreadyExists":
                # This name was started before (running or ended): that is this run's execution.
                return self.execution_arn(name)
            logger.exception("StartExecution failed", execution=name, errorCode=_error_code(exc))
            raise WorkflowStartFailed(UNAVAILABLE) from exc
        except BotoCoreError as exc:
            logger.exception("Step Functions unreachable", execution=name)
            raise WorkflowStartFailed(UNAVAILABLE) from exc
        return str(response["executionArn"])

    def stop(self, name: str, cause: str) -> None:
        try:
            self._sfn.stop_execution(executionArn=self.execution_arn(name), error="Cancelled", cause=cause)
        except ClientError as exc:
            # Already ended, or never started: there is nothing left to stop.
            if _error_code(exc) not in {"ExecutionDoesNotExist", "ExecutionNotFound", "ValidationException"}:
                raise

    def state(self, name: str) -> ExecutionState:
        try:
            status = self._sfn.describe_execution(executionArn=self.execution_arn(name))["status"]
        except ClientError as exc:
            if _error_code(exc) in {"ExecutionDoesNotExist", "ExecutionNotFound"}:
                return ExecutionState.MISSING
            raise
        return ExecutionState.RUNNING if status in {"RUNNING", "PENDING_REDRIVE"} else ExecutionState.ENDED

    def execution_arn(self, name: str) -> str:
        prefix, _, machine = self._state_machine_arn.rpartition(":stateMachine:")
        return f"{prefix}:execution:{machine}:{name}"


class StepFunctionsNotifier:
    """Starts the webhook-delivery state machine, which owns the retries."""

    def __init__(self, workflow: StepFunctionsWorkflow) -> None:
        self._workflow = workflow

    @classmethod
    def for_state_machine(cls, state_machine_arn: str) -> StepFunctionsNotifier:
        return cls(StepFunctionsWorkflow(state_machine_arn))

    def job_ended(self, job: MasterJob) -> None:
        summary = job.summary()
        self._workflow.start(
            f"{job.job_id}-notify-{job.run}",
            {
                "masterJobId": job.job_id,
                "run": job.run,
                "status": job.status.value,
                "summary": {
                    "totalSlides": summary.total_slides,
                    "completed": summary.completed,
                    "errors": summary.errors,
                    "skipped": summary.skipped,
                },
            },
        )
