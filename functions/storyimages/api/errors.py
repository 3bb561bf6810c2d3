"""The one place where errors become HTTP responses: `{"success": false, "error": {code, message}}`.

No input produces a 500 with a stack trace: anything unexpected is logged with its trace and
answered with a stable INTERNAL_ERROR body.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from storyimages.domain.errors import StoryImagesError, UnsupportedMediaType
from storyimages.observability import logger


def error_response(status: int, code: str, message: str, details: Any = None) -> Response[str]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"success": False, "error": error}),
    )


def domain_error_response(exc: StoryImagesError) -> Response[str]:
    if exc.http_status >= 500:
        logger.exception("request failed", extra={"code": exc.code})
    return error_response(exc.http_status, exc.code, exc.message, exc.details)


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    app.exception_handler(StoryImagesError)(domain_error_response)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response[str]:
        errors = exc.errors()
        problems = [{"field": ".".join(str(part) for part in err["loc"]), "problem": err["msg"]} for err in errors]
        fields = ", ".join(p["field"] for p in problems)
        return error_response(422, "INVALID_REQUEST", f"invalid request: {fields}", problems)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported_content_type(exc: RequestUnsupportedContentType) -> Response[str]:
        return domain_error_response(UnsupportedMediaType("send the body as application/json"))

    @app.not_found
    def _no_route(exc: NotFoundError) -> Response[str]:
        return error_response(404, "ROUTE_NOT_FOUND", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        logger.exception("unexpected error")
        return error_response(500, "INTERNAL_ERROR", "something went wrong on our side; it has been logged")
