"""The fault suite's stack: the whole local stack with every function reaching Firestore
through a proxy of its own (so a test can take the store away from all functions or from one),
production's retry budget with short intervals, and production's image timeout floor.

`make chaos` runs the bounded form (5 s outages, 50 stories at 30% provider faults, 100 cancel
races); CHAOS_LONG=1 adds 75 s outages in every phase and more stories."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import requests.adapters

from tests.api_client import ApiClient
from tests.conftest import APP_ORIGIN, TEST_IMAGE_SIZE
from tests.webhook_receiver import WebhookReceiver

LONG = os.environ.get("CHAOS_LONG") == "1"
# The smallest image timeout a deployment may set (imageTimeoutSeconds): OpenAI's is 30 s less.
IMAGE_TIMEOUT_SECONDS = 60


@pytest.fixture(scope="session")
def stack():  # type: ignore[no-untyped-def]
    from local_stack.stack import FAST_RETRIES, LocalConfig, LocalStack, deployment

    config = LocalConfig(
        deployment=deployment(
            {
                "delaySeconds": 0,
                "imageSize": TEST_IMAGE_SIZE,
                "corsAllowedOrigins": [APP_ORIGIN],
                "imageTimeoutSeconds": IMAGE_TIMEOUT_SECONDS,
            },
            cdk_json=None,
        ),
        retries=FAST_RETRIES,
        event_retry_delays=(0.5, 1.0),
        examples_dir=None,
        webhook_allow_loopback=True,
        firestore_proxies=True,
    )
    with LocalStack(config) as running:
        yield running


@pytest.fixture
def api(stack) -> ApiClient:  # type: ignore[no-untyped-def]
    """user-1, shared by the tests' threads: a connection pool as large as they are many."""
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))
    return ApiClient(stack.url, stack.token("user-1"), session)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture(autouse=True)
def clean_images(stack) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    stack.images.reset()
    yield stack.images
    stack.images.reset()
