"""The REST resolver every API Lambda uses: a gate on the body, validation, CORS, error mapping."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response

from storyimages.api.errors import register_error_handlers
from storyimages.api.routes import CORS_ALLOWED_HEADERS, CORS_MAX_AGE_SECONDS
from storyimages.domain.errors import MalformedJson, PayloadTooLarge, UnsupportedMediaType
from storyimages.settings import ApiSettings

Next = Callable[[APIGatewayRestResolver], Response[Any]]
Middleware = Callable[[APIGatewayRestResolver, Next], Response[Any]]
# How much of a repeated key an error message quotes.
_QUOTED_KEY_CHARS = 60


def parse_json_body(body: str) -> Any:
    """Every request body is parsed here (the gate and Powertools' validation both read the
    event's `json_body`, which calls this): JSON as RFC 8259 allows it, except that an object
    naming the same key twice is refused rather than left to whichever value a parser keeps."""
    try:
        return json.loads(body, object_pairs_hook=_refuse_repeated_keys)
    except (RecursionError, ValueError):
        raise MalformedJson("the request body is not valid UTF-8 JSON") from None


def _refuse_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            quoted = json.dumps(key[:_QUOTED_KEY_CHARS])
            raise MalformedJson(
                f"the request body names the key {quoted} more than once in one object",
                details={"key": key[:_QUOTED_KEY_CHARS]},
            )
        document[key] = value
    return document


def body_gate(max_bytes: int) -> Middleware:
    """Refuse, before the validation reads it, a body larger than we ever need (API Gateway allows
    10 MB), one that is not JSON, JSON nested past what a parser should follow, or JSON naming
    a key twice in one object: on every route, whether it reads a body or not."""

    def gate(app: APIGatewayRestResolver, next_middleware: Next) -> Response[Any]:
        event = app.current_event
        body = event.body or ""
        size = len(body) if event.is_base64_encoded else len(body.encode())
        if size > max_bytes:
            raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes")
        content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
        if body and content_type and content_type != "application/json":
            raise UnsupportedMediaType("send the body as application/json")
        if body:
            try:
                _ = event.json_body  # parsed by parse_json_body; cached for the validation to reuse
            except (UnicodeDecodeError, ValueError):  # not base64, or not UTF-8
                raise MalformedJson("the request body is not valid UTF-8 JSON") from None
        return next_middleware(app)

    return gate


def api_resolver(settings: ApiSettings) -> APIGatewayRestResolver:
    origins = settings.cors_origins
    cors = (
        CORSConfig(
            allow_origin=origins[0],
            extra_origins=origins[1:],
            allow_headers=list(CORS_ALLOWED_HEADERS),
            max_age=CORS_MAX_AGE_SECONDS,
        )
        if origins
        else None
    )
    app = APIGatewayRestResolver(enable_validation=True, cors=cors, json_body_deserializer=parse_json_body)
    # Powertools always runs request validation before any middleware added with use(); the
    # gate has to come first (parsing a huge or non-JSON body is what it refuses), so it wraps
    # the validation middleware itself.
    gate, validate = body_gate(settings.max_body_bytes), app._request_validation_middleware
    app._request_validation_middleware = lambda app, next_middleware: gate(  # type: ignore[assignment]
        app, lambda app: validate(app, next_middleware)
    )
    register_error_handlers(app)
    return app
