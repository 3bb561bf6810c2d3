"""The two Standard state machines, loaded from statemachine/ with their placeholders filled
(the definitions stay visible in the template), logging every event, with X-Ray on. Each may
invoke the functions and send to the queues its definition names, nothing else."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.capabilities.functions import Functions, retention
from infra.nag import acknowledge
from statemachine import definition


class Workflows(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        functions: Functions,
        queues: Mapping[str, sqs.IQueue],
        name_prefix: str,
        log_retention_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        self._functions = functions
        self._queues = queues  # by their URL's placeholder in the ASL
        self._name_prefix = name_prefix
        self._retention = retention(log_retention_days)
        self._removal_policy = removal_policy
        self.image_generation_name = self._name(definition.IMAGE_GENERATION)
        self.image_generation = self._state_machine("ImageGeneration", definition.IMAGE_GENERATION)
        self.webhook_delivery = self._state_machine("WebhookDelivery", definition.WEBHOOK_DELIVERY)

    def _name(self, asl: str) -> str:
        return f"{self._name_prefix}-{asl.replace('_', '-')}"

    def _state_machine(self, name: str, asl: str) -> sfn.StateMachine:
        placeholders = definition.text_placeholders(asl)
        tasks = {p: f for p, f in self._functions.task_functions.items() if p in placeholders}
        queues = {p: q for p, q in self._queues.items() if p in placeholders}
        unfilled = placeholders - set(tasks) - set(queues)
        if unfilled:
            raise ValueError(f"{asl} has placeholders nothing fills: {sorted(unfilled)}")
        log_group = logs.LogGroup(self, f"{name}Logs", retention=self._retention, removal_policy=self._removal_policy)
        machine = sfn.StateMachine(
            self,
            name,
            # A readable name in the console; execution ARNs are built from it.
            state_machine_name=self._name(asl),
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(definition.render(asl)),
            definition_substitutions={p: f.function_arn for p, f in tasks.items()}
            | {p: q.queue_url for p, q in queues.items()},
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            tracing_enabled=True,
        )
        # The ASL invokes each function unqualified: that ARN, not its versions too (grant_invoke).
        machine.add_to_role_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[f.function_arn for f in tasks.values()])
        )
        for queue in queues.values():
            queue.grant_send_messages(machine)
        acknowledge(
            machine,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions log delivery (logs:*LogDelivery*) and X-Ray accept only `*`.",
        )
        return machine
