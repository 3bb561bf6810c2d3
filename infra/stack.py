"""The storyimages stack: composes the capabilities and wires them to each other."""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.bundling import lambda_code
from infra.capabilities.abandoned_jobs import AbandonedJobs
from infra.capabilities.api import Api
from infra.capabilities.functions import Functions
from infra.capabilities.image_bucket import ImageBucket
from infra.capabilities.image_queue import ImageQueue
from infra.capabilities.monitoring import Monitoring
from infra.capabilities.secrets import Secrets
from infra.capabilities.workflows import Workflows
from infra.config import StackConfig
from infra.function_catalogue import Reference
from infra.nag import acknowledge, arn_of
from statemachine import definition


class StoryImagesStack(Stack):
    def __init__(
        self, scope: Construct, id: str, *, config: StackConfig, code: lambda_.Code | None = None, **kwargs: Any
    ) -> None:
        super().__init__(scope, id, **kwargs)
        removal = RemovalPolicy.DESTROY if config.removal_policy == "destroy" else RemovalPolicy.RETAIN
        secrets = Secrets(self, "Secrets", removal_policy=removal)
        images = ImageBucket(self, "ImageBucket", retention_days=config.image_retention_days, removal_policy=removal)
        functions = Functions(
            self, "Functions", config=config, code=code or lambda_code(), secrets=secrets, removal_policy=removal
        )
        name_prefix = f"storyimages-{config.environment}"
        # The cap on images in flight across every story: the event source's maximum concurrency.
        image_queue = ImageQueue(
            self,
            "ImageQueue",
            worker=functions.generate_slide_image,
            max_concurrency=config.image_concurrency,
            queue_name=f"{name_prefix}-image-queue",
        )
        workflows = Workflows(
            self,
            "Workflows",
            functions=functions,
            queues={definition.IMAGE_QUEUE_URL: image_queue.queue},
            name_prefix=name_prefix,
            log_retention_days=config.log_retention_days,
            removal_policy=removal,
        )
        api = Api(
            self,
            "Api",
            handlers={
                "StartGeneration": functions.start_generation,
                "JobStatus": functions.job_status,
                "JobControl": functions.job_control,
            },
            authorizer_function=functions.authorizer,
            stage_name=config.environment,
            cors_allowed_origins=config.cors_allowed_origins,
            throttle_rate_limit=config.api_throttle_rate_limit,
            throttle_burst_limit=config.api_throttle_burst_limit,
            log_retention_days=config.log_retention_days,
            removal_policy=removal,
        )
        self._wire(functions, workflows, images)
        # The worker answers the image workflow's waiting tasks, and nothing else does. Step
        # Functions authorizes SendTask* on the state machine the token's execution belongs to.
        workflows.image_generation.grant_task_response(functions.generate_slide_image)
        abandoned = AbandonedJobs(
            self,
            "AbandonedJobs",
            state_machine=workflows.image_generation,
            function=functions.all["EndAbandonedJob"],
            removal_policy=removal,
        )
        Monitoring(
            self,
            "Monitoring",
            functions=functions.all,
            image_worker=functions.generate_slide_image,
            image_queue=image_queue.queue,
            state_machines={
                "ImageGeneration": workflows.image_generation,
                "WebhookDelivery": workflows.webhook_delivery,
            },
            api=api.rest_api,
            dead_letter_queues={"AbandonedJobEvents": abandoned.dead_letters, "ImageQueue": image_queue.dead_letters},
            alarm_email=config.alarm_email,
        )
        CfnOutput(self, "ApiUrl", value=api.rest_api.url)
        CfnOutput(self, "ImagesBucket", value=images.bucket.bucket_name)
        CfnOutput(self, "ImageQueueUrl", value=image_queue.queue.queue_url)
        CfnOutput(self, "ImageDeadLetterQueueUrl", value=image_queue.dead_letters.queue_url)
        CfnOutput(self, "OpenAIApiKeySecret", value=secrets.openai_api_key.secret_name)
        CfnOutput(self, "FirebaseServiceAccountSecret", value=secrets.firebase_service_account.secret_name)
        CfnOutput(self, "WebhookSigningSecret", value=secrets.webhook_signing.secret_name)

    def _wire(self, functions: Functions, workflows: Workflows, images: ImageBucket) -> None:
        """Each function gets the ARNs it is configured with and exactly the actions it calls."""
        image_machine, webhook_machine = workflows.image_generation, workflows.webhook_delivery
        executions = self.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{workflows.image_generation_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        executions_finding = (
            f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{workflows.image_generation_name}:*"
        )
        for function in functions.bind(Reference.IMAGE_GENERATION_STATE_MACHINE, image_machine.state_machine_arn):
            image_machine.grant_start_execution(function)
        # Start asks whether a story's execution still runs; job control also stops one.
        for function, actions in (
            (functions.start_generation, ["states:DescribeExecution"]),
            (functions.job_control, ["states:DescribeExecution", "states:StopExecution"]),
        ):
            _allow(
                function,
                actions,
                executions,
                finding=executions_finding,
                reason="Executions are named per job at run time; the ARN pins the state machine.",
            )
        for function in functions.bind(Reference.WEBHOOK_DELIVERY_STATE_MACHINE, webhook_machine.state_machine_arn):
            webhook_machine.grant_start_execution(function)

        images_finding = f"{arn_of(images.bucket)}/images/*"
        # Every function given the bucket reads images (presigned URLs are signed with the
        # reading function's own credentials; the ending tasks look for stored images).
        for function in functions.bind(Reference.IMAGES_BUCKET, images.bucket.bucket_name):
            writes = function is functions.generate_slide_image
            _allow(
                function,
                ["s3:GetObject", "s3:PutObject"] if writes else ["s3:GetObject"],
                images.images_arn(),
                finding=images_finding,
                reason=f"{'Writes and reads' if writes else 'Reads'} images under the images/ prefix, nothing else.",
            )
            if function is functions.job_status:
                continue  # it presigns GETs and never asks what exists
            # Whether an image exists is a listing by prefix (S3ImageStorage.exists).
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[images.bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": ["images/*"]}},
                )
            )
        functions.check_bound()


def _allow(function: lambda_.Function, actions: list[str], resource: str, *, finding: str, reason: str) -> None:
    """A statement on a resource pattern, acknowledged for cdk-nag with why the pattern is needed."""
    function.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[resource]))
    assert function.role is not None
    acknowledge(function.role, f"AwsSolutions-IAM5[Resource::{finding}]", reason)
