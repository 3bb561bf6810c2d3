"""Each Lambda handler's environment for importing it on this machine (cold-start checks, the
OpenAPI generator, the asset check): the environment the template gives its function
(`infra.function_catalogue`, the deployment defaults), with a placeholder for every value that
names another resource and FIRESTORE_EMULATOR_HOST pointing at a closed port, so that nothing is
contacted and no configuration is written twice."""

from __future__ import annotations

from collections.abc import Mapping

from infra.config import StackConfig
from infra.function_catalogue import FunctionSpec, Reference, function_specs
from local_stack.lambda_runtime import ACCOUNT, REGION

# What each reference resolves to at deploy time, in the shape it will have; never contacted.
PLACEHOLDERS: Mapping[Reference, str] = {
    Reference.FIREBASE_SERVICE_ACCOUNT: f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:placeholder-firebase",
    Reference.OPENAI_API_KEY: f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:placeholder-openai",
    Reference.WEBHOOK_SIGNING_KEY: f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:placeholder-webhook",
    Reference.IMAGES_BUCKET: "placeholder-images-bucket",
    Reference.IMAGE_GENERATION_STATE_MACHINE: f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:placeholder",
    Reference.WEBHOOK_DELIVERY_STATE_MACHINE: f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:placeholder-webhooks",
}
# Beside the template's variables: the Lambda runtime's region, and an emulator host that
# nothing listens on, so the Firestore client never looks for Google credentials.
NOT_CONTACTED = {
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",
}
DEPLOYMENT = StackConfig.model_validate({"firebaseProjectId": "placeholder-project"})


def handler_module(spec: FunctionSpec) -> str:
    """storyimages.handlers.job_status:handler -> job_status"""
    return spec.handler.partition(":")[0].rpartition(".")[2]


SPECS: Mapping[str, FunctionSpec] = {handler_module(spec): spec for spec in function_specs(DEPLOYMENT).values()}
HANDLERS = tuple(SPECS)  # by module name, in the order the template defines the functions


def placeholder_environment(spec: FunctionSpec) -> dict[str, str]:
    """The function's template environment with placeholders for references, contacting nothing."""
    return spec.resolved_environment(PLACEHOLDERS) | NOT_CONTACTED


def lambda_environment(name: str) -> dict[str, str]:
    """What handler `name` ("job_status") imports with here."""
    return placeholder_environment(SPECS[name])


# Every function's variables at once, for tools that import every handler with one environment
# (where values differ, as FIRESTORE_DEADLINE_SECONDS does between API and task functions, the
# last function's wins: any is valid for an import); `lambda_environment` gives each its own.
LAMBDA_ENV: dict[str, str] = {key: value for name in HANDLERS for key, value in lambda_environment(name).items()}
