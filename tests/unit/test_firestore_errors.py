"""Every error the Firestore adapters can raise reaches the workflow and the API as a named
domain error, and the workflow retries the transient one at every task that touches the store."""

from __future__ import annotations

import json

import pytest
from google.api_core import exceptions as api
from google.auth import exceptions as auth

from statemachine import definition
from storyimages.adapters.firestore_errors import job_store_errors, store_errors
from storyimages.domain.errors import ERROR_CODES_BY_NAME, JobNotFound, StoreRefused, StoreUnavailable

TRANSIENT = [
    api.RetryError("gave up", cause=api.ServiceUnavailable("down")),
    api.ServiceUnavailable("connection refused"),
    api.DeadlineExceeded("stalled"),
    api.Aborted("contention"),
    api.InternalServerError("oops"),
    api.ResourceExhausted("quota"),
    api.Unknown("?"),
    api.GatewayTimeout("gateway"),
    api.Cancelled("cancelled"),
    auth.TransportError("token endpoint unreachable"),
]
REFUSED = [api.PermissionDenied("no"), api.InvalidArgument("bad"), api.Unauthenticated("who"), auth.RefreshError("x")]


@pytest.mark.parametrize("error", TRANSIENT, ids=lambda e: type(e).__name__)
def test_given_a_transient_firestore_error_when_raised_in_an_adapter_then_it_is_store_unavailable(error) -> None:
    with pytest.raises(StoreUnavailable) as caught, store_errors():
        raise error
    assert caught.value.http_status == 503
    assert caught.value.details == {"cause": type(error).__name__}


@pytest.mark.parametrize("error", REFUSED, ids=lambda e: type(e).__name__)
def test_given_a_refusal_when_raised_in_an_adapter_then_it_is_store_refused(error) -> None:
    with pytest.raises(StoreRefused), store_errors():
        raise error


def test_given_a_document_gone_when_the_job_store_writes_then_the_job_is_not_found() -> None:
    with pytest.raises(JobNotFound), job_store_errors():
        raise api.NotFound("no document to update")


def test_given_the_named_store_errors_then_each_has_a_stable_code_for_the_job_documents() -> None:
    assert ERROR_CODES_BY_NAME["StoreUnavailable"] == "STORE_UNAVAILABLE"
    assert ERROR_CODES_BY_NAME["StoreRefused"] == "STORE_ERROR"


def _tasks(states: dict) -> dict:
    found = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            found[name] = state
        if state["Type"] == "Map":
            found |= _tasks(state["ItemProcessor"]["States"])
    return found


def test_given_the_image_workflow_then_every_task_retries_an_unavailable_store_and_the_last_resort_is_caught() -> None:
    states = json.loads(definition.render())["States"]
    tasks = _tasks(states)
    assert len(tasks) == 8
    for name, state in tasks.items():
        retried = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
        assert "StoreUnavailable" in retried, name
    # Whatever fails at the top level (a Map fails with its iteration) is caught, the last resort included.
    for name, state in states.items():
        if state["Type"] in {"Task", "Map"}:
            assert "States.ALL" in {e for c in state.get("Catch", []) for e in c["ErrorEquals"]}, name
    # A timed-out image may still be billed: it is never retried on its own.
    for name in ("Generate first slide image", "Generate slide image"):
        retried = {error for retrier in tasks[name]["Retry"] for error in retrier["ErrorEquals"]}
        assert "ImageTimedOut" not in retried
