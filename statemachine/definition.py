"""Render the state machines' ASL for CDK and for the local engine alike.

The files keep `${Name}` placeholders. A placeholder that is a whole JSON string and names a
retry policy here (`"Retry": "${LambdaTaskRetries}"`) becomes that policy's list of retriers,
written once below for every task that shares it. One that names a number here becomes that
number (ASL wants integers for retry intervals and attempts), in the ASL and in the policies
alike; the others (function ARNs, the queue's URL) are text, filled here for the local engine
or left for CDK's `definition_substitutions` to fill with tokens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from storyimages.domain.errors import (
    ImageRateLimited,
    ImageServiceUnavailable,
    StoreUnavailable,
    StoryImagesError,
    WebhookDeliveryFailed,
    WorkflowStartFailed,
)

HERE = Path(__file__).parent
IMAGE_GENERATION = "image_generation"
WEBHOOK_DELIVERY = "webhook_delivery"
STATE_MACHINES = (IMAGE_GENERATION, WEBHOOK_DELIVERY)

# Each function placeholder and the handler behind it: CDK and the local engine wire from this.
TASK_FUNCTIONS: Mapping[str, str] = {
    "QueueSlideImageFunctionArn": "storyimages.handlers.queue_slide_image:handler",
    "RecordSlideFailureFunctionArn": "storyimages.handlers.record_slide_failure:handler",
    "FinalizeJobFunctionArn": "storyimages.handlers.finalize_job:handler",
    "MarkJobFailedFunctionArn": "storyimages.handlers.mark_job_failed:handler",
    "DeliverWebhookFunctionArn": "storyimages.handlers.deliver_webhook:handler",
    "RecordWebhookFailureFunctionArn": "storyimages.handlers.record_webhook_failure:handler",
}

# The image queue's URL (CDK fills it with the queue's, the local stack with its moto queue's):
# every story's slides wait there for the image capacity they share.
IMAGE_QUEUE_URL = "ImageQueueUrl"

# Production defaults (retries and timeouts), the budget README documents. OpenAI's rate limits reset within a
# minute. A transient image or Lambda fault gets 6 more tries over up to ~3 minutes: at 30%
# independent faults, 0.3^7 = 0.02% of slides outlast it. A job-store outage gets 8 more tries,
# each attempt itself waiting out the store's deadline (FIRESTORE_TASK_DEADLINE_SECONDS): an
# outage of up to 90 s is always ridden out whatever the jitter, about 4 minutes typically. A
# webhook receiver that is down gets about two hours (30 s doubling, capped at an hour).
RETRY_DEFAULTS: Mapping[str, int] = {
    "RateLimitRetryIntervalSeconds": 10,
    "RateLimitRetryMaxAttempts": 5,
    "RateLimitRetryMaxDelaySeconds": 300,
    "TransientRetryIntervalSeconds": 3,
    "TransientRetryMaxAttempts": 6,
    "TransientRetryMaxDelaySeconds": 120,
    "StoreRetryIntervalSeconds": 5,
    "StoreRetryMaxAttempts": 8,
    "StoreRetryMaxDelaySeconds": 60,
    "WebhookRetryIntervalSeconds": 30,
    "WebhookRetryMaxAttempts": 8,
    # How long a slide may wait in the image queue and be worked on before its task gives up
    # (a token no worker will ever answer: its message was lost or dead-lettered). A day: far
    # past any real backlog, and shorter than the queue keeps a message (infra/image_queue.py).
    "ImageQueueTimeoutSeconds": 86400,
}


def _retrier(
    budget: str, *errors: str | type[StoryImagesError], max_delay_seconds: int | None = None
) -> dict[str, Any]:
    """Retry `errors` with doubling, fully jittered waits, by the `budget`'s numbers in
    RETRY_DEFAULTS (`{budget}RetryIntervalSeconds`, `...MaxAttempts`, `...MaxDelaySeconds`
    unless `max_delay_seconds` fixes it). Our errors are named by their class, as Lambda reports
    an unhandled exception (and the image worker its failure) by the class's name."""
    return {
        "ErrorEquals": [error if isinstance(error, str) else error.__name__ for error in errors],
        "IntervalSeconds": f"${{{budget}RetryIntervalSeconds}}",
        "MaxAttempts": f"${{{budget}RetryMaxAttempts}}",
        "BackoffRate": 2,
        "MaxDelaySeconds": max_delay_seconds or f"${{{budget}RetryMaxDelaySeconds}}",
        "JitterStrategy": "FULL",
    }


# The Lambda service's own faults (not the function's), as AWS recommends retrying for every
# lambda:invoke task, and the SQS faults of a sendMessage task.
LAMBDA_SERVICE_ERRORS = (
    "Sandbox.Timedout",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
SQS_ERRORS = ("SQS.SdkClientException", "SQS.AmazonSQSException")

_STORE_OUTAGE = _retrier("Store", StoreUnavailable)
_RATE_LIMITED = _retrier("RateLimit", ImageRateLimited)
# A receiver that does not take the webhook: about two hours (above), each wait capped at an hour.
_WEBHOOK_REFUSED = _retrier("Webhook", WebhookDeliveryFailed, max_delay_seconds=3600)
# A Lambda task: the Lambda service's faults, and an outage of the job store every task uses.
_LAMBDA_TASK = (_retrier("Transient", *LAMBDA_SERVICE_ERRORS), _STORE_OUTAGE)

# Every task's retries, by the name its `"Retry": "${Name}"` gives; Step Functions tries a
# task's retriers in order and uses the first that names the error.
RETRY_POLICIES: Mapping[str, Sequence[Mapping[str, Any]]] = {
    "LambdaTaskRetries": _LAMBDA_TASK,
    # A task that may also start the job's webhook delivery (an execution of its own).
    "JobEndingRetries": (_retrier("Transient", WorkflowStartFailed, *LAMBDA_SERVICE_ERRORS), _STORE_OUTAGE),
    # An image: queued, generated by the image worker, which answers with its error's name.
    "ImageTaskRetries": (_RATE_LIMITED, _retrier("Transient", ImageServiceUnavailable, *SQS_ERRORS), _STORE_OUTAGE),
    # A webhook's delivery: a Lambda task whose receiver may not take it.
    "WebhookDeliveryRetries": (_WEBHOOK_REFUSED, *_LAMBDA_TASK),
}

_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def asl_path(name: str) -> Path:
    if name not in STATE_MACHINES:
        raise ValueError(f"no state machine {name!r}; there are {STATE_MACHINES}")
    return HERE / f"{name}.asl.json"


def _substituted(node: Any, whole: Mapping[str, Any], text: Mapping[str, str]) -> Any:
    """`node` with each whole-string placeholder named in `whole` replaced by its value (itself
    substituted in turn) and each placeholder named in `text` replaced inside any string."""
    if isinstance(node, Mapping):
        return {key: _substituted(value, whole, text) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [_substituted(value, whole, text) for value in node]
    if isinstance(node, str):
        found = _PLACEHOLDER.fullmatch(node)
        if found and found.group(1) in whole:
            return _substituted(whole[found.group(1)], whole, text)
        return _PLACEHOLDER.sub(lambda m: text.get(m.group(1), m.group(0)), node)
    return node


def _with_retry_policies(name: str) -> Any:
    """The definition with every retry policy written in, its numbers still placeholders."""
    return _substituted(json.loads(asl_path(name).read_text()), RETRY_POLICIES, {})


def render(
    name: str = IMAGE_GENERATION, numbers: Mapping[str, int] | None = None, text: Mapping[str, str] | None = None
) -> str:
    """The definition with its retry policies, `numbers` (over RETRY_DEFAULTS) and `text` substituted."""
    numeric = {**RETRY_DEFAULTS, **(numbers or {})}
    unknown = set(numeric) - set(RETRY_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown numeric placeholders: {sorted(unknown)}")
    filled = _substituted(_with_retry_policies(name), numeric, dict(text or {}))
    return json.dumps(filled, indent=2, ensure_ascii=False)


def placeholders(name: str = IMAGE_GENERATION) -> set[str]:
    """The numbers and text the definition needs, its retry policies' included."""
    return set(_PLACEHOLDER.findall(json.dumps(_with_retry_policies(name))))


def text_placeholders(name: str) -> set[str]:
    """The placeholders CDK (or the local engine) fills with ARNs."""
    return placeholders(name) - set(RETRY_DEFAULTS)
