"""Imports are a cold-start cost: each Lambda loads only what it uses, and nothing dev-only."""

from __future__ import annotations

import pytest

from tests.handler_imports import cold_import
from tools.handler_environment import HANDLERS

DEV_ONLY = {"moto", "werkzeug", "PIL", "pytest", "local_stack", "tests", "flask"}


@pytest.mark.parametrize("handler", HANDLERS)
def test_given_a_cold_start_when_a_handler_is_imported_then_no_dev_only_package_is_loaded(handler: str) -> None:
    packages = set(cold_import(handler)["packages"])  # type: ignore[arg-type]

    assert packages & DEV_ONLY == set()


@pytest.mark.parametrize("handler", [h for h in HANDLERS if h != "generate_slide_image"])
def test_given_a_handler_that_draws_nothing_when_imported_then_the_openai_sdk_is_not_loaded(handler: str) -> None:
    packages = set(cold_import(handler)["packages"])  # type: ignore[arg-type]

    assert "openai" not in packages
    assert "storyimages" in packages


def test_given_the_image_handler_when_imported_then_it_loads_the_openai_sdk() -> None:
    assert "openai" in cold_import("generate_slide_image")["packages"]  # type: ignore[operator]


def test_given_the_authorizer_when_imported_then_it_loads_google_auth_but_not_firebase_admin_or_firestore() -> None:
    packages = set(cold_import("authorizer")["packages"])  # type: ignore[arg-type]

    assert "google" in packages  # google-auth verifies the tokens
    assert "firebase_admin" not in packages
    assert "grpc" not in packages  # google-cloud-firestore pulls in gRPC; verifying tokens does not need it


@pytest.mark.parametrize("handler", [h for h in HANDLERS if h != "generate_slide_image"])
def test_given_a_task_that_works_no_queued_image_when_imported_then_the_image_work_is_not_loaded(
    handler: str,
) -> None:
    modules = set(cold_import(handler)["modules"])  # type: ignore[arg-type]

    assert "storyimages.domain.image_queue" not in modules
