"""The REST resolver every API Lambda uses: a gate on the body, validation, CORS, error mapping."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from storyimages.api.errors import domain_error_response, register_error_handlers
from storyimages.api.routes import CORS_ALLOWED_HEADERS, CORS_MAX_AGE_SECONDS
from storyimages.domain.errors import MalformedJson, PayloadTooLarge, StoryImagesError, UnsupportedMediaType
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


def refuse_body(event: BaseProxyEvent, max_bytes: int) -> None:
    """Refuse a body larger than we ever need (API Gateway allows 10 MB) or sent as anything but
    JSON, before anything parses it."""
    body = event.body or ""
    size = len(body) if event.is_base64_encoded else len(body.encode())
    if size > max_bytes:
        raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes")
    content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
    if body and content_type and content_type != "application/json":
        raise UnsupportedMediaType("send the body as application/json")


def check_body(event: BaseProxyEvent, max_bytes: int) -> None:
    """The gate: `refuse_body`, then refuse JSON nested past what a parser should follow or naming
    a key twice in one object (`parse_json_body`), or a body that is not UTF-8."""
    refuse_body(event, max_bytes)
    if event.body:
        try:
            _ = event.json_body  # cached on the event: parsed once per request
        except (UnicodeDecodeError, ValueError):  # not base64, or not UTF-8
            raise MalformedJson("the request body is not valid UTF-8 JSON") from None


def body_gate(max_bytes: int) -> Middleware:
    """The gate as a middleware, for `use()`: on every route, whether it reads a body or not."""

    def gate(app: APIGatewayRestResolver, next_middleware: Next) -> Response[Any]:
        check_body(app.current_event, max_bytes)
        return next_middleware(app)

    return gate


# What Powertools' request validation, which runs before any middleware, may raise: its own
# refusals, a form or multipart body it parsed itself, or a base64 body that is not UTF-8.
_VALIDATION_FAILURES: tuple[type[Exception], ...] = (RequestValidationError, RequestUnsupportedContentType, ValueError)


def answer_the_gate_first(app: APIGatewayRestResolver, max_bytes: int) -> None:
    """When the validation fails, answer as the gate would have, had it run first (it refuses a
    body whatever the route); otherwise as the handler already registered for that failure does."""
    for failure in _VALIDATION_FAILURES:
        otherwise = app.exception_handler_manager.lookup_exception_handler(failure)

        def answer(exc: Exception, otherwise: Callable[[Exception], Any] | None = otherwise) -> Any:
            try:
                check_body(app.current_event, max_bytes)
            except StoryImagesError as refusal:
                return domain_error_response(refusal)
            if otherwise is None:
                raise exc
            return otherwise(exc)

        app.exception_handler(failure)(answer)


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
    max_bytes = settings.max_body_bytes

    def gated_json_body(body: str) -> Any:
        # Powertools' validation reads the body of a route that takes one through here, before any
        # middleware runs: a body too large or not JSON is refused before it is parsed.
        refuse_body(app.current_event, max_bytes)
        return parse_json_body(body)

    # The gate runs before the validation reads a body (in the deserializer), on every route (as a
    # middleware, after the validation), and its answer wins over the validation's (the handlers).
    app = APIGatewayRestResolver(enable_validation=True, cors=cors, json_body_deserializer=gated_json_body)
    app.use([body_gate(max_bytes)])
    register_error_handlers(app)
    answer_the_gate_first(app, max_bytes)
    return app
