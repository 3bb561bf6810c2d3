"""Shared fixtures: stories, the in-memory ports and the local stack."""

from __future__ import annotations

import os
from typing import Any

# gRPC's C core logs an INFO line whenever the emulator closes a connection.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import pytest

from local_stack.images_server import QUICK_SIZE
from storyimages.domain.jobs import ImageSpec
from storyimages.domain.start_generation import GenerationConfig
from tests.stories import story_document

APP_ORIGIN = "https://app.example.com"


@pytest.fixture
def config() -> GenerationConfig:
    return GenerationConfig(
        image=ImageSpec(model="gpt-image-2", size="1024x1024", quality="medium"),
        delay_seconds=2,
        max_concurrency=1,
        max_slides=10,
        seconds_per_image=60,
    )


TEST_IMAGE_SIZE = QUICK_SIZE


@pytest.fixture(scope="session")
def stack():  # type: ignore[no-untyped-def]
    """The whole local stack on free ports, deployed with the production defaults except: no
    rate-limit pauses, the smallest images, fast retries, the app's origin for CORS, and webhooks
    allowed to reach a receiver on 127.0.0.1 (local mode only)."""
    from local_stack.stack import FAST_RETRIES, LocalConfig, LocalStack, deployment

    config = LocalConfig(
        deployment=deployment(
            {"delaySeconds": 0, "imageSize": TEST_IMAGE_SIZE, "corsAllowedOrigins": [APP_ORIGIN]}, cdk_json=None
        ),
        retries=FAST_RETRIES,
        event_retry_delays=(0.5, 1.0),
        examples_dir=None,
        webhook_allow_loopback=True,
    )
    with LocalStack(config) as running:
        yield running


@pytest.fixture
def new_story(stack):  # type: ignore[no-untyped-def]
    """Writes a story with a fresh id into the emulator and returns the id."""
    import uuid

    def create(slides: int = 5, *, prompts: dict[int, str] | None = None, **fields: Any) -> str:
        story_id = f"story-{uuid.uuid4().hex[:12]}"
        document = story_document(slides, **fields)
        for number, prompt in (prompts or {}).items():
            document["slides"][number - 1]["imagePrompt"] = prompt
        stack.db.collection("stories").document(story_id).create(document)
        return story_id

    return create


@pytest.fixture
def images(stack):  # type: ignore[no-untyped-def]
    """The local Images API server, with faults and its request log cleared before each test."""
    stack.images.reset()
    yield stack.images
    stack.images.reset()
