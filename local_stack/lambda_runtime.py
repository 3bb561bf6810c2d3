"""Run our real Lambda handlers in this process, as the Lambda service would: import once
(the cold start), then call `handler(event, context)`; an exception becomes the error payload
Lambda returns, `{"errorType", "errorMessage", "stackTrace"}`."""

from __future__ import annotations

import importlib
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[Any, Any], Any]

_handlers: dict[str, Handler] = {}
_import_lock = threading.Lock()


@dataclass
class LocalLambdaContext:
    function_name: str
    timeout_seconds: int = 900
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Invocation:
    function_name: str
    event: Any
    error_type: str | None
    seconds: float


def load_handler(path: str) -> Handler:
    """`module:function`, imported on first use like a cold start."""
    with _import_lock:
        if path not in _handlers:
            module_name, _, attribute = path.partition(":")
            _handlers[path] = getattr(importlib.import_module(module_name), attribute)
        return _handlers[path]


def invoke(handler_path: str, function_name: str, event: Any) -> tuple[Any, str | None, float]:
    """(payload, error type or None, seconds). Never raises for the handler's own errors."""
    started = time.perf_counter()
    try:
        result = load_handler(handler_path)(event, LocalLambdaContext(function_name))
    except Exception as exc:
        error = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(exc),
        }
        return error, type(exc).__name__, time.perf_counter() - started
    return result, None, time.perf_counter() - started


def forget_handlers() -> None:
    with _import_lock:
        _handlers.clear()
