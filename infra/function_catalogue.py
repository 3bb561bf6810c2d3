"""Every Lambda function of the stack as data: its handler, limits and environment, derived from
the deployment's configuration. CDK builds the functions from it (`infra/capabilities/functions.py`)
and the local stack runs them from it (`local_stack/stack.py`), so a handler sees locally the
environment the template gives it, with only endpoints and credentials pointed at local peers.

No CDK here: the local stack imports this without starting jsii."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from infra import rest_api
from infra.config import StackConfig
from statemachine.definition import TASK_FUNCTIONS
from storyimages import defaults
from storyimages.api.routes import AUTHORIZER_HANDLER, ROUTES
from storyimages.business_metrics import SERVICE

SERVICE_NAME = SERVICE
MEMORY_MB = 512  # the image function mostly waits on OpenAI and passes bytes through
API_TIMEOUT_SECONDS = rest_api.INTEGRATION_TIMEOUT_SECONDS  # API Gateway answers 504 by then anyway
AUTHORIZER_TIMEOUT_SECONDS = 10
TASK_TIMEOUT_SECONDS = 60
# Ends a job whose execution ended without ending it; EventBridge invokes it on that event.
END_ABANDONED_JOB_HANDLER = "storyimages.handlers.end_abandoned_job:handler"
# Generates queued slides' images; the image queue's event source invokes it.
GENERATE_SLIDE_IMAGE_HANDLER = "storyimages.handlers.generate_slide_image:handler"


class Reference(StrEnum):
    """A value that exists once another resource does: CDK fills it with that resource's ARN or
    name at deploy time, the local stack with its local counterpart's."""

    FIREBASE_SERVICE_ACCOUNT = "FirebaseServiceAccount"  # the secrets hold these
    OPENAI_API_KEY = "OpenAIApiKey"
    WEBHOOK_SIGNING_KEY = "WebhookSigningKey"
    IMAGES_BUCKET = "ImagesBucket"
    IMAGE_GENERATION_STATE_MACHINE = "ImageGenerationStateMachine"
    WEBHOOK_DELIVERY_STATE_MACHINE = "WebhookDeliveryStateMachine"


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # the logical name: "StartGeneration"
    handler: str  # "package.module:function"
    environment: Mapping[str, str | Reference]
    timeout_seconds: int
    memory_mb: int = MEMORY_MB
    reserved_concurrency: int | None = None

    @property
    def literal_environment(self) -> dict[str, str]:
        return {key: value for key, value in self.environment.items() if not isinstance(value, Reference)}

    @property
    def references(self) -> dict[str, Reference]:
        """Variable -> the resource it names."""
        return {key: value for key, value in self.environment.items() if isinstance(value, Reference)}

    def resolved_environment(self, resources: Mapping[Reference, str]) -> dict[str, str]:
        missing = set(self.references.values()) - set(resources)
        if missing:
            raise ValueError(f"{self.name} needs {sorted(missing)}")
        return self.literal_environment | {key: resources[ref] for key, ref in self.references.items()}


def function_specs(config: StackConfig) -> dict[str, FunctionSpec]:
    """By logical name, in the order CDK defines them."""
    common: dict[str, str | Reference] = {
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_LOG_LEVEL": config.log_level,
        # Traces keep timings, errors and annotations, not what functions return: answers hold
        # signed image URLs and the stories' text.
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
        "STORYIMAGES_ENV": config.environment,
        "FIREBASE_PROJECT_ID": config.firebase_project_id,
    }
    firestore = common | {
        "FIREBASE_CREDENTIALS_SECRET_ID": Reference.FIREBASE_SERVICE_ACCOUNT,
        "FIRESTORE_DEADLINE_SECONDS": str(defaults.FIRESTORE_TASK_DEADLINE_SECONDS),
    }
    api = firestore | {
        "CORS_ALLOWED_ORIGINS": ",".join(config.cors_allowed_origins),
        "FIRESTORE_DEADLINE_SECONDS": str(defaults.FIRESTORE_API_DEADLINE_SECONDS),
    }
    generation: dict[str, str | Reference] = {
        "DELAY_SECONDS": str(config.delay_seconds),
        "MAX_DELAY_SECONDS": str(config.max_delay_seconds),
        "MAX_CONCURRENCY": str(config.max_concurrency),
        "MAX_SLIDES": str(config.max_slides),
        "IMAGE_MODEL": config.image_model,
        "IMAGE_SIZE": config.image_size,
        "IMAGE_QUALITY": config.image_quality,
    }
    workflows: dict[str, str | Reference] = {
        "STATE_MACHINE_ARN": Reference.IMAGE_GENERATION_STATE_MACHINE,
        "WEBHOOK_STATE_MACHINE_ARN": Reference.WEBHOOK_DELIVERY_STATE_MACHINE,
    }
    notifier: dict[str, str | Reference] = {"WEBHOOK_STATE_MACHINE_ARN": Reference.WEBHOOK_DELIVERY_STATE_MACHINE}
    bucket: dict[str, str | Reference] = {"IMAGES_BUCKET": Reference.IMAGES_BUCKET}

    routes = {route.function: route.handler for route in ROUTES}
    tasks = {placeholder.removesuffix("FunctionArn"): handler for placeholder, handler in TASK_FUNCTIONS.items()}
    specs = [
        FunctionSpec("Authorizer", AUTHORIZER_HANDLER, common, AUTHORIZER_TIMEOUT_SECONDS),
        FunctionSpec(
            "StartGeneration", routes["StartGeneration"], api | generation | workflows | bucket, API_TIMEOUT_SECONDS
        ),
        FunctionSpec("JobStatus", routes["JobStatus"], api | bucket, API_TIMEOUT_SECONDS),
        FunctionSpec("JobControl", routes["JobControl"], api | generation | workflows | bucket, API_TIMEOUT_SECONDS),
        FunctionSpec(
            "GenerateSlideImage",
            GENERATE_SLIDE_IMAGE_HANDLER,
            firestore
            | bucket
            | {
                "OPENAI_API_KEY_SECRET_ID": Reference.OPENAI_API_KEY,
                "OPENAI_TIMEOUT_SECONDS": str(defaults.openai_timeout_seconds(config.image_timeout_seconds)),
            },
            config.image_timeout_seconds,
            # The queue's event source caps it at the same figure; reserving it also keeps any
            # other caller from going past it, and keeps the capacity for it.
            reserved_concurrency=config.image_concurrency if config.reserve_image_concurrency else None,
        ),
        FunctionSpec("QueueSlideImage", tasks["QueueSlideImage"], firestore, TASK_TIMEOUT_SECONDS),
        FunctionSpec("RecordSlideFailure", tasks["RecordSlideFailure"], firestore | bucket, TASK_TIMEOUT_SECONDS),
        FunctionSpec("FinalizeJob", tasks["FinalizeJob"], firestore | bucket | notifier, TASK_TIMEOUT_SECONDS),
        FunctionSpec("MarkJobFailed", tasks["MarkJobFailed"], firestore | bucket | notifier, TASK_TIMEOUT_SECONDS),
        FunctionSpec(
            "DeliverWebhook",
            tasks["DeliverWebhook"],
            firestore | {"WEBHOOK_SECRET_ID": Reference.WEBHOOK_SIGNING_KEY},
            TASK_TIMEOUT_SECONDS,
        ),
        FunctionSpec("RecordWebhookFailure", tasks["RecordWebhookFailure"], firestore, TASK_TIMEOUT_SECONDS),
        FunctionSpec("EndAbandonedJob", END_ABANDONED_JOB_HANDLER, firestore | bucket | notifier, TASK_TIMEOUT_SECONDS),
    ]
    unlisted = set(tasks) - {spec.name for spec in specs}
    if unlisted:
        raise ValueError(f"the state machines name task functions with no spec here: {sorted(unlisted)}")
    return {spec.name: spec for spec in specs}


def function_name(logical: str) -> str:
    """The name the local stack deploys a function under: GenerateSlideImage (or its ASL
    placeholder GenerateSlideImageFunctionArn) -> storyimages-generate-slide-image."""
    words, word = [], ""
    for char in logical.removesuffix("FunctionArn"):
        if char.isupper() and word:
            words.append(word)
            word = ""
        word += char.lower()
    return "storyimages-" + "-".join([*words, word])


def task_placeholder(name: str) -> str:
    """GenerateSlideImage -> GenerateSlideImageFunctionArn, the ASL's placeholder for it."""
    return f"{name}FunctionArn"
