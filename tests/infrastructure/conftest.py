"""One synthesized template per session (cdk-nag runs in it), without bundling the Lambda asset."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

# The feature flags `cdk synth` uses, from cdk.json: the template under test is the one deployed.
FEATURE_FLAGS = {
    key: value
    for key, value in json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"].items()
    if key.startswith("@aws-cdk/")
}

TEST_CONFIG: dict[str, Any] = {
    "environment": "test",
    "firebaseProjectId": "storyimages-test",
    "maxConcurrency": 3,
    "delaySeconds": 4,
    "imageConcurrency": 7,
    "imageTimeoutSeconds": 420,
    "imageRetentionDays": 120,
    "logRetentionDays": 14,
    "corsAllowedOrigins": ["https://app.example.com"],
    "apiThrottleRateLimit": 11,
    "apiThrottleBurstLimit": 22,
}


def synthesize(config: dict[str, Any]) -> tuple[Any, Any]:
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from infra.app import build_app
    from infra.config import CONTEXT_KEY

    app = App(context={**FEATURE_FLAGS, "aws:cdk:bundling-stacks": [], CONTEXT_KEY: config})
    app, stack = build_app(app)
    # from_stack synthesizes the app, so cdk-nag findings fail here.
    return stack, Template.from_stack(stack)


@pytest.fixture(scope="session")
def synthesized() -> tuple[Any, Any]:
    return synthesize(TEST_CONFIG)


@pytest.fixture(scope="session")
def template(synthesized):  # type: ignore[no-untyped-def]
    return synthesized[1]
