"""A local stand-in for the OpenAI Images API, for tests and the demo.

It speaks the protocol the `openai` SDK speaks: `POST /v1/images/generations` (JSON) and
`POST /v1/images/edits` (multipart, images under `image[]` or `image`), bearer-token auth,
and OpenAI-shaped errors. Answers are real PNGs drawn by `local_stack.scene`, deterministic
for a prompt and its reference images, so a test can assert on bytes.

Tests steer it over HTTP (so a test in another thread or process can) or from Python:

- `POST /_control/faults` `{"faults": [rule, ...]}` replaces the fault rules; `GET` lists them.
- `POST /_control/reset` clears the rules and the request log.
- `GET /_control/requests` returns the request log.

A rule is `{"kind": "rate_limit"|"server_error"|"slow"|"reject", "match": str|null,
"times": int|null, "retryAfter": seconds|null (rate_limit; default 1, null sends no header),
"seconds": delay (slow; default 1)}`. Each image request walks the rules in order; a rule
whose `match` is a substring of the prompt (null matches any) and that has times left fires
and uses one up. `slow` waits and walks on; the others answer at once. Whatever the rules, a
prompt containing `CONTENT_POLICY_MARKER` is refused the way OpenAI's safety system refuses.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Request, Response

from local_stack.http_server import BackgroundServer
from local_stack.scene import render_scene

CONTENT_POLICY_MARKER = "[content-policy-violation]"
FAULT_KINDS = ("rate_limit", "server_error", "slow", "reject")
MODEL_PREFIXES = ("gpt-image", "chatgpt-image")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
REFERENCE_FORMATS = ("PNG", "JPEG", "WEBP")
MAX_REFERENCE_IMAGES = 16
MAX_IMAGES_PER_REQUEST = 10
MAX_PROMPT_CHARS = 32_000
MIN_SIDE, MAX_SIDE = 64, 4096
AUTO_SIZE = (1024, 1024)

_SIZE = re.compile(r"(\d+)x(\d+)")
# Output tokens OpenAI bills for a 1024x1024 image at each quality; other sizes scale by area.
_OUTPUT_TOKENS = {"low": 272, "medium": 1056, "high": 4160}
_TOKENS_PER_REFERENCE = 194


class ApiError(Exception):
    """An answer in OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = error_type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def response(self) -> Response:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        return _json_response(body, self.status, self.headers)


def content_policy_error() -> ApiError:
    return ApiError(
        400,
        "Your request was rejected by the safety system. If you believe this is an error, contact us at "
        "help.openai.com and include the request ID.",
        error_type="image_generation_user_error",
        code="content_policy_violation",
    )


@dataclass
class FaultRule:
    """One fault rule; `times` counts down as the rule fires (None never runs out)."""

    kind: str
    match: str | None = None
    times: int | None = None
    retry_after: float | None = 1.0
    seconds: float = 1.0

    @classmethod
    def parse(cls, raw: Any) -> FaultRule:
        """A rule from its JSON form; ValueError names what is wrong with it."""
        if not isinstance(raw, Mapping):
            raise ValueError(f"a fault rule is a JSON object, not {raw!r}")
        kind = raw.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}, not {kind!r}")
        allowed = {"kind", "match", "times"} | {"rate_limit": {"retryAfter"}, "slow": {"seconds"}}.get(kind, set())
        # Unknown keys are refused so that a typo ("retry_after") fails loudly instead of being ignored.
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise ValueError(f"unknown keys for a {kind} rule: {', '.join(unknown)}")
        match = raw.get("match")
        if match is not None and not isinstance(match, str):
            raise ValueError("match must be a string or null")
        times = raw.get("times")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 0):
            raise ValueError("times must be a non-negative integer or null")
        retry_after = raw.get("retryAfter", 1.0)
        retry_after = None if retry_after is None else _seconds(retry_after, "retryAfter")
        seconds = _seconds(raw.get("seconds", 1.0), "seconds")
        return cls(kind=kind, match=match, times=times, retry_after=retry_after, seconds=seconds)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"kind": self.kind, "match": self.match, "times": self.times}
        if self.kind == "rate_limit":
            document["retryAfter"] = self.retry_after
        if self.kind == "slow":
            document["seconds"] = self.seconds
        return document

    def take(self, prompt: str) -> bool:
        """Whether the rule fires for `prompt`, using up one of its times if so. Call under the lock."""
        if self.match is not None and self.match not in prompt:
            return False
        if self.times is not None:
            if self.times <= 0:
                return False
            self.times -= 1
        return True

    def error(self) -> ApiError:
        if self.kind == "rate_limit":
            message = "Rate limit reached for images per minute."
            headers = {}
            if self.retry_after is not None:
                message += f" Please try again in {_format_seconds(self.retry_after)}s."
                headers["retry-after"] = _format_seconds(self.retry_after)
            return ApiError(
                429,
                message,
                error_type="requests",
                code="rate_limit_exceeded",
                headers=headers,
            )
        if self.kind == "server_error":
            return ApiError(
                500,
                "The server had an error while processing your request. Sorry about that!",
                error_type="server_error",
                code="server_error",
            )
        return content_policy_error()


@dataclass(frozen=True)
class ImageCall:
    """A validated image request."""

    model: str
    prompt: str
    size: tuple[int, int]
    quality: str
    n: int
    output_format: str
    references: tuple[bytes, ...] = ()


class ImagesApp:
    """The WSGI application. Thread-safe: werkzeug serves each request on its own thread."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._faults: list[FaultRule] = []
        self._log: list[dict[str, Any]] = []
        # A reset wakes requests held by a `slow` rule and keeps them out of the fresh log.
        self._generation = 0
        self._wake = threading.Event()
        self._routes: dict[str, dict[str, Callable[[Request], Response]]] = {
            "/v1/images/generations": {"POST": lambda r: self._images(r, "generations")},
            "/v1/images/edits": {"POST": lambda r: self._images(r, "edits")},
            "/_control/requests": {"GET": lambda _: _json_response(self.requests())},
            "/_control/faults": {
                "GET": lambda _: _json_response({"faults": self.faults()}),
                "POST": self._post_faults,
            },
            "/_control/reset": {"POST": self._post_reset},
        }

    # -- Python control ---------------------------------------------------------------------

    def set_faults(self, rules: Iterable[Any]) -> None:
        """Replace the fault rules (each in its JSON form). ValueError for an invalid rule."""
        parsed = [FaultRule.parse(rule) for rule in rules]
        with self._lock:
            self._faults = parsed

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_json() for rule in self._faults]

    def reset(self) -> None:
        with self._lock:
            self._faults = []
            self._log = []
            self._generation += 1
            self._release_held_requests_locked()

    def release_held_requests(self) -> None:
        """Let requests held by a `slow` rule go on now."""
        with self._lock:
            self._release_held_requests_locked()

    def _release_held_requests_locked(self) -> None:
        self._wake.set()
        self._wake = threading.Event()

    def requests(self) -> list[dict[str, Any]]:
        """Every image request so far, oldest first (copies)."""
        with self._lock:
            return [{**entry, "referenceSha256": list(entry["referenceSha256"])} for entry in self._log]

    # -- WSGI -------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        response = self._dispatch(Request(environ))
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def _dispatch(self, request: Request) -> Response:
        methods = self._routes.get(request.path)
        if methods is None:
            return ApiError(404, f"Invalid URL ({request.method} {request.path})").response()
        handler = methods.get(request.method)
        if handler is None:
            return ApiError(405, f"Method {request.method} not allowed for {request.path}").response()
        return handler(request)

    def _post_reset(self, _: Request) -> Response:
        self.reset()
        return _json_response({"reset": True})

    def _post_faults(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("faults"), list):
            return ApiError(400, 'send {"faults": [rule, ...]}', param="faults").response()
        try:
            self.set_faults(body["faults"])
        except ValueError as exc:
            return ApiError(400, str(exc), param="faults").response()
        return _json_response({"faults": self.faults()})

    # -- the Images API ---------------------------------------------------------------------

    def _images(self, request: Request, endpoint: str) -> Response:
        with self._lock:
            generation, wake = self._generation, self._wake
        fields, images, body_error = _read_body(request, endpoint)
        entry: dict[str, Any] = {
            "endpoint": endpoint,
            "model": fields.get("model"),
            "prompt": fields.get("prompt"),
            "size": fields.get("size"),
            "quality": fields.get("quality"),
            "n": _maybe_int(fields.get("n")),
            "referenceSha256": [hashlib.sha256(image).hexdigest() for image in images],
            "status": None,
            "at": self._clock(),
        }
        try:
            _authorize(request)
            if body_error is not None:
                raise body_error
            prompt = fields.get("prompt")
            self._apply_faults(prompt if isinstance(prompt, str) else "", wake)
            call = _validate(endpoint, fields, images)
            if CONTENT_POLICY_MARKER in call.prompt:
                raise content_policy_error()
            response = _json_response(self._answer(call))
        except ApiError as error:
            response = error.response()
        response.headers["x-request-id"] = f"req_{uuid.uuid4().hex}"
        entry["status"] = response.status_code
        with self._lock:
            if generation == self._generation:
                self._log.append(entry)
        return response

    def _apply_faults(self, prompt: str, wake: threading.Event) -> None:
        with self._lock:
            rules = self._faults
        for rule in rules:
            with self._lock:
                fired = rule.take(prompt)
            if not fired:
                continue
            if rule.kind == "slow":
                wake.wait(rule.seconds)
                continue
            raise rule.error()

    def _answer(self, call: ImageCall) -> dict[str, Any]:
        data = [{"b64_json": _b64_image(call, variant)} for variant in range(call.n)]
        quality = "medium" if call.quality == "auto" else call.quality
        width, height = call.size
        text_tokens = max(1, -(-len(call.prompt) // 4))
        image_tokens = _TOKENS_PER_REFERENCE * len(call.references)
        per_image = round(_OUTPUT_TOKENS.get(quality, _OUTPUT_TOKENS["medium"]) * width * height / 1024**2)
        output_tokens = per_image * call.n
        return {
            "created": int(self._clock()),
            "data": data,
            "output_format": call.output_format,
            "size": f"{width}x{height}",
            "quality": quality,
            "usage": {
                "input_tokens": text_tokens + image_tokens,
                "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
                "output_tokens": output_tokens,
                "total_tokens": text_tokens + image_tokens + output_tokens,
            },
        }


class ImagesServer:
    """The app served on 127.0.0.1 in a background thread. `url` has no `/v1`; `api_url` has."""

    def __init__(self, port: int = 0, *, app: ImagesApp | None = None) -> None:
        self.app = app or ImagesApp()
        self._server = BackgroundServer(self.app, port=port, name="openai-images")

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def api_url(self) -> str:
        return f"{self._server.url}/v1"

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> ImagesServer:
        self._server.start()
        return self

    def stop(self) -> None:
        # Requests held by a `slow` rule would otherwise outlive the server by their delay.
        self.app.release_held_requests()
        self._server.stop()

    def __enter__(self) -> ImagesServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def set_faults(self, rules: Iterable[Any]) -> None:
        self.app.set_faults(rules)

    def faults(self) -> list[dict[str, Any]]:
        return self.app.faults()

    def reset(self) -> None:
        self.app.reset()

    def requests(self) -> list[dict[str, Any]]:
        return self.app.requests()


def start_images_server(port: int = 0) -> ImagesServer:
    """Start a server on `port` (0 picks a free one); call `.stop()` when done."""
    return ImagesServer(port).start()


# ---------------------------------------------------------------------------------------------
# Request parsing and validation


def _authorize(request: Request) -> None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )


def _read_body(request: Request, endpoint: str) -> tuple[dict[str, Any], list[bytes], ApiError | None]:
    """The request's fields and image files, read leniently so that even a bad request is logged."""
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields: dict[str, Any] = request.form.to_dict()
        files: list[FileStorage] = [f for key, f in request.files.items(multi=True) if key in ("image", "image[]")]
        return fields, [f.read() for f in files], None
    body = request.get_json(silent=True, force=True)
    if isinstance(body, dict):
        return body, [], None
    if endpoint == "edits" and not request.get_data():
        return {}, [], None
    return {}, [], ApiError(400, "We could not parse the JSON body of your request.")


def _validate(endpoint: str, fields: Mapping[str, Any], images: list[bytes]) -> ImageCall:
    prompt = fields.get("prompt")
    if prompt is None:
        raise ApiError(400, "Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ApiError(400, "Invalid 'prompt': empty string.", param="prompt", code="empty_string")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ApiError(
            400,
            f"Invalid 'prompt': string too long. Expected at most {MAX_PROMPT_CHARS} characters.",
            param="prompt",
            code="string_above_max_length",
        )
    model = fields.get("model")
    if not isinstance(model, str) or not model.startswith(MODEL_PREFIXES):
        raise ApiError(
            400,
            f"Invalid value: {model!r}. This server supports only GPT image models "
            f"({', '.join(p + '-*' for p in MODEL_PREFIXES)}).",
            param="model",
            code="invalid_value",
        )
    size = _parse_size(fields.get("size", "auto"))
    n = _maybe_int(fields.get("n", 1))
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_IMAGES_PER_REQUEST:
        raise ApiError(
            400,
            f"Invalid 'n': expected an integer from 1 to {MAX_IMAGES_PER_REQUEST}.",
            param="n",
            code="invalid_value",
        )
    output_format = fields.get("output_format", "png")
    if output_format not in OUTPUT_FORMATS:
        raise ApiError(
            400,
            f"Invalid value: {output_format!r}. Supported values are: {', '.join(OUTPUT_FORMATS)}.",
            param="output_format",
            code="invalid_value",
        )
    quality = fields.get("quality", "auto")
    if endpoint == "edits":
        _check_references(images)
    return ImageCall(
        model=model,
        prompt=prompt,
        size=size,
        quality=str(quality),
        n=n,
        output_format=output_format,
        references=tuple(images),
    )


def _check_references(images: list[bytes]) -> None:
    if not images:
        raise ApiError(400, "Missing required parameter: 'image'.", param="image", code="missing_required_parameter")
    if len(images) > MAX_REFERENCE_IMAGES:
        raise ApiError(
            400,
            f"Too many images: at most {MAX_REFERENCE_IMAGES} are allowed.",
            param="image",
            code="invalid_value",
        )
    for number, data in enumerate(images, start=1):
        if not _is_decodable(data):
            raise ApiError(
                400,
                f"Invalid image file or mode for image {number}, please check your image file. "
                f"Supported formats are {', '.join(REFERENCE_FORMATS)}.",
                param="image",
                code="invalid_image_format",
            )


def _is_decodable(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in REFERENCE_FORMATS:
                return False
            image.load()
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return False
    return True


def _parse_size(raw: Any) -> tuple[int, int]:
    if raw == "auto":
        return AUTO_SIZE
    found = _SIZE.fullmatch(raw) if isinstance(raw, str) else None
    if found:
        width, height = int(found[1]), int(found[2])
        if MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE:
            return width, height
    raise ApiError(
        400,
        f"Invalid value: {raw!r}. Expected 'auto' or 'WxH' with sides from {MIN_SIDE} to {MAX_SIDE}.",
        param="size",
        code="invalid_value",
    )


# ---------------------------------------------------------------------------------------------
# Helpers


def _b64_image(call: ImageCall, variant: int) -> str:
    scene = render_scene(call.prompt, call.size, references=call.references, variant=variant)
    return base64.b64encode(scene.encode(call.output_format)).decode("ascii")


def _json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=dict(headers or {}), mimetype="application/json")


def _maybe_int(value: Any) -> Any:
    """Form fields arrive as text: "2" means 2. Anything else is returned as sent."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a non-negative number of seconds")
    return float(value)


def _format_seconds(seconds: float) -> str:
    """`2` rather than `2.0`, as the real service writes whole seconds."""
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)
