"""The image-generation workflow as a Step Functions Standard execution per job."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from storyimages.domain.errors import WorkflowStartFailed


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
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                # Same name, different input: the execution for this job exists already.
                return self.execution_arn(name)
            raise WorkflowStartFailed(f"could not start the workflow: {exc}") from exc
        except BotoCoreError as exc:
            raise WorkflowStartFailed(f"could not reach Step Functions: {exc}") from exc
        return str(response["executionArn"])

    def execution_arn(self, name: str) -> str:
        prefix, _, machine = self._state_machine_arn.rpartition(":stateMachine:")
        return f"{prefix}:execution:{machine}:{name}"
