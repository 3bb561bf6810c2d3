"""The REST resolver every API Lambda uses: a gate on the body, validation, CORS, error mapping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response

from storyimages.api.errors import error_response, register_error_handlers
from storyimages.settings import ApiSettings

Next = Callable[[APIGatewayRestResolver], Response[Any]]
Middleware = Callable[[APIGatewayRestResolver, Next], Response[Any]]


def body_gate(max_bytes: int) -> Middleware:
    """413 for a body larger than we ever need (API Gateway allows 10 MB), 415 for a body
    that is not JSON, 400 for one that is not UTF-8: refused before anything parses it."""

    def gate(app: APIGatewayRestResolver, next_middleware: Next) -> Response[Any]:
        event = app.current_event
        body = event.body or ""
        size = len(body) if event.is_base64_encoded else len(body.encode())
        if size > max_bytes:
            return error_response(413, "PAYLOAD_TOO_LARGE", f"the request body is larger than {max_bytes} bytes")
        content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
        if body and content_type and content_type != "application/json":
            return error_response(415, "UNSUPPORTED_MEDIA_TYPE", "send the body as application/json")
        try:
            event.decoded_body  # noqa: B018 (decodes once, cached for validation)
        except (UnicodeDecodeError, ValueError):
            return error_response(400, "MALFORMED_JSON", "the request body is not UTF-8 JSON")
        return next_middleware(app)

    return gate


def api_resolver(settings: ApiSettings) -> APIGatewayRestResolver:
    origins = settings.cors_origins
    cors = (
        CORSConfig(
            allow_origin=origins[0],
            extra_origins=origins[1:],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            max_age=600,
        )
        if origins
        else None
    )
    app = APIGatewayRestResolver(enable_validation=True, cors=cors)
    # Powertools always runs request validation before any middleware added with use(); the
    # gate has to come first (parsing a huge or non-JSON body is what it refuses), so it wraps
    # the validation middleware itself.
    gate, validate = body_gate(settings.max_body_bytes), app._request_validation_middleware
    app._request_validation_middleware = lambda app, next_middleware: gate(  # type: ignore[assignment]
        app, lambda app: validate(app, next_middleware)
    )
    register_error_handlers(app)
    return app
