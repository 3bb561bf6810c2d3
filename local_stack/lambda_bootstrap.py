"""One Lambda execution environment, as the Python runtime runs one: import the handler once (the
cold start), then run one invocation at a time with a fresh context, until told to stop.

`local_stack.lambda_runtime` starts this file as a script, with the function's environment and
only the Lambda package on `sys.path`, so it imports nothing but the standard library and the
handler. Events arrive as JSON lines on stdin; answers leave as JSON lines on the file descriptor
named by argv[1]. stdout and stderr are the function's log, as CloudWatch would get them."""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The attributes and method the Python runtime's context object has."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str) -> None:
        env = os.environ
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = int(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.log_group_name = env["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.invoked_function_arn = invoked_function_arn
        self.aws_request_id = request_id
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def error_payload(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """What the runtime returns for an unhandled exception."""
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        # The runtime's own frames are not the function's.
        "stackTrace": [frame for frame in traceback.format_tb(exc.__traceback__) if __file__ not in frame],
    }


def load_handler() -> Any:
    module_name, _, attribute = os.environ["_HANDLER"].rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _InitError(error_payload(exc, "Runtime.ImportModuleError")) from exc
    except Exception as exc:
        raise _InitError(error_payload(exc)) from exc
    handler = getattr(module, attribute, None)
    if handler is None:
        message = f"Handler '{attribute}' missing on module '{module_name}'"
        raise _InitError({"errorMessage": message, "errorType": "Runtime.HandlerNotFound", "stackTrace": []})
    return handler


class _InitError(Exception):
    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload["errorMessage"])
        self.payload = payload


def main() -> None:
    answers = os.fdopen(int(sys.argv[1]), "w", buffering=1)

    def answer(message: dict[str, Any]) -> None:
        answers.write(json.dumps(message) + "\n")

    started = time.perf_counter()
    try:
        handler = load_handler()
    except _InitError as error:
        print(f"INIT_REPORT Init Duration: {_ms(time.perf_counter() - started)} ms Phase: init Status: error")
        answer({"initError": error.payload})
        return
    init_ms = _ms(time.perf_counter() - started)
    answer({"ready": True, "initMs": init_ms})
    first = True
    for line in sys.stdin:
        request = json.loads(line)
        request_id = request["requestId"]
        print(f"START RequestId: {request_id} Version: {os.environ['AWS_LAMBDA_FUNCTION_VERSION']}", flush=True)
        began = time.perf_counter()
        try:
            message: dict[str, Any] = {"requestId": request_id, "payload": _invoke(handler, request)}
        except Exception as exc:
            payload = error_payload(exc, "Runtime.MarshalError" if isinstance(exc, _MarshalError) else None)
            payload["requestId"] = request_id
            print(json.dumps(payload), flush=True)
            message = {"requestId": request_id, "error": payload}
        except BaseException as exc:  # SystemExit and the like end the environment, as in Lambda
            print(f"RequestId: {request_id} Error: Runtime exited: {exc!r}", flush=True)
            raise
        duration = time.perf_counter() - began
        used_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {_ms(duration)} ms\t"
            f"Billed Duration: {max(1, int(duration * 1000 + 0.999))} ms\t"
            f"Memory Size: {os.environ['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']} MB\tMax Memory Used: {used_mb} MB"
        )
        print(f"END RequestId: {request_id}", flush=True)
        print(report + (f"\tInit Duration: {init_ms} ms" if first else ""), flush=True)
        first = False
        answer(message)


class _MarshalError(Exception):
    pass


def _invoke(handler: Any, request: dict[str, Any]) -> str:
    """The handler's answer as the JSON Lambda returns."""
    context = LambdaContext(request["requestId"], request["deadlineMs"], request["invokedFunctionArn"])
    result = handler(request["event"], context)
    try:
        return json.dumps(result)
    except (TypeError, ValueError) as exc:
        raise _MarshalError(f"Unable to marshal response: {exc}") from None


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


if __name__ == "__main__":
    main()
