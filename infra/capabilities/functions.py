"""The Lambdas: Python 3.12, one shared asset, each with its own role, log group and only the
environment and permissions its handler uses. Permissions that involve another capability
(a state machine, the bucket) are granted where that capability is wired (see the stack)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.capabilities.secrets import Secrets
from infra.config import StackConfig
from infra.function_catalogue import FunctionSpec, Reference, function_specs, task_placeholder
from infra.nag import acknowledge
from statemachine.definition import TASK_FUNCTIONS


def lambda_handler(path: str) -> str:
    """ "package.module:function" (our tables) -> "package.module.function" (Lambda's)."""
    module, _, function = path.partition(":")
    return f"{module}.{function}"


class Functions(Construct):
    """One function per spec of `infra.function_catalogue`. Variables that name another resource
    are filled as that resource is wired: the secrets here, the bucket and state machines by `bind`."""

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
        self._code = code
        self._removal_policy = removal_policy
        self._log_retention = retention(config.log_retention_days)
        self.specs = function_specs(config)
        self.all: dict[str, lambda_.Function] = {name: self._function(spec) for name, spec in self.specs.items()}
        self._bound: set[Reference] = set()
        for reference, secret in (
            (Reference.FIREBASE_SERVICE_ACCOUNT, secrets.firebase_service_account),
            (Reference.OPENAI_API_KEY, secrets.openai_api_key),
            (Reference.WEBHOOK_SIGNING_KEY, secrets.webhook_signing),
        ):
            for function in self.bind(reference, secret.secret_arn):
                secret.grant_read(function)

    def bind(self, reference: Reference, value: str) -> list[lambda_.Function]:
        """Give every function configured with `reference` its value; the functions that got it."""
        bound = []
        for name, spec in self.specs.items():
            for variable in (v for v, ref in spec.references.items() if ref is reference):
                self.all[name].add_environment(variable, value)
                bound.append(self.all[name])
        self._bound.add(reference)
        return bound

    def check_bound(self) -> None:
        """Every reference a function is configured with has been given its value."""
        needed = {ref for spec in self.specs.values() for ref in spec.references.values()}
        if needed - self._bound:
            raise ValueError(f"functions still need {sorted(needed - self._bound)}")

    @property
    def authorizer(self) -> lambda_.Function:
        return self.all["Authorizer"]

    @property
    def start_generation(self) -> lambda_.Function:
        return self.all["StartGeneration"]

    @property
    def job_status(self) -> lambda_.Function:
        return self.all["JobStatus"]

    @property
    def job_control(self) -> lambda_.Function:
        return self.all["JobControl"]

    @property
    def generate_slide_image(self) -> lambda_.Function:
        return self.all["GenerateSlideImage"]

    @property
    def task_functions(self) -> dict[str, lambda_.Function]:
        """By their placeholder in the ASL."""
        return {task_placeholder(name): self.all[name] for name in self.all if task_placeholder(name) in TASK_FUNCTIONS}

    def _function(self, spec: FunctionSpec) -> lambda_.Function:
        name = spec.name
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
            handler=lambda_handler(spec.handler),
            code=self._code,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=spec.reserved_concurrency,
            environment=spec.literal_environment,
            description=f"storyimages {name}",
        )
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", "X-Ray accepts trace segments only on `*`.")
        acknowledge(
            function,
            "AwsSolutions-L1",
            "Pinned to Python 3.12: the runtime the package is built and tested for.",
        )
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
