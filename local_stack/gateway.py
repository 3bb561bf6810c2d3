"""A local stand-in for API Gateway's REST API: each HTTP request goes through the same
TOKEN authorizer Lambda (with result caching), becomes the proxy event API Gateway would
send, is handed to the same Lambda handler, and its answer becomes the response.

It also serves the local stack's development identities under /_local/auth/ (never part of
the API in AWS): the certificates the authorizer trusts in local mode, and tokens for a uid."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from werkzeug.wrappers import Request, Response

from local_stack.identity import DevIdentities
from local_stack.lambda_runtime import invoke
from storyimages.api.routes import AUTHORIZER_HANDLER, ROUTES, Route

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
STAGE = "local"
ACCOUNT = "123456789012"
AUTHORIZER_CACHE_SECONDS = 300  # API Gateway's default authorizer result TTL
CERTS_PATH = "/_local/auth/certs"
TOKEN_PATH = "/_local/auth/token"


def _pattern(route: Route) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", route.path) + "$")


class Gateway:
    def __init__(
        self,
        routes: Sequence[Route] = ROUTES,
        *,
        identities: DevIdentities | None = None,
        cors_origins: Sequence[str] = (),
    ) -> None:
        self._routes = [(route, _pattern(route)) for route in routes]
        self._identities = identities
        self._cors_origins = set(cors_origins)
        self._policies: dict[str, tuple[float, dict[str, Any]]] = {}
        self._policies_lock = threading.Lock()
        self.authorizer_calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.respond(request)
        self._add_cors(request, response)
        return response(environ, start_response)

    def respond(self, request: Request) -> Response:
        if request.path == "/health":
            # Served once every part has started (LocalStack starts the gateway last).
            return _json(200, {"status": "ok"})
        if request.path.startswith("/_local/auth/"):
            return self._local_auth(request)
        matches = [(route, m) for route, pattern in self._routes if (m := pattern.match(request.path))]
        if not matches:
            return _error(404, "ROUTE_NOT_FOUND", "no such route")
        if request.method == "OPTIONS":
            # CORS preflight: browsers send no Authorization; the handler's resolver answers it.
            route, match = matches[0]
            return self._proxy(route, match.groupdict(), request, authorizer=None)
        for route, match in matches:
            if route.method == request.method:
                authorized = self._authorize(request, route)
                if isinstance(authorized, Response):
                    return authorized
                return self._proxy(route, match.groupdict(), request, authorizer=authorized)
        response = _error(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here")
        response.headers["Allow"] = ", ".join(sorted({route.method for route, _ in matches} | {"OPTIONS"}))
        return response

    def _authorize(self, request: Request, route: Route) -> dict[str, Any] | Response:
        """What API Gateway does with a TOKEN authorizer whose identity source is Authorization."""
        token = request.headers.get("Authorization", "")
        if not token.strip():
            return _unauthorized()
        with self._policies_lock:
            cached = self._policies.get(token)
            if cached and cached[0] > time.monotonic():
                return cached[1]
        self.authorizer_calls += 1
        method_arn = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:local/{STAGE}/{route.method}{request.path}"
        event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
        payload, error_type, _ = invoke(AUTHORIZER_HANDLER, "Authorizer", event)
        if error_type is not None:
            if isinstance(payload, dict) and payload.get("errorMessage") == "Unauthorized":
                return _unauthorized()
            return _error(500, "AUTHORIZER_FAILED", "the authorizer failed")
        statement = payload["policyDocument"]["Statement"][0]
        if statement["Effect"] != "Allow":
            return _error(403, "FORBIDDEN", "not allowed")
        context = {"principalId": payload["principalId"], **(payload.get("context") or {})}
        with self._policies_lock:
            self._policies[token] = (time.monotonic() + AUTHORIZER_CACHE_SECONDS, context)
        return context

    def _proxy(
        self, route: Route, path_parameters: dict[str, str], request: Request, *, authorizer: dict[str, Any] | None
    ) -> Response:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _error(413, "PAYLOAD_TOO_LARGE", "the request body is larger than 10 MB")
        raw = request.get_data(cache=False)
        if len(raw) > MAX_BODY_BYTES:
            return _error(413, "PAYLOAD_TOO_LARGE", "the request body is larger than 10 MB")
        event = proxy_event(route, path_parameters, request, raw, authorizer=authorizer)
        payload, error_type, _ = invoke(route.handler, route.function, event)
        if error_type is not None:
            # What API Gateway answers when the integration's Lambda itself fails.
            return Response(json.dumps({"message": "Internal server error"}), 502, mimetype="application/json")
        return proxy_response(payload)

    def _local_auth(self, request: Request) -> Response:
        if self._identities is None:
            return _error(404, "ROUTE_NOT_FOUND", "no such route")
        if request.path == CERTS_PATH and request.method == "GET":
            response = Response(self._identities.certificates(), 200, mimetype="application/json")
            response.headers["Cache-Control"] = "public, max-age=3600"
            return response
        if request.path == TOKEN_PATH and request.method == "POST":
            body = request.get_json(silent=True) or {}
            uid = body.get("uid") if isinstance(body, dict) else None
            if not isinstance(uid, str) or not 0 < len(uid) <= 128:
                return _error(422, "INVALID_REQUEST", 'send {"uid": "..."}')
            return _json(200, {"token": self._identities.token(uid), "uid": uid})
        return _error(404, "ROUTE_NOT_FOUND", "no such route")

    def _add_cors(self, request: Request, response: Response) -> None:
        """API Gateway's gateway responses (401, 404 ...) carry CORS headers too, as configured in CDK."""
        origin = request.headers.get("Origin")
        if origin and origin in self._cors_origins and "Access-Control-Allow-Origin" not in response.headers:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"


def proxy_event(
    route: Route, path_parameters: dict[str, str], request: Request, raw: bytes, *, authorizer: dict[str, Any] | None
) -> dict[str, Any]:
    headers = {name: value for name, value in request.headers.items()}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        multi_headers.setdefault(name, []).append(value)
    query = {name: values[-1] for name, values in request.args.lists()}
    multi_query = {name: list(values) for name, values in request.args.lists()}
    try:
        body: str | None = raw.decode("utf-8") if raw else None
        is_base64 = False
    except UnicodeDecodeError:
        body, is_base64 = base64.b64encode(raw).decode(), True
    context: dict[str, Any] = {
        "resourcePath": route.resource,
        "httpMethod": request.method,
        "path": f"/{STAGE}{request.path}",
        "stage": STAGE,
        "requestId": str(uuid.uuid4()),
        "requestTimeEpoch": int(time.time() * 1000),
        "accountId": ACCOUNT,
        "apiId": "local",
        "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        "identity": {"sourceIp": request.remote_addr, "userAgent": request.user_agent.string},
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {
        "resource": route.resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_base64,
    }


def proxy_response(payload: Any) -> Response:
    if not isinstance(payload, dict) or "statusCode" not in payload:
        return Response(json.dumps({"message": "Internal server error"}), 502, mimetype="application/json")
    body = payload.get("body") or ""
    data = base64.b64decode(body) if payload.get("isBase64Encoded") else body.encode()
    response = Response(data, status=int(payload["statusCode"]))
    response.headers.pop("Content-Type", None)
    for name, value in (payload.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (payload.get("multiValueHeaders") or {}).items():
        response.headers.remove(name)
        for value in values:
            response.headers.add(name, str(value))
    return response


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _json(status, {"success": False, "error": {"code": code, "message": message}})


def _unauthorized() -> Response:
    return _error(401, "UNAUTHORIZED", "a valid Firebase ID token is required: Authorization: Bearer <token>")
