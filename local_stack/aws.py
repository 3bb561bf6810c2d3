"""AWS on 127.0.0.1: a moto server with its ASL engine on, whose Lambda invokes reach our real
task handlers in the local Lambda runtime."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3
import requests
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError
from moto.core.responses import EmptyResult
from moto.server import ThreadedMotoServer
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.responses import StepFunctionResponse

from infra.function_catalogue import function_name
from local_stack.lambda_runtime import ACCOUNT, REGION, InvokeRefused, LambdaRuntime, function_arn
from statemachine import definition

STATE_MACHINE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/storyimages-state-machine"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


class MotoLambdaBridge:
    """Stands in for moto's 'always succeeds' Lambda: each invoke the ASL engine makes goes to
    the local Lambda runtime, and a function error comes back as Lambda returns it."""

    def __init__(self, runtime: LambdaRuntime) -> None:
        self._runtime = runtime
        self._original: Any = None

    def install(self) -> None:
        runtime = self._runtime
        self._original = LambdaSimpleBackend.invoke

        def invoke(
            backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any
        ) -> bytes:
            name = function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
            try:
                payload, error_type, _ = runtime.invoke(name, json.loads(body) if body else {})
            except InvokeRefused as refused:
                # An Invoke API error: Step Functions names it Lambda.<code>.
                error = JsonRESTError(refused.code, refused.message)
                error.code = refused.status
                if refused.fields:  # the shape's other members: a throttle's Reason and Type
                    body_fields = {"__type": refused.code, "message": refused.message, **refused.fields}
                    error.description = json.dumps(body_fields)
                raise error from None
            if error_type is not None:
                # What Lambda does for an unhandled error; Step Functions matches errorType.
                response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(payload).encode()

        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        if self._original is not None:
            LambdaSimpleBackend.invoke = self._original  # type: ignore[method-assign]
            self._original = None


class CallbackFixes:
    """Two things moto's callback pattern (`.waitForTaskToken`) gets wrong, put right:

    - its SendTaskFailure drops the request's `cause` (the response handler passes only the
      error on), so a Catch would see `Cause` empty where Step Functions gives the worker's text;
    - a retried attempt keeps the first attempt's token, whose endpoint still holds the first
      attempt's answer, so the retry "fails" at once without any worker seeing it. In Step
      Functions each attempt waits on a token of its own: here each retry gets a fresh one.
    """

    def __init__(self) -> None:
        self._originals: dict[str, Any] = {}

    def install(self) -> None:
        self._originals = {
            "send_task_failure": StepFunctionResponse.send_task_failure,
            "_eval_execution": StateTaskServiceCallback._eval_execution,
        }
        original_execution = self._originals["_eval_execution"]

        def send_task_failure(response: Any) -> EmptyResult:
            response.stepfunction_backend.send_task_failure(
                response._get_param("taskToken"), error=response._get_param("error"), cause=response._get_param("cause")
            )
            return EmptyResult()

        def eval_execution(task: Any, env: Any) -> None:
            waits = task.resource.condition == ResourceCondition.WaitForTaskToken
            if waits and env.states.context_object.context_object_data["State"]["RetryCount"] > 0:
                env.callback_pool_manager.add(env.states.context_object.update_task_token())
            original_execution(task, env)

        StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign,assignment]
        StateTaskServiceCallback._eval_execution = eval_execution  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        if self._originals:
            StepFunctionResponse.send_task_failure = self._originals["send_task_failure"]  # type: ignore[method-assign]
            StateTaskServiceCallback._eval_execution = self._originals["_eval_execution"]  # type: ignore[method-assign]
            self._originals = {}


class MotoAws:
    """The moto server plus the resources the stack needs: bucket, secrets, state machine."""

    def __init__(self, *, lambdas: MotoLambdaBridge) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._lambdas = lambdas
        self._callback_fixes = CallbackFixes()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoAws:
        self._lambdas.install()
        self._callback_fixes.install()
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        requests.post(f"{self.url}/moto-api/config", json=MOTO_CONFIG, timeout=10).raise_for_status()
        return self

    def stop(self) -> None:
        self._server.stop()
        self._lambdas.uninstall()
        self._callback_fixes.uninstall()

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 (moto accepts any)
        )

    def create_bucket(self, bucket: str) -> None:
        self.client("s3").create_bucket(Bucket=bucket)

    def create_secret(self, name: str, value: str) -> str:
        return str(self.client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"])

    def create_queue(
        self,
        name: str,
        *,
        visibility_timeout_seconds: int,
        retention_seconds: int,
        dead_letters: str | None = None,
        max_receive_count: int = 0,
    ) -> tuple[str, str]:
        """A standard queue (with its redrive to `dead_letters`, a queue ARN): its URL and ARN."""
        attributes = {
            "VisibilityTimeout": str(visibility_timeout_seconds),
            "MessageRetentionPeriod": str(retention_seconds),
        }
        if dead_letters is not None:
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dead_letters, "maxReceiveCount": max_receive_count}
            )
        sqs = self.client("sqs")
        url = str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, str(arn)

    def create_state_machines(self, retry_numbers: Mapping[str, int], *, image_queue_url: str) -> dict[str, str]:
        arns = {placeholder: function_arn(function_name(placeholder)) for placeholder in definition.TASK_FUNCTIONS}
        text = arns | {definition.IMAGE_QUEUE_URL: image_queue_url}
        created: dict[str, str] = {}
        for name in definition.STATE_MACHINES:
            response = self.client("stepfunctions").create_state_machine(
                name=f"storyimages-{name.replace('_', '-')}",
                definition=definition.render(name, retry_numbers, text),
                roleArn=STATE_MACHINE_ROLE,
                type="STANDARD",
            )
            created[name] = str(response["stateMachineArn"])
        return created
