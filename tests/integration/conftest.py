"""A local Images API server of each module's own, for the tests that talk to it directly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_stack.images_server import ImagesServer, start_images_server


@pytest.fixture(scope="module")
def module_images_server() -> Iterator[ImagesServer]:
    running = start_images_server()
    yield running
    running.stop()


@pytest.fixture
def server(module_images_server: ImagesServer) -> Iterator[ImagesServer]:
    """That server with no faults and an empty request log, before and after the test."""
    module_images_server.reset()
    yield module_images_server
    module_images_server.reset()
