"""Error responses as the OpenAPI document describes them: every error has the same body."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from storyimages.api.schemas import ErrorResponse

_DESCRIPTIONS = {
    400: "Malformed JSON",
    401: "Missing, malformed, expired or wrongly signed Firebase ID token",
    404: "No such story, job or route (or it is not yours)",
    409: "The job or story is not in a state that allows this",
    413: "Request body too large",
    415: "The body is not application/json",
    422: "Invalid request: `details` names each field",
    503: "Step Functions could not be reached; nothing was started",
}


def error_responses(*statuses: int) -> dict[int, OpenAPIResponse]:
    return {
        status: {"description": _DESCRIPTIONS[status], "content": {"application/json": {"model": ErrorResponse}}}
        for status in statuses
    }
