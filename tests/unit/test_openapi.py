"""docs/openapi.json is generated from the code; it must not drift from it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from storyimages.domain.errors import StoreUnavailable, StoryImagesError, WorkflowStartFailed
from storyimages.domain.jobs import MASTER_JOB_TYPE, JobStatus, SlideStatus, WebhookStatus

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_openapi_document_is_what_the_code_generates() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.openapi", "--check"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'functions'}:{ROOT}"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr


def test_the_document_describes_every_route_with_bearer_auth_and_one_error_shape() -> None:
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())

    from storyimages.api.routes import ROUTES

    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert documented == {(r.method, r.resource) for r in ROUTES}
    assert document["security"] == [{"firebaseIdToken": []}]
    for item in document["paths"].values():
        for operation in item.values():
            errors = {code: r for code, r in operation["responses"].items() if code.startswith(("4", "5"))}
            assert "401" in errors
            for response in errors.values():
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorResponse"
                }


# What the document promises a typed client (openapi-typescript) about the success answers.

DOCUMENT_PATH = ROOT / "docs" / "openapi.json"
STATUS = "/api/images/master-job/{masterJobId}"


def _document() -> dict[str, Any]:
    return dict(json.loads(DOCUMENT_PATH.read_text()))


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{method.upper()} {path}": op for path, item in document["paths"].items() for method, op in item.items()}


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema, its $ref followed; a nullable one (anyOf [X, null]) as X."""
    while True:
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in schema:
            (schema,) = [option for option in schema["anyOf"] if option != {"type": "null"}]
        elif schema.get("type") == "array":
            schema = schema["items"]
        else:
            return schema


def _at(document: dict[str, Any], schema: dict[str, Any], *names: str) -> dict[str, Any]:
    """The schema of the property at `names` (arrays stand for their items)."""
    for name in names:
        schema = _resolved(document, _resolved(document, schema)["properties"][name])
    return schema


def _success_schema(document: dict[str, Any], operation: str, status: str = "200") -> dict[str, Any]:
    return dict(_operations(document)[operation]["responses"][status]["content"]["application/json"]["schema"])


def _objects_reachable(document: dict[str, Any], schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object schema a response can contain, with the name of its component."""
    seen: set[str] = set()
    pending = [schema]
    while pending:
        current = pending.pop()
        ref = current.get("$ref")
        if ref is not None:
            if ref in seen:
                continue
            seen.add(ref)
        current = _resolved(document, current)
        if "$ref" in current or "anyOf" in current:
            pending.append(current)
            continue
        if current.get("type") == "object":
            yield (ref or "inline"), current
            pending.extend(current.get("properties", {}).values())


def test_given_the_document_then_every_operation_documents_a_success_answer_with_a_json_schema() -> None:
    document = _document()

    for name, operation in _operations(document).items():
        successes = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
        assert successes, f"{name} documents no success answer"
        for code, response in successes.items():
            schema = response["content"]["application/json"]["schema"]
            assert _resolved(document, schema)["properties"], f"{name} {code}"


def test_given_the_status_answer_then_its_statuses_are_the_domains_enums() -> None:
    document = _document()
    status = _success_schema(document, f"GET {STATUS}")

    assert set(_at(document, status, "data", "masterJob", "status")["enum"]) == {s.value for s in JobStatus}
    assert set(_at(document, status, "data", "slideJobs", "status")["enum"]) == {s.value for s in SlideStatus}
    webhook_status = _at(document, status, "data", "masterJob", "webhook", "status")
    assert set(webhook_status["enum"]) == {s.value for s in WebhookStatus}
    assert _at(document, status, "data", "masterJob", "type")["const"] == MASTER_JOB_TYPE


def test_given_the_answers_then_success_is_a_constant_true_on_2xx_and_false_on_errors() -> None:
    document = _document()

    for name, operation in _operations(document).items():
        for code, response in operation["responses"].items():
            schema = response["content"]["application/json"]["schema"]
            assert _at(document, schema, "success")["const"] is code.startswith("2"), f"{name} {code}"


def test_given_a_success_answer_then_every_field_the_server_always_sends_is_required() -> None:
    document = _document()

    for name, operation in _operations(document).items():
        for code, response in operation["responses"].items():
            if not code.startswith("2"):
                continue
            schema = response["content"]["application/json"]["schema"]
            for component, shape in _objects_reachable(document, schema):
                assert set(shape.get("required", [])) == set(shape["properties"]), f"{name} {code}: {component}"
    nullable = _resolved(document, _success_schema(document, f"GET {STATUS}"))
    finished_at = _resolved(document, _resolved(document, nullable["properties"]["data"])["properties"]["masterJob"])[
        "properties"
    ]["finishedAt"]
    assert {"type": "null"} in finished_at["anyOf"], "a required field may still be null"


def test_given_the_start_request_then_only_the_story_id_is_required() -> None:
    document = _document()

    start = document["components"]["schemas"]["StartRequest"]

    assert start["required"] == ["storyId"]


def test_given_each_route_then_its_503_names_the_outages_it_can_answer_with() -> None:
    document = _document()
    # Every 503 the domain has, and which of them each route can meet.
    outages = {error.code for error in _subclasses(StoryImagesError) if error.http_status == 503}
    expected = {
        "POST /api/images/generate-all-automatically": {StoreUnavailable.code, WorkflowStartFailed.code},
        f"GET {STATUS}": {StoreUnavailable.code},
        # A cancel whose job has a webhook starts its delivery; a retry starts a run.
        f"POST {STATUS}/cancel": {StoreUnavailable.code, WorkflowStartFailed.code},
        f"POST {STATUS}/retry": {StoreUnavailable.code, WorkflowStartFailed.code},
    }

    named = {
        name: {code for code in outages if code in operation["responses"]["503"]["description"]}
        for name, operation in _operations(document).items()
    }

    assert named == expected


def _subclasses(cls: type[StoryImagesError]) -> Iterator[type[StoryImagesError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)
