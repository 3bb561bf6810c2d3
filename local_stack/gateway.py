"""A local stand-in for API Gateway's REST API: each HTTP request becomes the same proxy event
API Gateway would send, handed to the same Lambda handler, and its answer becomes the response."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from werkzeug.wrappers import Request, Response

from local_stack.lambda_runtime import invoke
from storyimages.api.routes import ROUTES, Route

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
STAGE = "local"


def _pattern(route: Route) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", route.path) + "$")


class Gateway:
    def __init__(self, routes: Sequence[Route] = ROUTES, *, health: Callable[[], bool] | None = None) -> None:
        self._routes = [(route, _pattern(route)) for route in routes]
        self._health = health or (lambda: True)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.respond(Request(environ))(environ, start_response)

    def respond(self, request: Request) -> Response:
        if request.path == "/health":
            healthy = self._health()
            return _json(200 if healthy else 503, {"status": "ok" if healthy else "starting"})
        matches = [(route, m) for route, pattern in self._routes if (m := pattern.match(request.path))]
        if not matches:
            return _error(404, "ROUTE_NOT_FOUND", "no such route")
        for route, match in matches:
            if route.method == request.method:
                return self._proxy(route, match.groupdict(), request)
        return _error(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here")

    def _proxy(self, route: Route, path_parameters: dict[str, str], request: Request) -> Response:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _error(413, "PAYLOAD_TOO_LARGE", "the request body is larger than 10 MB")
        raw = request.get_data(cache=False)
        if len(raw) > MAX_BODY_BYTES:
            return _error(413, "PAYLOAD_TOO_LARGE", "the request body is larger than 10 MB")
        event = proxy_event(route, path_parameters, request, raw)
        payload, error_type, _ = invoke(route.handler, route.function, event)
        if error_type is not None:
            # What API Gateway answers when the integration's Lambda itself fails.
            return Response(json.dumps({"message": "Internal server error"}), 502, mimetype="application/json")
        return proxy_response(payload)


def proxy_event(route: Route, path_parameters: dict[str, str], request: Request, raw: bytes) -> dict[str, Any]:
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
        "requestContext": {
            "resourcePath": route.resource,
            "httpMethod": request.method,
            "path": f"/{STAGE}{request.path}",
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "accountId": "123456789012",
            "apiId": "local",
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "identity": {"sourceIp": request.remote_addr, "userAgent": request.user_agent.string},
        },
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
