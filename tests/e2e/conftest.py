from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import ApiGatewayAuthorizerToken, APIGatewayProxyEventModel
from pydantic import BaseModel, ValidationError

from infra.function_catalogue import function_name
from storyimages.api.routes import ROUTES
from tests.api_client import ApiClient


@pytest.fixture
def api(stack) -> ApiClient:  # type: ignore[no-untyped-def]
    """user-1, the owner of every story `new_story` writes."""
    return ApiClient(stack.url, stack.token("user-1"))


@pytest.fixture
def stranger(stack) -> ApiClient:  # type: ignore[no-untyped-def]
    return ApiClient(stack.url, stack.token("user-2"))


@pytest.fixture(scope="session", autouse=True)
def every_gateway_event_fits_powertools_models(stack) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """After the whole e2e run: every event the local gateway handed a Lambda, whatever the test
    sent, validates with Powertools' models of API Gateway's events (an independent model)."""
    yield
    models: dict[str, type[BaseModel]] = {function_name(route.function): APIGatewayProxyEventModel for route in ROUTES}
    models[function_name("Authorizer")] = ApiGatewayAuthorizerToken
    checked, problems = 0, []
    for invocation in stack.lambdas.invocations:
        model = models.get(invocation.function_name)
        if model is None:
            continue
        checked += 1
        try:
            model.model_validate(invocation.event)
        except ValidationError as exc:
            problems.append(f"{invocation.function_name}: {_summary(invocation.event)}: {exc.errors()[:2]}")
    assert checked, "the gateway handed no event to an API function"
    assert problems == [], f"{len(problems)} of {checked} events do not fit the models"


def _summary(event: Any) -> str:
    return f"{event.get('httpMethod', event.get('type'))} {event.get('path', event.get('methodArn'))}"
