"""Alarms on what needs a person (failed executions, Lambda errors and throttles, API 5xx, an
image queue that does not drain, dead letters) and on what users feel (slides failing, images
refused in a burst, webhooks given up on, 5xx from the start route), sent to an SNS topic (and an
e-mail address when configured), and one dashboard.

Hand-written rather than cdk-monitoring-constructs (10.3.3 would fit aws-cdk-lib 2.275: it asks
for >=2.160): the alarms (one or a few per resource, three on business metrics, one on the start
route) and one dashboard read plainly in CDK's own CloudWatch constructs, whose every alarm the
tests can name, while the library would add a jsii dependency, its own naming of alarms and
widgets, and defaults to review for a few custom metrics. The business metrics' names, namespace
and dimensions come from `storyimages.business_metrics`, which the functions emit by."""

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
from infra.function_catalogue import SERVICE_NAME
from storyimages import business_metrics
from storyimages.api.routes import ROUTES, START_PATH
from storyimages.business_metrics import Metric, WebhookOutcome

FIVE_MINUTES = Duration.minutes(5)
# This one raises to Step Functions when a receiver is unreachable, and it retries.
# GenerateSlideImage is not here any more: it answers every failure of an image (a rate limit,
# an outage) to the slide's waiting task by name, and the workflow retries those. The worker
# itself fails only when it cannot answer (Step Functions refuses or is unreachable, a malformed
# message, a timeout or a failed init): SQS gives the message back, but only after the
# visibility timeout, and one that keeps failing is dead-lettered and leaves its slide waiting
# until the task times out. Not a normal event, so the first one alarms.
RETRIED_BY_DESIGN = frozenset({"DeliverWebhook"})

# The slide-failure rate alarm: the share of slides recorded failed (past every retry) among the
# slides that ended in five minutes, once at least this many ended, so one failed slide of two
# does not page. Two periods of three: a single bad window (one story whose slides all fail)
# does not page, a rate that holds for ten minutes of fifteen does, and one window under the
# volume (or clean) in between does not reset it as three of three would.
SLIDE_FAILURE_RATE = 0.25
SLIDE_FAILURE_MIN_SLIDES = 10
SLIDE_FAILURE_PERIODS = (2, 3)  # (datapoints to alarm, evaluation periods)
# Images refused by the image service's moderation in five minutes: a burst suggests abuse or a
# prompt template that now trips the policy. One story whose every slide is refused can reach it
# too (a refusal comes back at once), and that is worth a look as well.
REJECTED_IMAGES_BURST = 10


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

        start_errors = self._user_alarms(api)

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
        # What users feel first, then how the parts behave, then every alarm's state.
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Image latency (the image service's time for one image)",
                left=[business_metric(Metric.IMAGE_LATENCY, statistic) for statistic in ("p50", "p90", "p99")],
                left_y_axis=cloudwatch.YAxisProps(label="ms", show_units=False),
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Time queued for capacity, and the oldest slide waiting",
                left=[business_metric(Metric.TIME_QUEUED, statistic) for statistic in ("p50", "p90", "Maximum")],
                left_y_axis=cloudwatch.YAxisProps(label="ms", show_units=False),
                right=[
                    image_queue.metric_approximate_age_of_oldest_message(
                        period=FIVE_MINUTES, statistic="Maximum", label="oldest slide waiting (s)"
                    )
                ],
                right_y_axis=cloudwatch.YAxisProps(label="s", show_units=False),
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Slides completed and failed",
                left=[
                    business_metric(Metric.SLIDES_COMPLETED, label="completed"),
                    business_metric(Metric.SLIDES_FAILED, label="failed"),
                ],
                right=[slide_failure_rate()],
                right_y_axis=cloudwatch.YAxisProps(min=0, max=1, show_units=False),
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Slides failed by error code",
                left=[search_by(Metric.SLIDES_FAILED)],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Jobs started, and ended by status",
                left=[business_metric(Metric.JOBS_STARTED, label="started")]
                + [
                    business_metric(Metric.JOBS_ENDED, value=status, label=f"ended {status}")
                    for status in business_metrics.JOB_END_STATUSES
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Webhook deliveries by outcome",
                left=[
                    business_metric(Metric.WEBHOOK_DELIVERIES, value=outcome, label=outcome)
                    for outcome in WebhookOutcome
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Image service rate-limit answers (429)",
                left=[business_metric(Metric.PROVIDER_RATE_LIMITED, label="rate limited")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Status answers served",
                left=[business_metric(Metric.STATUS_READS, label="status reads")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Start route: 5xx answered",
                left=[start_errors],
                width=8,
            ),
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

    def _user_alarms(self, api: apigw.RestApi) -> cloudwatch.Metric:
        """The alarms on what users feel, from the functions' business metrics and the start
        route's answers; returns the start route's 5xx for the dashboard."""
        self._alarm(
            "SlideFailureRate",
            slide_failure_rate(),
            SLIDE_FAILURE_RATE,
            SLIDE_FAILURE_PERIODS[1],
            datapoints_to_alarm=SLIDE_FAILURE_PERIODS[0],
            description=(
                f"At least {SLIDE_FAILURE_RATE:.0%} of the slides that ended failed (at least "
                f"{SLIDE_FAILURE_MIN_SLIDES} ended) in {SLIDE_FAILURE_PERIODS[0]} of "
                f"{SLIDE_FAILURE_PERIODS[1]} five-minute windows. First look at the dashboard's "
                "slides failed by error code."
            ),
        )
        self._alarm(
            "RejectedImagesBurst",
            business_metric(Metric.SLIDES_FAILED, value=business_metrics.IMAGE_REJECTED),
            REJECTED_IMAGES_BURST,
            description=(
                f"At least {REJECTED_IMAGES_BURST} images refused by the image service's moderation in "
                "five minutes: abuse, or a prompt template that now trips the policy. First find the "
                f"jobs in the logs (errorCode {business_metrics.IMAGE_REJECTED})."
            ),
        )
        # Each failed attempt already counts as a DeliverWebhook error (DeliverWebhookErrorsSustained
        # watches those); a delivery given up on is a job whose receiver never heard of its end.
        self._alarm(
            "WebhookGaveUp",
            business_metric(Metric.WEBHOOK_DELIVERIES, value=WebhookOutcome.GAVE_UP),
            1,
            description=(
                "A job's webhook failed every attempt: its receiver never learned the job ended. First "
                "find the job in the logs (outcome gave_up) and check its receiver."
            ),
        )
        # API Gateway counts every 5xx it answered on the route, the 502 of a function that
        # failed and the 504 of one that took too long included, which the handler never sees.
        start_errors = start_method(api).metric_server_error(api.deployment_stage, period=FIVE_MINUTES)
        self._alarm(
            "StartGeneration5xx",
            start_errors,
            1,
            description=(
                "The start route answered a 5xx: a story could not be illustrated (Api5xx, on every route, "
                "fires with it). First read the StartGeneration function's errors and the API's access logs "
                "(502/504 come from the gateway)."
            ),
        )
        return start_errors

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        evaluation_periods: int = 1,
        *,
        datapoints_to_alarm: int | None = None,
        description: str | None = None,
    ) -> None:
        # Missing data is not breaching: the business metrics have no data point in a window
        # where nothing happened (EMF publishes only what a function emitted).
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            alarm_description=description,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)


def business_metric(
    metric: Metric, statistic: str = "Sum", *, value: str | None = None, label: str | None = None
) -> cloudwatch.Metric:
    """A business metric over five minutes: the aggregate series (the service alone) or, given
    the value of the metric's own dimension, that value's series."""
    dimensions = {business_metrics.SERVICE_DIMENSION: SERVICE_NAME}
    if value is not None:
        dimensions[business_metrics.DIMENSIONS[metric]] = value
    return cloudwatch.Metric(
        namespace=business_metrics.NAMESPACE,
        metric_name=metric,
        dimensions_map=dimensions,
        statistic=statistic,
        period=FIVE_MINUTES,
        label=label,
    )


def slide_failure_rate() -> cloudwatch.MathExpression:
    """Failed / (completed + failed) slides, 0 under the minimum volume. A window without a
    completed (or failed) slide has no data point for it: FILL makes it 0, or the window where
    every slide fails would have no rate at all."""
    filled = cloudwatch.MathExpression(
        expression="FILL(failed, 0) + FILL(completed, 0)",
        using_metrics={
            "failed": business_metric(Metric.SLIDES_FAILED),
            "completed": business_metric(Metric.SLIDES_COMPLETED),
        },
        label="slides ended",
        period=FIVE_MINUTES,
    )
    return cloudwatch.MathExpression(
        expression=f"IF(ended >= {SLIDE_FAILURE_MIN_SLIDES}, FILL(failed, 0) / ended, 0)",
        using_metrics={"failed": business_metric(Metric.SLIDES_FAILED), "ended": filled},
        label="failure rate",
        period=FIVE_MINUTES,
    )


def search_by(metric: Metric) -> cloudwatch.MathExpression:
    """Every value of the metric's own dimension, one line each (a dashboard may search, an
    alarm may not)."""
    dimension = business_metrics.DIMENSIONS[metric]
    service = business_metrics.SERVICE_DIMENSION
    search = f'{{{business_metrics.NAMESPACE},{service},{dimension}}} MetricName="{metric}" {service}="{SERVICE_NAME}"'
    return cloudwatch.MathExpression(
        expression=f"SEARCH('{search}', 'Sum', {int(FIVE_MINUTES.to_seconds())})",
        using_metrics={},
        label="",
        period=FIVE_MINUTES,
    )


def start_method(api: apigw.RestApi) -> apigw.Method:
    """The start route's method, whose per-method metrics the stage publishes (metrics_enabled)."""
    (route,) = [r for r in ROUTES if r.path == START_PATH]
    (method,) = [m for m in api.methods if m.http_method == route.method and m.resource.path == route.resource]
    return method
