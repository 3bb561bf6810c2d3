from __future__ import annotations

import pytest

from tests.api_client import ApiClient


@pytest.fixture
def api(stack) -> ApiClient:  # type: ignore[no-untyped-def]
    """user-1, the owner of every story `new_story` writes."""
    return ApiClient(stack.url, stack.token("user-1"))


@pytest.fixture
def stranger(stack) -> ApiClient:  # type: ignore[no-untyped-def]
    return ApiClient(stack.url, stack.token("user-2"))
