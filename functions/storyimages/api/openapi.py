"""Answers as the OpenAPI document describes them: each success with its model, and every error
with the same body."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from storyimages.api.schemas import ErrorResponse
from storyimages.domain.errors import StoreUnavailable, WorkflowStartFailed

_DESCRIPTIONS = {
    400: "Malformed JSON",
    401: "Missing, malformed, expired or wrongly signed Firebase ID token",
    404: "No such story, job or route (or it is not yours)",
    409: "The job or story is not in a state that allows this",
    413: "Request body too large",
    415: "The body is not application/json",
    422: "Invalid request: `details` names each field",
}

# The outages a route can answer 503 with; what each one left behind differs per route.
STORE_UNAVAILABLE = (
    f"`{StoreUnavailable.code}`: Firestore did not answer within its deadline (FIRESTORE_DEADLINE_SECONDS); try again."
)


def workflow_start_failed(consequence: str) -> str:
    return f"`{WorkflowStartFailed.code}`: Step Functions could not be reached; {consequence}."


def success(model: type[BaseModel], description: str) -> OpenAPIResponse:
    """A success answer: with `responses=` Powertools documents only the statuses listed there."""
    return {"description": description, "content": {"application/json": {"model": model}}}


def error_responses(*statuses: int, unavailable: tuple[str, ...] = ()) -> dict[int, OpenAPIResponse]:
    """The errors a route answers; `unavailable` names its 503s (none: the route has no 503)."""
    descriptions = {status: _DESCRIPTIONS[status] for status in statuses}
    if unavailable:
        descriptions[503] = " ".join(unavailable)
    return {status: _error(description) for status, description in descriptions.items()}


def _error(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": ErrorResponse}}}
