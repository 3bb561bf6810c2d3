"""Ends a job whose execution ended without ending it: an EventBridge rule on the image
workflow's executions that ended FAILED, TIMED_OUT or ABORTED invokes EndAbandonedJob; events
it could not handle after its retries land in a dead-letter queue (alarmed in Monitoring)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import execution_events
from infra.nag import acknowledge


class AbandonedJobs(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        state_machine: sfn.StateMachine,
        function: lambda_.Function,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal_policy,
        )
        acknowledge(self.dead_letters, "AwsSolutions-SQS3", "This queue is the dead-letter queue.")
        max_age = Duration.hours(execution_events.MAX_EVENT_AGE_HOURS)
        function.configure_async_invoke(
            retry_attempts=execution_events.ASYNC_RETRY_ATTEMPTS,
            max_event_age=max_age,
            on_failure=destinations.SqsDestination(self.dead_letters),
        )
        pattern = execution_events.event_pattern(state_machine.state_machine_arn)
        self.rule = events.Rule(
            self,
            "ExecutionEndedRule",
            description="An image-generation execution ended without finishing its job",
            event_pattern=events.EventPattern(
                source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern["detail"]
            ),
            targets=[
                targets.LambdaFunction(
                    function, dead_letter_queue=self.dead_letters, max_event_age=max_age, retry_attempts=8
                )
            ],
        )
