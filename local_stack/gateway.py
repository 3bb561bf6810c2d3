"""A local stand-in for API Gateway's REST API, configured by what configures the real one
(`infra.rest_api`, `storyimages.api.routes`). Each request is matched to a route; its
Authorization header is checked against the authorizer's identity validation expression; the
TOKEN authorizer Lambda is invoked (its policy cached per token) and its policy evaluated
against the request's method ARN; the request becomes the proxy event API Gateway sends; the
route's Lambda answers. CORS preflights are answered as the MOCK integration CDK creates, and
API Gateway's own errors as the stack's gateway responses.

It also serves the local stack's development identities under /_local/auth/ (never part of
the API in AWS): the certificates the authorizer trusts in local mode, and tokens for a uid; and,
given an AppPage, the progress page at `/` and the stories it offers (`local_stack.app_page`).
README "The local stack" lists where it still differs from API Gateway.

Tracing is on, as the stage's (TracingEnabled): each API request is in the trace its
X-Amzn-Trace-Id header names (its Root, its Parent, its Sampled decision if it made one), or in a
new, sampled trace; the event's X-Amzn-Trace-Id header has that Root when the client sent none,
both Lambda invocations (the authorizer's and the route's) carry the trace with the stage's
segment as their Parent, and the answer has X-Amzn-Trace-Id `Root=...;Sampled=...`. Given an X-Ray
daemon (`xray_daemon_address`), the gateway sends it the request's AWS::ApiGateway::Stage segment
(method, URL, status; error, throttle or fault) once it has answered; X-Ray's sampling rules
(1 a second and 5 % of the rest) are not applied: every new trace is sampled."""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from infra import rest_api
from infra.function_catalogue import function_name
from local_stack.app_page import AppPage
from local_stack.identity import DevIdentities
from local_stack.lambda_runtime import ACCOUNT, REGION, InvokeRefused, LambdaRuntime
from local_stack.xray_daemon import TraceHeader, new_trace_id, send_document
from storyimages.api.routes import ROUTES, Route

STAGE = "local"
API_ID = "local"
DOMAIN = f"{API_ID}.execute-api.localhost"
AUTHORIZER_FUNCTION = function_name("Authorizer")
CERTS_PATH = "/_local/auth/certs"
TOKEN_PATH = "/_local/auth/token"
RAW_HEADERS = "storyimages.raw_headers"
TRACE_HEADER = "X-Amzn-Trace-Id"
STAGE_ORIGIN = "AWS::ApiGateway::Stage"


class RawHeadersRequestHandler(WSGIRequestHandler):
    """Keeps the request's header lines as sent: WSGI joins a repeated header into one value,
    API Gateway keeps each (multiValueHeaders) and the names' case."""

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ[RAW_HEADERS] = list(self.headers.items())
        return environ


def _pattern(route: Route) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", route.path) + "$")


def _resource_patterns(routes: Sequence[Route]) -> list[re.Pattern[str]]:
    """Every resource of the API: the routes' paths and each of their parents, down to the root
    (CDK puts the preflight's OPTIONS method on each one)."""
    resources = {"/"}
    for route in routes:
        parts = route.path.strip("/").split("/")
        resources |= {"/" + "/".join(parts[:n]) for n in range(1, len(parts) + 1)}
    return [re.compile("^" + re.sub(r"<(\w+)>", r"[^/]+", resource) + "$") for resource in sorted(resources)]


def raw_path(request: Request) -> str:
    """The path as the client sent it, percent-encoding kept: what a REST API puts in the event's
    `path`, `pathParameters` and `requestContext.path` (WSGI's PATH_INFO is decoded)."""
    raw = str(request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or "")
    if not raw:
        return quote(request.path)
    # WSGI carries the request line's bytes as latin-1 text.
    return urlsplit(raw.encode("latin-1", "replace").decode("utf-8", "replace")).path


def sent_headers(request: Request) -> list[tuple[str, str]]:
    """The request's header lines, names as sent and repeated headers apart."""
    raw: list[tuple[str, str]] | None = request.environ.get(RAW_HEADERS)
    return raw if raw is not None else list(request.headers.items())


def last_header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    """The last value of header `name` (any case), as the event's `headers` keeps it."""
    values = [value for key, value in headers if key.lower() == name.lower()]
    return values[-1] if values else None


class Gateway:
    def __init__(
        self,
        lambdas: LambdaRuntime,
        routes: Sequence[Route] = ROUTES,
        *,
        identities: DevIdentities | None = None,
        cors_origins: Sequence[str] = (),
        page: AppPage | None = None,
        xray_daemon_address: str | None = None,
    ) -> None:
        self._lambdas = lambdas
        self.xray_daemon_address = xray_daemon_address  # where the stage segments go (None: nowhere)
        self._page = page
        self._routes = [(route, _pattern(route)) for route in routes]
        self._resources = _resource_patterns(routes)
        self._identities = identities
        self.cors_origins = list(cors_origins)
        self._policies: dict[str, tuple[float, dict[str, Any]]] = {}
        self._policies_lock = threading.Lock()
        self.authorizer_calls = 0  # invocations of the authorizer Lambda (cache misses)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.respond(Request(environ))(environ, start_response)

    def respond(self, request: Request) -> Response:
        if request.path == "/health":
            # Served once every part has started (LocalStack starts the gateway last).
            return _json(200, {"status": "ok"})
        if request.path.startswith("/_local/auth/"):
            return self._local_auth(request)
        if self._page is not None and self._page.serves(request):
            return self._page.respond(request)
        request_id, extended_id = str(uuid.uuid4()), base64.b64encode(secrets.token_bytes(11)).decode()
        deadline = time.monotonic() + rest_api.INTEGRATION_TIMEOUT_SECONDS
        began = time.time()
        caller = TraceHeader.parse(last_header(sent_headers(request), TRACE_HEADER))
        trace = TraceHeader.next_hop(caller)
        response = self._api(request, request_id, extended_id, deadline, trace)
        # What API Gateway puts on every answer of a REST API.
        response.headers["x-amzn-RequestId"] = request_id
        response.headers["x-amz-apigw-id"] = extended_id
        response.headers[TRACE_HEADER] = str(TraceHeader(trace.root, sampled=trace.sampled))
        if self.xray_daemon_address and trace.sampled:
            segment = stage_segment(request, response.status_code, trace, caller, request_id, began, time.time())
            send_document(self.xray_daemon_address, segment)
        return response

    def _api(
        self, request: Request, request_id: str, extended_id: str, deadline: float, trace: TraceHeader
    ) -> Response:
        path = raw_path(request)
        if request.method == "OPTIONS" and self.cors_origins and any(p.match(path) for p in self._resources):
            return self._preflight(request)
        matches = [(route, m) for route, pattern in self._routes if (m := pattern.match(path))]
        chosen = next(((route, m) for route, m in matches if route.method == request.method), None)
        if chosen is None:
            return self._gateway_error(request, "MISSING_AUTHENTICATION_TOKEN", 403)
        route, match = chosen
        if (request.content_length or 0) > rest_api.MAX_PAYLOAD_BYTES:
            return self._gateway_error(request, "REQUEST_TOO_LARGE", 413)
        raw = request.get_data(cache=False)
        if len(raw) > rest_api.MAX_PAYLOAD_BYTES:
            return self._gateway_error(request, "REQUEST_TOO_LARGE", 413)
        authorized = self._authorize(request, route, path, str(trace))
        if isinstance(authorized, Response):
            return authorized
        event = proxy_event(
            route,
            match.groupdict(),
            request,
            raw,
            authorizer=authorized,
            request_id=request_id,
            extended_request_id=extended_id,
            trace_id=trace.root,
        )
        answered = self._integrate(function_name(route.function), event, deadline, str(trace))
        if answered is None:
            return self._gateway_error(request, "INTEGRATION_TIMEOUT", rest_api.INTEGRATION_TIMEOUT_STATUS)
        if isinstance(answered, InvokeRefused):  # the Lambda API refused the call
            return self._gateway_error(request, "INTEGRATION_FAILURE", rest_api.INVOKE_REFUSED_STATUS)
        payload, error_type = answered
        if error_type is not None:
            return self._gateway_error(request, "INTEGRATION_FAILURE", rest_api.INTEGRATION_FAILURE_STATUS)
        response = proxy_response(payload, last_header(sent_headers(request), "Accept"))
        if response is None:  # not the proxy integration's answer shape
            return self._gateway_error(request, "INTEGRATION_FAILURE", rest_api.INTEGRATION_FAILURE_STATUS)
        return response

    def _integrate(
        self, function: str, event: dict[str, Any], deadline: float, trace_header: str
    ) -> tuple[Any, str | None] | InvokeRefused | None:
        """The Lambda's answer, or None past the integration timeout (counted from the request's
        arrival, cold start included); as in AWS, the invocation itself runs on."""
        answer: Future[tuple[Any, str | None] | InvokeRefused] = Future()

        def invoke() -> None:
            try:
                payload, error_type, _ = self._lambdas.invoke(function, event, trace_header=trace_header)
                answer.set_result((payload, error_type))
            except InvokeRefused as refused:
                answer.set_result(refused)
            except BaseException as exc:  # reaches the waiting request, not this thread's end
                answer.set_exception(exc)

        threading.Thread(target=invoke, name=f"integration-{function}", daemon=True).start()
        try:
            return answer.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            return None

    def _preflight(self, request: Request) -> Response:
        """The MOCK integration: no authorizer, no Lambda. Its response template reads the header
        `Origin`, or `origin` when that is empty, by those exact names."""
        headers = sent_headers(request)
        origin = _exact_header(headers, "Origin") or _exact_header(headers, "origin")
        response = Response(status=rest_api.PREFLIGHT_STATUS, mimetype="application/json")
        for name, value in rest_api.preflight_headers(self.cors_origins, origin).items():
            response.headers[name] = value
        return response

    def _authorize(self, request: Request, route: Route, path: str, trace_header: str) -> dict[str, Any] | Response:
        """What API Gateway does with the TOKEN authorizer the stack configures: a missing token,
        or one the identity validation expression refuses, is 401 without invoking it."""
        token = last_header(sent_headers(request), rest_api.IDENTITY_HEADER) or ""
        if not re.fullmatch(rest_api.IDENTITY_VALIDATION_EXPRESSION, token):
            return self._gateway_error(request, "UNAUTHORIZED", 401)
        method_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/{route.method}{path}"
        started = time.perf_counter()
        with self._policies_lock:
            cached = self._policies.get(token)
            hit = cached is not None and cached[0] > time.monotonic()
            if not hit:
                self.authorizer_calls += 1
        if cached is not None and hit:
            answer = cached[1]
        else:
            event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
            try:
                payload, error_type, _ = self._lambdas.invoke(AUTHORIZER_FUNCTION, event, trace_header=trace_header)
            except InvokeRefused:
                return self._gateway_error(request, "AUTHORIZER_FAILURE", rest_api.AUTHORIZER_FAILURE_STATUS)
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
        latency = 0 if hit else int((time.perf_counter() - started) * 1000)
        return {**context, "principalId": answer["principalId"], "integrationLatency": latency}

    def _gateway_error(self, request: Request, response_type: str, default_status: int) -> Response:
        """API Gateway's own answer for `response_type`, as the stack's gateway responses shape it."""
        error = rest_api.gateway_error(response_type)
        response = _json(error.status or default_status, error.body())
        for name, value in rest_api.gateway_error_cors(self.cors_origins).items():
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


def _exact_header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    values = [value for key, value in headers if key == name]
    return values[-1] if values else None


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
    route: Route,
    path_parameters: dict[str, str],
    request: Request,
    raw: bytes,
    *,
    authorizer: dict[str, Any] | None,
    request_id: str | None = None,
    extended_request_id: str | None = None,
    trace_id: str | None = None,
) -> dict[str, Any]:
    """The REST API's Lambda proxy integration event (payload format 1.0), as a deployed REST API
    sends it: the path and path parameters percent-encoded as sent, query parameters decoded,
    header names as sent, each repeated header or parameter in the multi-value maps and its last
    value in the single-value ones, and the headers API Gateway adds itself (X-Amzn-Trace-Id:
    the client's, else the Root of `trace_id`, a new one if None)."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    replaced = {name.lower() for name in ADDED_HEADERS}
    sent = [(name, value) for name, value in sent_headers(request) if name.lower() not in replaced]
    for name, value in [*sent, *_added_headers(request, trace_id)]:
        headers[name] = value  # the last of a repeated header
        multi_headers.setdefault(name, []).append(value)
    query = {name: values[-1] for name, values in request.args.lists()}
    multi_query = {name: list(values) for name, values in request.args.lists()}
    content_type = (request.mimetype or "").lower()
    is_base64 = bool(raw) and _is_binary(content_type)
    # Not a binary media type: the body is passed as text (bytes that are not UTF-8 replaced).
    body = (base64.b64encode(raw).decode() if is_base64 else raw.decode("utf-8", errors="replace")) if raw else None
    path = raw_path(request)
    now = datetime.now(UTC)
    context: dict[str, Any] = {
        "resourceId": hashlib.sha256(route.resource.encode()).hexdigest()[:6],
        "resourcePath": route.resource,
        "httpMethod": request.method,
        "extendedRequestId": extended_request_id or base64.b64encode(secrets.token_bytes(11)).decode(),
        "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "path": f"/{STAGE}{path}",
        "accountId": ACCOUNT,
        "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        "stage": STAGE,
        "domainPrefix": API_ID,
        "requestTimeEpoch": int(now.timestamp() * 1000),
        "requestId": request_id or str(uuid.uuid4()),
        "identity": {
            "cognitoIdentityPoolId": None,
            "accountId": None,
            "cognitoIdentityId": None,
            "caller": None,
            "sourceIp": _source_ip(request),
            "principalOrgId": None,
            "accessKey": None,
            "cognitoAuthenticationType": None,
            "cognitoAuthenticationProvider": None,
            "userArn": None,
            "userAgent": last_header(sent_headers(request), "User-Agent"),
            "user": None,
        },
        "domainName": DOMAIN,
        "apiId": API_ID,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_base64,
    }


ADDED_HEADERS = ("X-Amzn-Trace-Id", "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto")


def _added_headers(request: Request, trace_id: str | None = None) -> list[tuple[str, str]]:
    """What API Gateway adds to the request's headers (it replaces a client's of these names, but
    appends the caller's address to a client's X-Forwarded-For and keeps its trace id)."""
    sent = sent_headers(request)
    forwarded = last_header(sent, "X-Forwarded-For")
    trace = last_header(sent, TRACE_HEADER)
    if trace is None:
        trace = f"Root={trace_id or new_trace_id()}"
    return [
        (TRACE_HEADER, trace),
        ("X-Forwarded-For", f"{forwarded}, {_source_ip(request)}" if forwarded else _source_ip(request)),
        ("X-Forwarded-Port", str(request.environ.get("SERVER_PORT", ""))),
        ("X-Forwarded-Proto", str(request.environ.get("wsgi.url_scheme", "http"))),
    ]


def stage_segment(
    request: Request,
    status: int,
    trace: TraceHeader,
    caller: TraceHeader | None,
    request_id: str,
    began: float,
    ended: float,
) -> dict[str, Any]:
    """The AWS::ApiGateway::Stage segment of one API request: the parent of its Lambda invocations."""
    segment: dict[str, Any] = {
        "name": f"{API_ID}/{STAGE}",
        "id": trace.parent,
        "trace_id": trace.root,
        "start_time": began,
        "end_time": ended,
        "origin": STAGE_ORIGIN,
        "resource_arn": f"arn:aws:apigateway:{REGION}::/restapis/{API_ID}/stages/{STAGE}",
        "http": {
            "request": {
                "method": request.method,
                "url": request.url,
                "client_ip": _source_ip(request),
                "user_agent": last_header(sent_headers(request), "User-Agent") or "",
            },
            "response": {"status": status},
        },
        "aws": {
            "api_gateway": {"account_id": ACCOUNT, "rest_api_id": API_ID, "stage": STAGE, "request_id": request_id}
        },
    }
    if caller is not None and caller.parent is not None:
        segment["parent_id"] = caller.parent
    if 400 <= status < 500:
        segment["error"] = True
        if status == 429:
            segment["throttle"] = True
    elif status >= 500:
        segment["fault"] = True
    return segment


def _source_ip(request: Request) -> str:
    return request.remote_addr or "127.0.0.1"


def _is_binary(content_type: str, binary_media_types: Sequence[str] = rest_api.BINARY_MEDIA_TYPES) -> bool:
    return any(fnmatch.fnmatch(content_type, media_type.lower()) for media_type in binary_media_types)


def proxy_response(
    payload: Any, accept: str | None = None, binary_media_types: Sequence[str] = rest_api.BINARY_MEDIA_TYPES
) -> Response | None:
    """The Lambda's answer as HTTP, or None when it is not a proxy integration answer. As API
    Gateway does, `headers` and `multiValueHeaders` are merged (a pair in both is sent once), an
    answer naming no Content-Type is sent as application/json, and a base64 body is decoded only
    when the request's first Accept media type is one of the binary media types (otherwise the
    client gets the base64 text)."""
    if not isinstance(payload, dict):
        return None
    status = payload.get("statusCode")
    # A number, or a string of digits (API Gateway takes `"statusCode": "200"` too).
    if isinstance(status, bool) or not (isinstance(status, int) or (isinstance(status, str) and status.isdigit())):
        return None
    body = payload.get("body") or ""
    if not isinstance(body, str):
        return None
    first_accepted = (accept or "").split(",")[0].split(";")[0].strip().lower()
    binary = bool(first_accepted) and _is_binary(first_accepted, binary_media_types)
    data = base64.b64decode(body) if payload.get("isBase64Encoded") and binary else body.encode()
    response = Response(data, status=int(status))
    response.headers.pop("Content-Type", None)
    headers, multi_headers = payload.get("headers") or {}, payload.get("multiValueHeaders") or {}
    if not isinstance(headers, dict) or not isinstance(multi_headers, dict):
        return None
    if not all(isinstance(values, list) for values in multi_headers.values()):
        return None
    merged: dict[str, list[str]] = {}
    for name, value in headers.items():
        merged.setdefault(name, []).append(str(value))
    for name, values in multi_headers.items():
        listed = merged.setdefault(name, [])
        listed += [str(value) for value in values if str(value) not in listed]
    for name, values in merged.items():
        for value in values:
            response.headers.add(name, value)
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = "application/json"
    return response


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json")
