"""Render the state machines' ASL for CDK and for the local engine alike.

The files keep `${Name}` placeholders. A placeholder that is a whole JSON string and names a
number here becomes that number (ASL wants integers for retry intervals and attempts); the
others (function and state machine ARNs) are text, filled here for the local engine or left
for CDK's `definition_substitutions` to fill with tokens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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

_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def asl_path(name: str) -> Path:
    if name not in STATE_MACHINES:
        raise ValueError(f"no state machine {name!r}; there are {STATE_MACHINES}")
    return HERE / f"{name}.asl.json"


def render(
    name: str = IMAGE_GENERATION, numbers: Mapping[str, int] | None = None, text: Mapping[str, str] | None = None
) -> str:
    """The definition with `numbers` (over RETRY_DEFAULTS) and `text` substituted."""
    numeric = {**RETRY_DEFAULTS, **(numbers or {})}
    unknown = set(numeric) - set(RETRY_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown numeric placeholders: {sorted(unknown)}")
    textual = dict(text or {})

    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: fill(value) for key, value in node.items()}
        if isinstance(node, list):
            return [fill(value) for value in node]
        if isinstance(node, str):
            whole = _PLACEHOLDER.fullmatch(node)
            if whole and whole.group(1) in numeric:
                return numeric[whole.group(1)]
            return _PLACEHOLDER.sub(lambda m: textual.get(m.group(1), m.group(0)), node)
        return node

    return json.dumps(fill(json.loads(asl_path(name).read_text())), indent=2, ensure_ascii=False)


def placeholders(name: str = IMAGE_GENERATION) -> set[str]:
    return set(_PLACEHOLDER.findall(asl_path(name).read_text()))


def text_placeholders(name: str) -> set[str]:
    """The placeholders CDK (or the local engine) fills with ARNs."""
    return placeholders(name) - set(RETRY_DEFAULTS)
