"""A local stand-in for API Gateway's REST API, configured by what configures the real one
(`infra.rest_api`, `storyimages.api.routes`). Each request is matched to a route; its
Authorization header is checked against the authorizer's identity validation expression; the
TOKEN authorizer Lambda is invoked (its policy cached per token) and its policy evaluated
against the request's method ARN; the request becomes the proxy event API Gateway sends; the
route's Lambda answers. CORS preflights are answered as the MOCK integration CDK creates, and
API Gateway's own errors as the stack's gateway responses.

It also serves the local stack's development identities under /_local/auth/ (never part of
the API in AWS): the certificates the authorizer trusts in local mode, and tokens for a uid.
README "The local stack" lists where it still differs from API Gateway."""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from infra import rest_api
from local_stack.identity import DevIdentities
from local_stack.lambda_runtime import ACCOUNT, REGION, LambdaRuntime
from storyimages.api.routes import ROUTES, Route

STAGE = "local"
API_ID = "local"
DOMAIN = f"{API_ID}.execute-api.localhost"
AUTHORIZER_FUNCTION = "storyimages-authorizer"
CERTS_PATH = "/_local/auth/certs"
TOKEN_PATH = "/_local/auth/token"
RAW_HEADERS = "storyimages.raw_headers"


class RawHeadersRequestHandler(WSGIRequestHandler):
    """Keeps the request's header lines as sent: WSGI joins a repeated header into one value,
    API Gateway keeps each (multiValueHeaders) and the names' case."""

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ[RAW_HEADERS] = list(self.headers.items())
        return environ


def _pattern(route: Route) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", route.path) + "$")


def _function_name(route: Route) -> str:
    from local_stack.aws import function_name

    return function_name(route.function)


class Gateway:
    def __init__(
        self,
        lambdas: LambdaRuntime,
        routes: Sequence[Route] = ROUTES,
        *,
        identities: DevIdentities | None = None,
        cors_origins: Sequence[str] = (),
    ) -> None:
        self._lambdas = lambdas
        self._routes = [(route, _pattern(route)) for route in routes]
        self._identities = identities
        self._cors_origins = list(cors_origins)
        self._policies: dict[str, tuple[float, dict[str, Any]]] = {}
        self._policies_lock = threading.Lock()
        self.authorizer_calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.respond(Request(environ))(environ, start_response)

    def respond(self, request: Request) -> Response:
        if request.path == "/health":
            # Served once every part has started (LocalStack starts the gateway last).
            return _json(200, {"status": "ok"})
        if request.path.startswith("/_local/auth/"):
            return self._local_auth(request)
        matches = [(route, m) for route, pattern in self._routes if (m := pattern.match(request.path))]
        if request.method == "OPTIONS" and matches and self._cors_origins:
            return self._preflight(request)
        chosen = next(((route, m) for route, m in matches if route.method == request.method), None)
        if chosen is None:
            return self._gateway_error(request, "MISSING_AUTHENTICATION_TOKEN", 403)
        route, match = chosen
        if (request.content_length or 0) > rest_api.MAX_PAYLOAD_BYTES:
            return self._gateway_error(request, "REQUEST_TOO_LARGE", 413)
        raw = request.get_data(cache=False)
        if len(raw) > rest_api.MAX_PAYLOAD_BYTES:
            return self._gateway_error(request, "REQUEST_TOO_LARGE", 413)
        authorized = self._authorize(request, route)
        if isinstance(authorized, Response):
            return authorized
        event = proxy_event(route, match.groupdict(), request, raw, authorizer=authorized)
        payload, error_type, _ = self._lambdas.invoke(_function_name(route), event)
        if error_type is not None:
            return self._gateway_error(request, "INTEGRATION_FAILURE", rest_api.INTEGRATION_FAILURE_STATUS)
        response = proxy_response(payload)
        if response is None:  # not the proxy integration's answer shape
            return self._gateway_error(request, "INTEGRATION_FAILURE", rest_api.INTEGRATION_FAILURE_STATUS)
        return response

    def _preflight(self, request: Request) -> Response:
        """The MOCK integration: no authorizer, no Lambda."""
        response = Response(status=rest_api.PREFLIGHT_STATUS)
        for name, value in rest_api.preflight_headers(self._cors_origins, request.headers.get("Origin")).items():
            response.headers[name] = value
        return response

    def _authorize(self, request: Request, route: Route) -> dict[str, Any] | Response:
        """What API Gateway does with the TOKEN authorizer the stack configures."""
        token = request.headers.get(rest_api.IDENTITY_HEADER, "")
        if not re.fullmatch(rest_api.IDENTITY_VALIDATION_EXPRESSION, token):
            return self._gateway_error(request, "UNAUTHORIZED", 401)
        method_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/{route.method}{request.path}"
        started = time.perf_counter()
        with self._policies_lock:
            cached = self._policies.get(token)
        if cached and cached[0] > time.monotonic():
            answer = cached[1]
        else:
            self.authorizer_calls += 1
            event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
            payload, error_type, _ = self._lambdas.invoke(AUTHORIZER_FUNCTION, event)
            if error_type is not None:
                if isinstance(payload, dict) and payload.get("errorMessage") == "Unauthorized":
                    return self._gateway_error(request, "UNAUTHORIZED", 401)
                return self._gateway_error(request, "AUTHORIZER_FAILURE", rest_api.AUTHORIZER_FAILURE_STATUS)
            if not _usable_authorizer_answer(payload):
                return self._gateway_error(
                    request, "AUTHORIZER_CONFIGURATION_ERROR", rest_api.AUTHORIZER_FAILURE_STATUS
                )
            answer = payload
            with self._policies_lock:
                self._policies[token] = (time.monotonic() + rest_api.AUTHORIZER_CACHE_SECONDS, answer)
        if not policy_allows(answer["policyDocument"], method_arn):
            return self._gateway_error(request, "ACCESS_DENIED", 403)
        context = {key: _context_value(value) for key, value in (answer.get("context") or {}).items()}
        latency = 0 if cached else int((time.perf_counter() - started) * 1000)
        return {**context, "principalId": answer["principalId"], "integrationLatency": latency}

    def _gateway_error(self, request: Request, response_type: str, default_status: int) -> Response:
        """API Gateway's own answer for `response_type`, as the stack's gateway responses shape it."""
        error = rest_api.gateway_error(response_type)
        response = _json(error.status or default_status, error.body())
        for name, value in rest_api.gateway_error_cors(self._cors_origins).items():
            if value == "method.request.header.origin":
                origin = request.headers.get("Origin")
                if origin:
                    response.headers[name] = origin
            else:
                response.headers[name] = value.strip("'")
        return response

    def _local_auth(self, request: Request) -> Response:
        if self._identities is None:
            return _json(404, rest_api.gateway_error("MISSING_AUTHENTICATION_TOKEN").body())
        if request.path == CERTS_PATH and request.method == "GET":
            response = Response(self._identities.certificates(), 200, mimetype="application/json")
            response.headers["Cache-Control"] = "public, max-age=3600"
            return response
        if request.path == TOKEN_PATH and request.method == "POST":
            body = request.get_json(silent=True) or {}
            uid = body.get("uid") if isinstance(body, dict) else None
            if not isinstance(uid, str) or not 0 < len(uid) <= 128:
                return _json(
                    422, {"success": False, "error": {"code": "INVALID_REQUEST", "message": 'send {"uid": "..."}'}}
                )
            return _json(200, {"token": self._identities.token(uid), "uid": uid})
        return _json(404, rest_api.gateway_error("MISSING_AUTHENTICATION_TOKEN").body())


def _usable_authorizer_answer(payload: Any) -> bool:
    """API Gateway refuses (500) an answer without a principal or a policy, or whose context
    holds anything but strings, numbers and booleans."""
    if not isinstance(payload, dict) or not isinstance(payload.get("principalId"), str):
        return False
    policy = payload.get("policyDocument")
    if not isinstance(policy, dict) or not isinstance(policy.get("Statement"), list | dict):
        return False
    context = payload.get("context") or {}
    return isinstance(context, dict) and all(isinstance(v, str | int | float | bool) for v in context.values())


def _context_value(value: Any) -> str:
    """A REST API passes the authorizer's context values to the integration as strings."""
    return json.dumps(value) if isinstance(value, bool) else str(value)


def policy_allows(policy: Mapping[str, Any], method_arn: str) -> bool:
    """IAM evaluation of an authorizer's policy for `execute-api:Invoke` on `method_arn`: an
    explicit Deny in any matching statement wins, else some matching statement must Allow."""
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict) or not _applies(statement, method_arn):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _applies(statement: Mapping[str, Any], method_arn: str) -> bool:
    if "Condition" in statement:
        return False  # API Gateway evaluates none for an authorizer's policy; be safe: no match
    action = _matches(statement, "Action", "NotAction", "execute-api:Invoke", case_sensitive=False)
    return action and _matches(statement, "Resource", "NotResource", method_arn, case_sensitive=True)


def _matches(statement: Mapping[str, Any], key: str, not_key: str, value: str, *, case_sensitive: bool) -> bool:
    def any_match(patterns: Any) -> bool:
        listed = [patterns] if isinstance(patterns, str) else list(patterns or [])
        return any(_glob(str(p), value, case_sensitive=case_sensitive) for p in listed)

    if key in statement:
        return any_match(statement[key])
    if not_key in statement:
        return not any_match(statement[not_key])
    return False


def _glob(pattern: str, value: str, *, case_sensitive: bool) -> bool:
    """IAM wildcards: `*` any run of characters (slashes included), `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (0 if case_sensitive else re.IGNORECASE)) is not None


def proxy_event(
    route: Route, path_parameters: dict[str, str], request: Request, raw: bytes, *, authorizer: dict[str, Any] | None
) -> dict[str, Any]:
    """The REST API's Lambda proxy integration event (payload format 1.0)."""
    raw_headers: list[tuple[str, str]] = request.environ.get(RAW_HEADERS) or list(request.headers.items())
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in raw_headers:
        headers[name] = value  # the last of a repeated header
        multi_headers.setdefault(name, []).append(value)
    query = {name: values[-1] for name, values in request.args.lists()}
    multi_query = {name: list(values) for name, values in request.args.lists()}
    content_type = (request.mimetype or "").lower()
    is_base64 = bool(raw) and _is_binary(content_type)
    body = (base64.b64encode(raw).decode() if is_base64 else raw.decode("utf-8", errors="replace")) if raw else None
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    context: dict[str, Any] = {
        "resourceId": "local",
        "resourcePath": route.resource,
        "httpMethod": request.method,
        "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:9]).decode(),
        "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "path": f"/{STAGE}{request.path}",
        "accountId": ACCOUNT,
        "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        "stage": STAGE,
        "domainPrefix": API_ID,
        "requestTimeEpoch": int(now.timestamp() * 1000),
        "requestId": request_id,
        "identity": {
            "cognitoIdentityPoolId": None,
            "accountId": None,
            "cognitoIdentityId": None,
            "caller": None,
            "sourceIp": request.remote_addr or "127.0.0.1",
            "principalOrgId": None,
            "accessKey": None,
            "cognitoAuthenticationType": None,
            "cognitoAuthenticationProvider": None,
            "userArn": None,
            "userAgent": request.user_agent.string or None,
            "user": None,
        },
        "domainName": DOMAIN,
        "apiId": API_ID,
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


def _is_binary(content_type: str) -> bool:
    return any(fnmatch.fnmatch(content_type, media_type.lower()) for media_type in rest_api.BINARY_MEDIA_TYPES)


def proxy_response(payload: Any) -> Response | None:
    """The Lambda's answer as HTTP, or None when it is not a proxy integration answer."""
    if not isinstance(payload, dict) or not isinstance(payload.get("statusCode"), int):
        return None
    body = payload.get("body") or ""
    if not isinstance(body, str):
        return None
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
