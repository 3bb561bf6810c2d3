"""One Lambda execution environment, as the Python runtime (awslambdaric) runs one: install the
runtime's root log handler, import the handler once (the cold start), then run one invocation at
a time with a fresh context, until told to stop.

`local_stack.lambda_runtime` starts this file as a script (`python -P -u`), with the function's
environment and the task root first on `sys.path` (this file's folder is not on it), so it imports
nothing but the standard library and the handler. Requests arrive as JSON lines on stdin, which
this process then moves off fd 0 (the handler's stdin reads /dev/null). Answers leave on the file
descriptor named by argv[1]: a JSON header line, followed for a result by its `payloadBytes`
bytes of JSON. argv[2] is the parent's `time.monotonic()` when it started this process, so the
Init Duration counts the interpreter's start as Lambda's counts the runtime's; argv[3] names, as a
JSON list, the variables the environment holds: any the interpreter added at start (LC_CTYPE,
when it coerces a missing locale) is removed before the handler's import. stdout and stderr
are the function's log, as CloudWatch would get them, with the platform's INIT_START, START, END,
REPORT and INIT_REPORT lines.

Each request carries the invocation's X-Ray trace header (`traceId`, Lambda's
Lambda-Runtime-Trace-Id), which becomes `_X_AMZN_TRACE_ID` before the handler runs, replaced by
the next request's (removed if one came without), as awslambdaric does; it is not set during the
init. The X-Ray SDK's Lambda mode reads it on each use: the function's subsegments go to
AWS_XRAY_DAEMON_ADDRESS under the Parent it names. The runtime (`local_stack.lambda_runtime`)
makes the header: the caller's trace, or a new one per invocation when the caller passed none.
Lambda's own segments for the invocation are not made here: the runtime sends a stand-in for the
AWS::Lambda::Function segment once the invocation ends.

Error payloads are the runtime's: `{"errorMessage", "errorType", "requestId", "stackTrace"}`,
with the leading frames of this file left out of the stack trace; an init failure is
`Runtime.ImportModuleError`, `Runtime.UserCodeSyntaxError`, `Runtime.HandlerNotFound` or the
class of the exception the import raised; an answer json cannot encode is `Runtime.MarshalError`.
Answers are encoded as the python3.12 runtime encodes them: non-ASCII characters as UTF-8, not
escaped, and a Decimal as the number it holds."""

from __future__ import annotations

import decimal
import importlib
import json
import logging
import math
import os
import resource
import sys
import time
import traceback
from typing import IO, Any

_request_id = ""  # the invocation under way, for log records (awslambdaric's _GLOBAL_AWS_REQUEST_ID)
_platform_fd = 1  # replaced at start by a copy of fd 1, so platform lines reach the log whatever the handler does


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self) -> None:
        self.cognito_identity_id: str | None = None
        self.cognito_identity_pool_id: str | None = None


class LambdaContext:
    """The attributes and methods the Python runtime's context object has. As there, they are read
    from the environment: `memory_limit_in_mb` is a string."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id: str | None = None
        self.client_context: Any = None  # set only for invocations from the AWS Mobile SDK
        self.identity = CognitoIdentity()
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, msg: Any) -> None:
        sys.stdout.write(str(msg))


def make_error(message: str, error_type: str, stack_trace: list[str] | None, request_id: str = "") -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack_trace or []}


def error_payload(exc: BaseException, request_id: str = "") -> dict[str, Any]:
    """What the runtime reports for an unhandled exception: its class, message and stack trace."""
    frames = traceback.extract_tb(exc.__traceback__)
    while frames and frames[0].filename == __file__:  # the runtime's own frames are not the function's
        del frames[0]
    return make_error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


class Fault(Exception):
    """A failure the runtime reports by its own error type (awslambdaric's FaultException)."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.payload = make_error(message, error_type, stack_trace)


def load_handler(handler: str) -> Any:
    """The function `_HANDLER` names ("package.module.function"); any other exception its import
    raises propagates, to be reported by its class."""
    module_name, dot, attribute = handler.rpartition(".")
    if not dot:
        raise Fault(
            "Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)"
        )
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise Fault("Runtime.BuiltInModuleConflict", f"Cannot use built-in module {module_name} as a handler module")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise Fault("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise Fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", trace) from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise Fault("Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'") from None


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _request_id
        return True


def setup_logging() -> None:
    """The root handler the runtime installs before the import: records of loggers that propagate
    to the root are written as "[LEVEL]\\t<time>Z\\t<request id>\\t<message>"."""
    logging.Formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.terminator = ""  # the format ends the line
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n", "%Y-%m-%dT%H:%M:%S"
        )
    )
    handler.addFilter(_RequestIdFilter())
    logging.getLogger().addHandler(handler)


def platform(line: str) -> None:
    """A line of Lambda's own (START, END, REPORT, ...) in the function's log."""
    os.write(_platform_fd, (line + "\n").encode())


def log_error(error: dict[str, Any]) -> None:
    """How the runtime logs an error it reports (text log format)."""
    description = f"[ERROR] {error['errorType']}"
    if error["errorMessage"]:
        description += f": {error['errorMessage']}"
    lines = [description, "Traceback (most recent call last):"]
    lines.extend(line for frame in error["stackTrace"] for line in frame.splitlines())
    sys.stdout.write("\n".join(lines) + "\n")


class _Encoder(json.JSONEncoder):
    def __init__(self) -> None:
        super().__init__(ensure_ascii=False)

    def default(self, o: Any) -> Any:
        if isinstance(o, decimal.Decimal):  # written as the number it holds, as simplejson writes it
            return math.nan if o.is_nan() else json.loads(str(o))
        return super().default(o)


def marshal(result: Any) -> bytes:
    try:
        return _Encoder().encode(result).encode()
    except (TypeError, ValueError, OverflowError) as exc:
        raise Fault("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None


def _answer(answers: IO[bytes], header: dict[str, Any], body: bytes = b"") -> None:
    answers.write(json.dumps(header).encode() + b"\n" + body)
    answers.flush()


def peak_memory_mb() -> int:
    """This process's peak resident memory (VmHWM: since its exec, unlike ru_maxrss, which
    keeps the peak of the process that forked it)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def main() -> None:
    global _request_id, _platform_fd
    spawned = float(sys.argv[2])
    answers = os.fdopen(int(sys.argv[1]), "wb")
    requests = os.fdopen(os.dup(0), "rb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    _platform_fd = os.dup(1)
    env = os.environ
    for name in set(env) - set(json.loads(sys.argv[3])):
        del env[name]
    platform(f"INIT_START Runtime Version: python:{sys.version_info.major}.{sys.version_info.minor}")
    setup_logging()
    init_error: dict[str, Any] | None = None
    try:
        handler = load_handler(env["_HANDLER"])
    except Fault as exc:
        init_error = exc.payload
    except Exception as exc:
        init_error = error_payload(exc)
    init_ms = _ms(time.monotonic() - spawned)
    if init_error is not None:
        log_error(init_error)
        status = f"Status: error\tError Type: {init_error['errorType']}"
        platform(f"INIT_REPORT Init Duration: {init_ms} ms\tPhase: init\t{status}")
        _answer(answers, {"initError": init_error})
        sys.exit(1)  # as the runtime does once it has posted the init error
    _answer(answers, {"ready": True, "initMs": init_ms, "maxMemoryUsedMb": peak_memory_mb()})
    first = True
    for line in requests:
        request = json.loads(line)
        _request_id = request_id = request["requestId"]
        if request.get("traceId"):  # awslambdaric's update_xray_env_variable
            env["_X_AMZN_TRACE_ID"] = request["traceId"]
        else:
            env.pop("_X_AMZN_TRACE_ID", None)
        platform(f"START RequestId: {request_id} Version: {env['AWS_LAMBDA_FUNCTION_VERSION']}")
        began = time.monotonic()
        body = b""
        error: dict[str, Any] | None = None
        try:
            context = LambdaContext(request_id, request["deadlineMs"], request["invokedFunctionArn"])
            body = marshal(handler(request["event"], context))
        except Fault as exc:  # the runtime's own: no stack trace
            error = {**exc.payload, "requestId": request_id}
        except Exception as exc:  # SystemExit and the like end the process, as they end the runtime's
            error = error_payload(exc, request_id)
        if error is not None:
            log_error(error)
        duration = time.monotonic() - began
        used_mb = peak_memory_mb()
        platform(f"END RequestId: {request_id}")
        platform(
            f"REPORT RequestId: {request_id}\tDuration: {_ms(duration)} ms\t"
            f"Billed Duration: {max(1, math.ceil(duration * 1000))} ms\t"
            f"Memory Size: {env['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']} MB\tMax Memory Used: {used_mb} MB"
            + (f"\tInit Duration: {init_ms} ms" if first else "")
        )
        first = False
        _request_id = ""
        header = {"requestId": request_id, "maxMemoryUsedMb": used_mb}
        if error is not None:
            _answer(answers, {**header, "error": error})
        else:
            _answer(answers, {**header, "payloadBytes": len(body)}, body)


if __name__ == "__main__":
    main()
