"""Alarms on what needs a person (failed executions, Lambda errors and throttles, API 5xx, an
image queue that does not drain, dead letters), sent to an SNS topic (and an e-mail address when
configured), and one dashboard."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import image_queue as image_queue_settings

FIVE_MINUTES = Duration.minutes(5)
# This one raises to Step Functions when a receiver is unreachable, and it retries.
# GenerateSlideImage is not here any more: it answers every failure of an image (a rate limit,
# an outage) to the slide's waiting task by name, and the workflow retries those. The worker
# itself fails only when it cannot answer (Step Functions refuses or is unreachable, a malformed
# message, a timeout or a failed init): SQS gives the message back, but only after the
# visibility timeout, and one that keeps failing is dead-lettered and leaves its slide waiting
# until the task times out. Not a normal event, so the first one alarms.
RETRIED_BY_DESIGN = frozenset({"DeliverWebhook"})


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        functions: Mapping[str, lambda_.Function],
        image_worker: lambda_.Function,
        image_queue: sqs.IQueue,
        state_machines: Mapping[str, sfn.StateMachine],
        api: apigw.RestApi,
        dead_letter_queues: Mapping[str, sqs.IQueue],
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, id)
        # A key of our own: CloudWatch cannot publish to a topic encrypted with alias/aws/sns,
        # whose key policy no one can extend to it.
        key = kms.Key(self, "AlarmsKey", description="storyimages alarm topic", enable_key_rotation=True)
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "Alarms", display_name="storyimages alarms", enforce_ssl=True, master_key=key)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []

        for name, machine in state_machines.items():
            # A job whose every slide was refused, or a receiver that stayed down for hours, ends
            # an execution failed now and then; several in five minutes is an outage.
            self._alarm(f"{name}ExecutionsFailed", machine.metric_failed(period=FIVE_MINUTES), 3)
            self._alarm(f"{name}ExecutionsTimedOut", machine.metric_timed_out(period=FIVE_MINUTES), 1)
        for name, function in functions.items():
            if name in RETRIED_BY_DESIGN:
                # Only errors that go on for fifteen minutes need a person.
                self._alarm(f"{name}ErrorsSustained", function.metric_errors(period=FIVE_MINUTES), 10, 3)
            else:
                self._alarm(f"{name}Errors", function.metric_errors(period=FIVE_MINUTES), 1)
        # The image queue's event source never runs more workers than its maximum concurrency, so
        # the worker is throttled only when it may use less than that: its reserved concurrency
        # was set below the event source's maximum (by hand), or, unreserved, the account's
        # concurrency is used up by other functions. A throttled message goes back to the queue
        # and is retried, so a burst is harmless; throttling that lasts means slides wait longer
        # than the cap promises, and messages received too often are dead-lettered.
        self._alarm(
            "ImageThrottlesSustained",
            image_worker.metric_throttles(period=FIVE_MINUTES),
            10,
            evaluation_periods=3,
        )
        for name, function in functions.items():
            if function is not image_worker:
                self._alarm(f"{name}Throttles", function.metric_throttles(period=FIVE_MINUTES), 1)
        self._alarm("Api5xx", api.metric_server_error(period=FIVE_MINUTES), 1)
        # Slides wait in the image queue for capacity; an oldest message this old means the
        # queue grows faster than the capacity drains it (or the worker keeps failing on one).
        self._alarm(
            "ImageQueueOldestMessage",
            image_queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum"),
            image_queue_settings.OLDEST_MESSAGE_ALARM_SECONDS,
        )
        # A message there is work nothing could do: an abandoned-job event (a job may read open
        # until a person looks), or a slide whose task waits for an answer that will not come.
        for name, queue in dead_letter_queues.items():
            self._alarm(
                f"{name}DeadLetters", queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES), 1
            )

        waiting = image_queue.metric_approximate_number_of_messages_visible(
            period=FIVE_MINUTES, statistic="Maximum", label="waiting"
        )
        in_flight = image_queue.metric_approximate_number_of_messages_not_visible(
            period=FIVE_MINUTES, statistic="Maximum", label="in flight"
        )
        depth = cloudwatch.MathExpression(
            expression="waiting + inFlight",
            using_metrics={"waiting": waiting, "inFlight": in_flight},
            label="depth",
            period=FIVE_MINUTES,
        )
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=None)
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Executions",
                left=[
                    metric
                    for machine in state_machines.values()
                    for metric in (
                        machine.metric_started(period=FIVE_MINUTES),
                        machine.metric_succeeded(period=FIVE_MINUTES),
                        machine.metric_failed(period=FIVE_MINUTES),
                    )
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[api.metric_count(period=FIVE_MINUTES)],
                right=[api.metric_client_error(period=FIVE_MINUTES), api.metric_server_error(period=FIVE_MINUTES)],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Lambda errors",
                left=[f.metric_errors(period=FIVE_MINUTES, label=n) for n, f in functions.items()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Image worker: duration and throttles",
                # The median is the image latency that sizes imageConcurrency (docs/deploy.md).
                left=[
                    image_worker.metric_duration(period=FIVE_MINUTES, statistic=statistic)
                    for statistic in ("p50", "p90")
                ],
                right=[image_worker.metric_throttles(period=FIVE_MINUTES)],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Image queue: slides waiting and in flight, oldest message",
                left=[waiting, in_flight, depth],
                right=[
                    image_queue.metric_approximate_age_of_oldest_message(
                        period=FIVE_MINUTES, statistic="Maximum", label="oldest message (s)"
                    )
                ],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24),
        )

    def _alarm(self, name: str, metric: cloudwatch.Metric, threshold: float, evaluation_periods: int = 1) -> None:
        alarm = metric.create_alarm(
            self,
            name,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
