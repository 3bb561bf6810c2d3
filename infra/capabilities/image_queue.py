"""The image queue: every story's slides wait here for the image capacity they share. The image
workflow sends one message per slide (`sqs:sendMessage.waitForTaskToken`) and waits; the image
worker (GenerateSlideImage) takes them through an SQS event source whose maximum concurrency
is the cap on images in flight, and answers each slide's task. A message whose worker keeps
failing lands in a dead-letter queue (alarmed in Monitoring).

Its settings are `infra/image_queue.py`'s, which the local stack reads too."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import image_queue


class ImageQueue(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        worker: lambda_.Function,
        max_concurrency: int,
        queue_name: str,
    ) -> None:
        super().__init__(scope, id)
        assert worker.timeout is not None
        # Both are destroyed with the stack whatever the removal policy: a message is a slide's
        # task token, worth nothing once the executions that wait on it are gone.
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.seconds(image_queue.DEAD_LETTER_RETENTION_SECONDS),
            # Only the image queue may send here, so a redrive (StartMessageMoveTask, the console's
            # "Start DLQ redrive") moves its messages back there. The queue names this one in its
            # redrive policy, so it is referred to by the ARN its name makes (no cycle).
            redrive_allow_policy=sqs.RedriveAllowPolicy(
                redrive_permission=sqs.RedrivePermission.BY_QUEUE,
                source_queues=[
                    sqs.Queue.from_queue_arn(
                        self,
                        "QueueByName",
                        Stack.of(self).format_arn(
                            service="sqs", resource=queue_name, arn_format=ArnFormat.NO_RESOURCE_NAME
                        ),
                    )
                ],
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=queue_name,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(
                image_queue.visibility_timeout_seconds(int(worker.timeout.to_seconds()))
            ),
            retention_period=Duration.seconds(image_queue.RETENTION_SECONDS),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letters, max_receive_count=image_queue.MAX_RECEIVE_COUNT
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        # Failed records come back one by one (partial batch responses), after the visibility
        # timeout; the event source never runs more than `max_concurrency` workers at once.
        worker.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=image_queue.BATCH_SIZE,
                max_concurrency=max_concurrency,
                report_batch_item_failures=True,
            )
        )
