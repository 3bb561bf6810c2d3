"""What API Gateway does in front of the Lambdas, as data: the authorizer's identity check and
cache, the CORS preflight its MOCK integration answers, its own error answers, the payload cap.
CDK configures the REST API from this (`infra/capabilities/api.py`) and the local gateway
(`local_stack/gateway.py`) behaves by it. No CDK here: the local stack imports it without jsii."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from storyimages.api.routes import CORS_ALLOWED_HEADERS, CORS_MAX_AGE_SECONDS

IDENTITY_HEADER = "Authorization"
# A header that does not match is refused with 401 without invoking the authorizer.
IDENTITY_VALIDATION_EXPRESSION = r"^[Bb]earer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$"
AUTHORIZER_CACHE_SECONDS = 300
# Content types API Gateway passes to the Lambdas base64-encoded; every other body arrives as text.
BINARY_MEDIA_TYPES: tuple[str, ...] = ()
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
INTEGRATION_TIMEOUT_SECONDS = 29  # a REST integration's longest wait for its Lambda
# CDK's CorsOptions default (Cors.ALL_METHODS), which the preflight answers on every resource.
PREFLIGHT_METHODS = ("OPTIONS", "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD")
PREFLIGHT_STATUS = 204


@dataclass(frozen=True)
class GatewayError:
    status: int | None  # None keeps API Gateway's own status for the response type
    code: str
    message: str

    def body(self) -> dict[str, object]:
        return {"success": False, "error": {"code": self.code, "message": self.message}}

    def template(self) -> str:
        return json.dumps(self.body())


# What API Gateway answers itself, by response type, in the shape the Lambdas answer.
GATEWAY_ERRORS: Mapping[str, GatewayError] = {
    "UNAUTHORIZED": GatewayError(401, "UNAUTHORIZED", "a valid Firebase ID token is required"),
    "ACCESS_DENIED": GatewayError(403, "FORBIDDEN", "not allowed"),
    # An unknown route, or a method a route does not have, is a missing token to API Gateway.
    "MISSING_AUTHENTICATION_TOKEN": GatewayError(404, "ROUTE_NOT_FOUND", "no such route"),
    "REQUEST_TOO_LARGE": GatewayError(413, "PAYLOAD_TOO_LARGE", "the request body is too large"),
    "THROTTLED": GatewayError(429, "THROTTLED", "too many requests; retry later"),
    "BAD_REQUEST_PARAMETERS": GatewayError(400, "INVALID_REQUEST", "missing a required header or parameter"),
    "DEFAULT_4XX": GatewayError(None, "REQUEST_REFUSED", "the request was refused"),
    "DEFAULT_5XX": GatewayError(None, "INTERNAL_ERROR", "something went wrong on our side"),
}
# The statuses API Gateway gives the response types the local gateway meets that keep their own.
AUTHORIZER_FAILURE_STATUS = 500  # the authorizer failed, or answered something unusable
INVOKE_REFUSED_STATUS = 500  # the Lambda API refused to invoke the function
INTEGRATION_FAILURE_STATUS = 502  # the Lambda failed, or answered something unusable
INTEGRATION_TIMEOUT_STATUS = 504  # the Lambda did not answer within the integration timeout (29 s)


def gateway_error(response_type: str) -> GatewayError:
    """The answer for a response type; types not customised fall back to DEFAULT_4XX / 5XX."""
    if response_type in GATEWAY_ERRORS:
        return GATEWAY_ERRORS[response_type]
    fallback = "DEFAULT_5XX" if response_type.startswith(("AUTHORIZER", "INTEGRATION")) else "DEFAULT_4XX"
    return GATEWAY_ERRORS[fallback]


def gateway_error_cors(origins: Sequence[str]) -> dict[str, str]:
    """The CORS headers of API Gateway's own answers, as gateway-response parameters: one
    configured origin is named; with several, the caller's origin is echoed so a browser can read
    why it was refused (the Lambdas' own answers check the list)."""
    if not origins:
        return {}
    origin = f"'{origins[0]}'" if len(origins) == 1 else "method.request.header.origin"
    return {"Access-Control-Allow-Origin": origin, "Vary": "'Origin'"}


def preflight_headers(origins: Sequence[str], request_origin: str | None) -> dict[str, str]:
    """What the MOCK integration CDK puts on every resource answers an OPTIONS request with: the
    first origin, or the caller's when it is one of the others (CDK's response template)."""
    origin = request_origin if request_origin and request_origin in origins[1:] else origins[0]
    return {
        "Access-Control-Allow-Headers": ",".join(CORS_ALLOWED_HEADERS),
        "Access-Control-Allow-Origin": origin,
        "Vary": "Origin",
        "Access-Control-Allow-Methods": ",".join(PREFLIGHT_METHODS),
        "Access-Control-Max-Age": str(CORS_MAX_AGE_SECONDS),
    }
