"""The Lambdas: Python 3.12, one shared asset, each with its own role, log group and only the
environment and permissions its handler uses. Permissions that involve another capability
(a state machine, the bucket) are granted where that capability is wired (see the stack)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.capabilities.secrets import Secrets
from infra.config import StackConfig
from infra.nag import acknowledge
from statemachine.definition import TASK_FUNCTIONS
from storyimages.api.routes import AUTHORIZER_HANDLER, ROUTES

API_TIMEOUT = Duration.seconds(29)  # API Gateway cuts a REST integration at 29 s
MEMORY_MB = 512
# The image function mostly waits on OpenAI and passes bytes through: more memory buys nothing.
IMAGE_MEMORY_MB = 512
TASK_TIMEOUT = Duration.seconds(60)


def lambda_handler(path: str) -> str:
    """ "package.module:function" (our tables) -> "package.module.function" (Lambda's)."""
    module, _, function = path.partition(":")
    return f"{module}.{function}"


class Functions(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: StackConfig,
        code: lambda_.Code,
        secrets: Secrets,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        self._config = config
        self._code = code
        self._removal_policy = removal_policy
        self._log_retention = retention(config.log_retention_days)
        self.all: dict[str, lambda_.Function] = {}

        firestore = {"FIREBASE_PROJECT_ID": config.firebase_project_id}
        self.authorizer = self._function("Authorizer", AUTHORIZER_HANDLER, firestore, timeout=Duration.seconds(10))

        firestore["FIREBASE_CREDENTIALS_SECRET_ID"] = secrets.firebase_service_account.secret_arn
        api = {**firestore, "CORS_ALLOWED_ORIGINS": ",".join(config.cors_allowed_origins)}
        generation = {
            "DELAY_SECONDS": str(config.delay_seconds),
            "MAX_DELAY_SECONDS": str(config.max_delay_seconds),
            "MAX_CONCURRENCY": str(config.max_concurrency),
            "MAX_SLIDES": str(config.max_slides),
            "IMAGE_MODEL": config.image_model,
            "IMAGE_SIZE": config.image_size,
            "IMAGE_QUALITY": config.image_quality,
        }
        handlers = {route.function: route.handler for route in ROUTES}
        self.start_generation = self._function("StartGeneration", handlers["StartGeneration"], api | generation)
        self.job_status = self._function("JobStatus", handlers["JobStatus"], api)
        self.job_control = self._function("JobControl", handlers["JobControl"], api | generation)

        tasks = {placeholder.removesuffix("FunctionArn"): handler for placeholder, handler in TASK_FUNCTIONS.items()}
        image_timeout = Duration.seconds(config.image_timeout_seconds)
        self.generate_slide_image = self._function(
            "GenerateSlideImage",
            tasks["GenerateSlideImage"],
            firestore
            | {
                "OPENAI_API_KEY_SECRET_ID": secrets.openai_api_key.secret_arn,
                # Leave the function time to store the image and record it after the longest answer.
                "OPENAI_TIMEOUT_SECONDS": str(config.image_timeout_seconds - 30),
            },
            timeout=image_timeout,
            memory_mb=IMAGE_MEMORY_MB,
            reserved_concurrency=config.image_concurrency,
        )
        self.record_slide_failure = self._function("RecordSlideFailure", tasks["RecordSlideFailure"], firestore)
        self.finalize_job = self._function("FinalizeJob", tasks["FinalizeJob"], firestore)
        self.mark_job_failed = self._function("MarkJobFailed", tasks["MarkJobFailed"], firestore)
        self.deliver_webhook = self._function(
            "DeliverWebhook",
            tasks["DeliverWebhook"],
            firestore | {"WEBHOOK_SECRET_ID": secrets.webhook_signing.secret_arn},
        )
        self.record_webhook_failure = self._function("RecordWebhookFailure", tasks["RecordWebhookFailure"], firestore)

        for function in self.firestore_users:
            secrets.firebase_service_account.grant_read(function)
        secrets.openai_api_key.grant_read(self.generate_slide_image)
        secrets.webhook_signing.grant_read(self.deliver_webhook)

    @property
    def firestore_users(self) -> list[lambda_.Function]:
        return [f for f in self.all.values() if f is not self.authorizer]

    @property
    def task_functions(self) -> dict[str, lambda_.Function]:
        """By their placeholder in the ASL."""
        return {
            "GenerateSlideImageFunctionArn": self.generate_slide_image,
            "RecordSlideFailureFunctionArn": self.record_slide_failure,
            "FinalizeJobFunctionArn": self.finalize_job,
            "MarkJobFailedFunctionArn": self.mark_job_failed,
            "DeliverWebhookFunctionArn": self.deliver_webhook,
            "RecordWebhookFailureFunctionArn": self.record_webhook_failure,
        }

    def _function(
        self,
        name: str,
        handler: str,
        environment: Mapping[str, str],
        *,
        timeout: Duration = TASK_TIMEOUT,
        memory_mb: int = MEMORY_MB,
        reserved_concurrency: int | None = None,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self, f"{name}Logs", retention=self._log_retention, removal_policy=self._removal_policy
        )
        # An explicit role: logs to its own group only (the managed basic-execution policy allows any).
        role = iam.Role(self, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        # The group's ARN (`...:log-group:name:*`) covers its streams.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
            )
        )
        function = lambda_.Function(
            self,
            name,
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.X86_64,
            handler=lambda_handler(handler),
            code=self._code,
            memory_size=memory_mb,
            timeout=timeout if handler not in {r.handler for r in ROUTES} else API_TIMEOUT,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=reserved_concurrency,
            environment={
                "POWERTOOLS_SERVICE_NAME": "storyimages",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "STORYIMAGES_ENV": self._config.environment,
                **environment,
            },
            description=f"storyimages {name}",
        )
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", "X-Ray accepts trace segments only on `*`.")
        acknowledge(
            function,
            "AwsSolutions-L1",
            "Pinned to Python 3.12: the runtime the package is built and tested for.",
        )
        self.all[name] = function
        return function


_RETENTIONS = (
    (1, logs.RetentionDays.ONE_DAY),
    (3, logs.RetentionDays.THREE_DAYS),
    (5, logs.RetentionDays.FIVE_DAYS),
    (7, logs.RetentionDays.ONE_WEEK),
    (14, logs.RetentionDays.TWO_WEEKS),
    (30, logs.RetentionDays.ONE_MONTH),
    (60, logs.RetentionDays.TWO_MONTHS),
    (90, logs.RetentionDays.THREE_MONTHS),
    (180, logs.RetentionDays.SIX_MONTHS),
    (365, logs.RetentionDays.ONE_YEAR),
    (731, logs.RetentionDays.TWO_YEARS),
    (1827, logs.RetentionDays.FIVE_YEARS),
    (3653, logs.RetentionDays.TEN_YEARS),
)


def retention(days: int) -> logs.RetentionDays:
    """The shortest CloudWatch retention that keeps at least `days`."""
    return next((member for value, member in _RETENTIONS if value >= days), logs.RetentionDays.INFINITE)
