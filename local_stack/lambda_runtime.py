"""Lambda on this machine. Each function runs in execution environments of its own: child
processes (`local_stack/lambda_bootstrap.py`) started with Lambda's runtime variables plus the
function's environment (nothing else of this process's but PATH) and the task root first on
their path, each serving one invocation at a time. A request that finds every environment busy
gets a new one (a cold start), as Lambda scales; an idle one is reused (warm), its module state
kept. As in Lambda, an invocation past the function's timeout is cut (`Sandbox.Timedout`, "Task
timed out after N.NN seconds") and its environment killed with every process it started; a
runtime that exits is `Runtime.ExitError` and a new environment serves the next request; a
request over 6 MB is refused (`RequestEntityTooLargeException`) and an answer over Lambda's
6,291,556 bytes replaced by `Function.ResponseSizeTooLarge`; a handler's exception becomes the
error payload `{"errorType", "errorMessage", "requestId", "stackTrace"}`; an init failure is
reported by its own error type and the next request starts a new environment. A function with
reserved concurrency N runs at most N invocations at once (initializing ones included): one more
is refused at once, not queued, as Lambda throttles it (`TooManyRequestsException`, HTTP 429,
"Rate Exceeded.", Reason `ReservedFunctionConcurrentInvocationLimitExceeded`); in_flight() and
peak_in_flight() tell how many run now and the most that ran at once.

What each environment writes to stdout and stderr, with Lambda's INIT_START / START / END /
REPORT lines (and the platform's lines for a timeout or an exit), goes to
`<logs_dir>/<function name>.log`, the function's log group.

Differences from Lambda: the interpreter is this one, with its site-packages on the path (the
asset's dependencies and boto3 in Lambda; here also whatever else the venv holds), and PYTHONPATH
is the task root; AWS_EXECUTION_ENV is not set (see RUNTIME_VARIABLES); memory is
reported (REPORT's Max Memory Used), not enforced; the init phase may take up to
INIT_TIMEOUT_SECONDS (Lambda allows 10 s, then retries the init within the function's timeout; a
busy two-core machine importing many environments at once needs more); only a function's
reserved concurrency caps it (not the account's 1,000, nor Lambda's scaling rate); environments
are not frozen between invocations, and are reaped after IDLE_SECONDS idle (Lambda keeps them
longer); a handler returning bytes is a `Runtime.MarshalError` (Lambda returns them as they are);
the Invoke API's own refusals (unknown function, request too large, throttled) raise
InvokeRefused, for the caller to answer as AWS does.

Tracing, as with active tracing (`Tracing: Active`): every environment has the X-Ray variables
Lambda sets (AWS_XRAY_DAEMON_ADDRESS, _AWS_XRAY_DAEMON_ADDRESS, _AWS_XRAY_DAEMON_PORT,
AWS_XRAY_CONTEXT_MISSING=LOG_ERROR), the daemon's address being `xray_daemon_address` (the local
stack's `local_stack.xray_daemon`; the SDK's own default 127.0.0.1:2000 without one), and each
invocation its trace header in _X_AMZN_TRACE_ID, set by the bootstrap before the handler runs and
replaced by the next invocation's (awslambdaric does the same with the Lambda-Runtime-Trace-Id
header; it is not set during the init). The header continues the caller's trace when `invoke` is
given one (`trace_header`: its Root, and its Sampled decision when it made one), else starts a new
trace (Root=1-<epoch seconds>-<96 random bits>, Sampled=1); its Parent is the id of the
invocation's AWS::Lambda::Function segment, which the runtime sends to the daemon once the
invocation ends (with the caller's Parent as its parent, a fault and the error on a function
error), so the function's own subsegments (the X-Ray SDK's, Powertools Tracer's) hang under it;
`invocations` keep each one's header (Invocation.trace_header). The X-Ray SDK keeps its facade
segment while the Root stays the same, so an environment invoked twice in one trace hangs the
second invocation's subsegments under the first one's Parent (in Lambda as here).

Differences from Lambda's tracing: every new trace is sampled (Lambda samples 1 a second and 5 %
of the rest); the function segment is a plain stand-in, from the Invoke call to its answer (no
AWS::Lambda service segment, no Initialization, Invocation or Overhead subsegments, none for an
invocation the Invoke API refused); the header carries no Lineage (Lambda's recursion detection).
Only callers that pass a header continue a trace: the gateway (API Gateway's trace) and the SQS
event source (a message's AWSTraceHeader). moto's Step Functions passes none to the tasks it
invokes (its ASL engine calls Invoke through boto3 without one, and keeps StartExecution's
traceHeader only to describe the execution), so each state machine task starts a trace of its own
here, where Step Functions' tracing would put every task of an execution in the execution's trace;
nor does moto's SQS keep a SendMessage's X-Amzn-Trace-Id header as the message's AWSTraceHeader,
as SQS does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from local_stack.xray_daemon import TraceHeader, new_entity_id, send_document

ROOT = Path(__file__).resolve().parents[1]
TASK_ROOT = ROOT / "functions"  # what the Lambda asset holds
BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
REGION = "us-east-1"
ACCOUNT = "123456789012"
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # a synchronous invoke's request
MAX_RESPONSE_BYTES = MAX_PAYLOAD_BYTES + 100  # and its response: the figure Lambda's error names
INIT_TIMEOUT_SECONDS = 60.0
STOP_SECONDS = 5.0
# An environment idle this long is stopped, as Lambda reaps idle ones (later, and at its own
# pace): each holds a Python process of 80-250 MB here.
IDLE_SECONDS = 60.0
# Set by Lambda's runtime in every execution environment, beside the function's own variables
# (_X_AMZN_TRACE_ID from the first invocation on: each one's trace header).
# Not AWS_EXECUTION_ENV ("AWS_Lambda_python3.12"): the functions' settings take it as the sign of
# AWS itself, where they refuse STORYIMAGES_ENV=local, which the local stack deploys with.
RUNTIME_VARIABLES = (
    "_AWS_XRAY_DAEMON_ADDRESS",
    "_AWS_XRAY_DAEMON_PORT",
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_REGION",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
    "LAMBDA_TASK_ROOT",
    "LANG",
    "PATH",
    "PYTHONPATH",
    "TZ",
)
# Where the X-Ray SDKs send without AWS_XRAY_DAEMON_ADDRESS: a runtime given no daemon says so.
DEFAULT_XRAY_DAEMON_ADDRESS = "127.0.0.1:2000"
FUNCTION_ORIGIN = "AWS::Lambda::Function"


@dataclass(frozen=True)
class LocalFunction:
    name: str  # the deployed function name
    handler: str  # "package.module:function"
    environment: Mapping[str, str]
    timeout_seconds: float
    memory_mb: int
    # Lambda's ReservedConcurrentExecutions: at most this many invocations at once (0 throttles
    # every one); None: unreserved, no cap of its own.
    reserved_concurrency: int | None = None

    def __post_init__(self) -> None:
        if self.reserved_concurrency is not None and self.reserved_concurrency < 0:
            raise ValueError(f"reserved_concurrency must be 0 or more, not {self.reserved_concurrency}")

    @property
    def arn(self) -> str:
        return function_arn(self.name)


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


class InvokeRefused(Exception):
    """The Invoke API refused the call, so the function never ran: Lambda answers an HTTP error
    (Step Functions sees `Lambda.<code>`, API Gateway answers 500), not a function error. `fields`
    are the error shape's other members, for the JSON error body beside "message" (e.g.
    TooManyRequestsException's Reason and Type)."""

    def __init__(self, code: str, message: str, status: int, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fields: dict[str, str] = dict(fields or {})


def _throttled() -> InvokeRefused:
    """What Lambda's Invoke API answers when the function's reserved concurrency is all in use."""
    return InvokeRefused(
        "TooManyRequestsException",
        "Rate Exceeded.",
        429,
        {"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User"},
    )


class InvokeResult(NamedTuple):
    payload: Any
    error_type: str | None  # set when the function failed (Lambda's X-Amz-Function-Error)
    seconds: float


@dataclass(frozen=True)
class Invocation:
    function_name: str
    event: Any
    error_type: str | None
    seconds: float
    cold_start: bool
    trace_header: str | None = None  # the _X_AMZN_TRACE_ID it ran with (or would have)


Outcome = tuple[Any, str | None]  # (payload, error type)


class LambdaRuntime:
    def __init__(self, logs_dir: Path, *, task_root: Path = TASK_ROOT, xray_daemon_address: str | None = None) -> None:
        self.logs_dir = logs_dir
        self.task_root = task_root  # what the functions' code asset holds
        # The X-Ray daemon ("host:port") the environments send to, and the runtime its function
        # segments; read when a function is first deployed. None: no function segments, and the
        # environments are given the SDK's default address.
        self.xray_daemon_address = xray_daemon_address
        self._pools: dict[str, _Pool] = {}
        self._lock = threading.Lock()
        self.invocations: list[Invocation] = []

    def deploy(self, functions: Mapping[str, LocalFunction]) -> None:
        """Deploy these functions, by name: a changed function cold-starts on its next invocation."""
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            for name, function in functions.items():
                pool = self._pools.get(name)
                if pool is None:
                    daemon = self.xray_daemon_address or DEFAULT_XRAY_DAEMON_ADDRESS
                    self._pools[name] = _Pool(function, self.logs_dir / f"{name}.log", self.task_root, daemon)
                elif pool.function != function:
                    pool.redeploy(function)

    def invoke(self, name: str, event: Any, *, trace_header: str | None = None) -> InvokeResult:
        """Invoke `name` synchronously (RequestResponse), in the trace of `trace_header` (an
        X-Amzn-Trace-Id value) if given one, else in a new trace. Never raises for the function's
        own errors; raises InvokeRefused when the Invoke API itself refuses the call (recorded in
        `invocations` by its code)."""
        started, began = time.perf_counter(), time.time()
        caller = TraceHeader.parse(trace_header)
        trace = TraceHeader.next_hop(caller)
        request_id = str(uuid.uuid4())
        with self._lock:
            pool = self._pools.get(name)
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            if len(body) > MAX_PAYLOAD_BYTES:
                raise InvokeRefused(
                    "RequestEntityTooLargeException",
                    f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation",
                    413,
                )
            served = pool.invoke(body, request_id, str(trace)) if pool is not None else None
            if served is None:
                raise InvokeRefused("ResourceNotFoundException", f"Function not found: {function_arn(name)}", 404)
        except InvokeRefused as refused:
            self._record(Invocation(name, event, refused.code, time.perf_counter() - started, False, str(trace)))
            raise
        (payload, error_type), cold = served
        seconds = time.perf_counter() - started
        self._record(Invocation(name, event, error_type, seconds, cold, str(trace)))
        if self.xray_daemon_address and trace.sampled:
            segment = function_segment(name, trace, caller, request_id, began, time.time(), payload, error_type)
            send_document(self.xray_daemon_address, segment)
        return InvokeResult(payload, error_type, seconds)

    def _record(self, invocation: Invocation) -> None:
        with self._lock:
            self.invocations.append(invocation)

    def log_lines(self, name: str) -> list[str]:
        """What the function's environments have written so far."""
        path = self.logs_dir / f"{name}.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def environments(self, name: str) -> int:
        """How many execution environments the function has now."""
        with self._lock:
            pool = self._pools.get(name)
        return pool.size if pool else 0

    def in_flight(self, name: str) -> int:
        """How many of the function's invocations are running now (initializing ones included):
        Lambda's ConcurrentExecutions."""
        with self._lock:
            pool = self._pools.get(name)
        return pool.in_flight if pool else 0

    def peak_in_flight(self, name: str) -> int:
        """The most of the function's invocations that ran at once since it was (re)deployed."""
        with self._lock:
            pool = self._pools.get(name)
        return pool.peak_in_flight if pool else 0

    def stop(self) -> None:
        """Stop every environment: idle ones at once, busy ones once their invocation ends or,
        past STOP_SECONDS, killed (their invocations then fail with Runtime.ExitError)."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        _all_at_once(pool.stop for pool in pools)


def function_segment(
    name: str,
    trace: TraceHeader,
    caller: TraceHeader | None,
    request_id: str,
    began: float,
    ended: float,
    payload: Any,
    error_type: str | None,
) -> dict[str, Any]:
    """The AWS::Lambda::Function segment of one invocation: the parent of what the function sends."""
    segment: dict[str, Any] = {
        "name": name,
        "id": trace.parent,
        "trace_id": trace.root,
        "start_time": began,
        "end_time": ended,
        "origin": FUNCTION_ORIGIN,
        "resource_arn": function_arn(name),
        "aws": {"request_id": request_id},
    }
    if caller is not None and caller.parent is not None:
        segment["parent_id"] = caller.parent
    if error_type is not None:
        message = payload.get("errorMessage") if isinstance(payload, dict) else None
        segment["fault"] = True
        segment["cause"] = {"exceptions": [{"id": new_entity_id(), "type": error_type, "message": str(message or "")}]}
    return segment


def _all_at_once(calls: Iterable[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=call, daemon=True) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _peak_memory_mb(pid: int) -> int | None:
    """A live process's peak resident memory (VmHWM), if /proc tells."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return None


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _failure(error_type: str, message: str) -> Outcome:
    return {"errorType": error_type, "errorMessage": message}, error_type


def _same_code(first: LocalFunction, second: LocalFunction) -> bool:
    """Whether an environment of one serves the other: all but the reservation alike."""
    return dataclasses.replace(first, reserved_concurrency=None) == dataclasses.replace(
        second, reserved_concurrency=None
    )


class _Pool:
    """One function's execution environments."""

    def __init__(self, function: LocalFunction, log_path: Path, task_root: Path, xray_daemon_address: str) -> None:
        self.function = function
        self.idle_since = time.monotonic()
        self._log_path = log_path
        self._task_root = task_root
        self._xray_daemon_address = xray_daemon_address
        self._changed = threading.Condition()
        self._idle: list[_Environment] = []
        self._busy: set[_Environment] = set()
        self._stopped = False
        # Invocations admitted and not yet ended, counted under the lock from admission on (an
        # environment joins _busy only once started): what reserved concurrency caps.
        self._in_flight = 0
        self._peak_in_flight = 0

    @property
    def size(self) -> int:
        with self._changed:
            return len(self._idle) + len(self._busy)

    @property
    def in_flight(self) -> int:
        with self._changed:
            return self._in_flight

    @property
    def peak_in_flight(self) -> int:
        with self._changed:
            return self._peak_in_flight

    def redeploy(self, function: LocalFunction) -> None:
        """New invocations get the new configuration; those under way end on the old one, and
        count against a new reserved concurrency until they do, as in Lambda. A change of the
        reservation alone (Lambda's PutFunctionConcurrency) keeps the warm environments."""
        with self._changed:
            code_changed = not _same_code(self.function, function)
            self.function = function
            self._peak_in_flight = self._in_flight
            if not code_changed:
                return
            idle, self._idle = self._idle, []
        for environment in idle:
            environment.stop()

    def invoke(self, body: bytes, request_id: str, trace_header: str) -> tuple[Outcome, bool] | None:
        """(outcome, cold start), or None once the pool is stopped. Raises InvokeRefused, at once,
        when the function's reserved concurrency is all in use."""
        with self._changed:
            if self._stopped:
                return None
            reserved = self.function.reserved_concurrency
            if reserved is not None and self._in_flight >= reserved:
                raise _throttled()
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
            stale = [e for e in self._idle if e.idle_since < time.monotonic() - IDLE_SECONDS]
            self._idle = [e for e in self._idle if e not in stale]
            environment = self._idle.pop() if self._idle else None  # the most recently used
            function = self.function
            if environment is not None:
                self._busy.add(environment)
        cold = environment is None
        keep = False
        try:
            for old in stale:
                old.stop()
            if environment is None:  # started outside the lock: cold starts proceed side by side
                environment = _Environment(function, self._log_path, self._task_root, self._xray_daemon_address)
                with self._changed:
                    if self._stopped:
                        return None
                    self._busy.add(environment)
                init_error = environment.initialize(request_id)
                if init_error is not None:
                    return (init_error, str(init_error.get("errorType", "Runtime.Unknown"))), cold
            result, keep = environment.invoke(body, request_id, trace_header)
            return result, cold
        finally:
            with self._changed:
                self._in_flight -= 1
                if environment is not None:
                    self._busy.discard(environment)
                    keep = keep and not self._stopped and _same_code(environment.function, self.function)
                    if keep:
                        environment.idle_since = time.monotonic()
                        self._idle.append(environment)
                self._changed.notify_all()
            if environment is not None and not keep:
                environment.stop()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            idle, self._idle = self._idle, []
        # Each exits in a fraction of a second, but dozens of them one after another add up.
        _all_at_once(environment.stop for environment in idle)
        with self._changed:
            self._changed.wait_for(lambda: not self._busy, timeout=STOP_SECONDS)
            busy = list(self._busy)
        for environment in busy:  # their invoking threads see the process end, then stop them
            environment.kill()
        with self._changed:
            self._changed.wait_for(lambda: not self._busy, timeout=STOP_SECONDS)


class _Ended(Exception):
    """The environment's process closed its answers: it exited (or is past serving)."""


class _Late(Exception):
    """The deadline passed before the answer came."""


class _Answers:
    """The environment's answers pipe, read with deadlines."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)
        self._buffer = bytearray()

    def line(self, deadline: float) -> bytes:
        searched = 0
        while (end := self._buffer.find(b"\n", searched)) < 0:
            searched = len(self._buffer)
            self._fill(deadline)
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line

    def take(self, size: int, deadline: float, *, keep: bool = True) -> bytes:
        """The next `size` bytes; when not kept, they are read and dropped as they come."""
        if keep:
            while len(self._buffer) < size:
                self._fill(deadline)
            data = bytes(self._buffer[:size])
            del self._buffer[:size]
            return data
        left = size
        while len(self._buffer) < left:
            left -= len(self._buffer)
            self._buffer.clear()
            self._fill(deadline)
        del self._buffer[:left]
        return b""

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not self._poll.poll(math.ceil(remaining * 1000)):
            raise _Late
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            raise _Ended
        self._buffer += chunk


class _Environment:
    """One child process running lambda_bootstrap.py, leader of a process group of its own (the
    sandbox: a timeout or a stop kills whatever the handler started too)."""

    def __init__(self, function: LocalFunction, log_path: Path, task_root: Path, xray_daemon_address: str) -> None:
        self.function = function
        self.idle_since = time.monotonic()
        self._log_path = log_path
        stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        module, _, attribute = function.handler.partition(":")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": str(task_root),
            "LAMBDA_TASK_ROOT": str(task_root),
            "_HANDLER": f"{module}.{attribute}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_XRAY_DAEMON_ADDRESS": xray_daemon_address,
            "_AWS_XRAY_DAEMON_ADDRESS": xray_daemon_address.rpartition(":")[0],
            "_AWS_XRAY_DAEMON_PORT": xray_daemon_address.rpartition(":")[2],
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            **function.environment,
        }
        read_end, write_end = os.pipe()
        with log_path.open("ab") as log:
            self._process = subprocess.Popen(
                # -P: the bootstrap's folder (local_stack) stays off sys.path, as in Lambda;
                # -u: stdout and stderr unbuffered, as the runtime makes them.
                [
                    sys.executable,
                    "-P",
                    "-u",
                    str(BOOTSTRAP),
                    str(write_end),
                    repr(time.monotonic()),
                    json.dumps(list(env)),
                ],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=task_root,
                pass_fds=(write_end,),
                start_new_session=True,
            )
        os.close(write_end)
        self._answers = _Answers(read_end)
        self._lock = threading.Lock()  # over the process's lifetime: kill and reap
        self._stopped = False
        self._init_ms: str | None = None  # until the first invocation's REPORT has it
        self._peak_mb = 0  # Max Memory Used, as the environment last reported it

    def initialize(self, request_id: str) -> dict[str, Any] | None:
        """None once the handler is imported, else the error Lambda reports for the failed init."""
        try:
            ready = json.loads(self._answers.line(time.monotonic() + INIT_TIMEOUT_SECONDS))
        except _Late:
            self.kill()
            self._platform(
                f"INIT_REPORT Init Duration: {INIT_TIMEOUT_SECONDS * 1000:.2f} ms\tPhase: init\tStatus: timeout"
            )
            text = f"RequestId: {request_id} Error: Task timed out after {INIT_TIMEOUT_SECONDS:.2f} seconds"
            return dict(_failure("Sandbox.Timedout", text)[0])
        except _Ended:
            return dict(self._exited(request_id, None)[0])
        if "initError" in ready:
            return dict(ready["initError"])
        self._init_ms = str(ready["initMs"])
        self._peak_mb = int(ready["maxMemoryUsedMb"])
        return None

    def invoke(self, body: bytes, request_id: str, trace_header: str) -> tuple[Outcome, bool]:
        """The outcome and whether the environment can serve again."""
        timeout = self.function.timeout_seconds
        began = time.monotonic()
        deadline = began + timeout
        request = {
            "requestId": request_id,
            "deadlineMs": int((time.time() + timeout) * 1000),
            "invokedFunctionArn": self.function.arn,
            "traceId": trace_header,
        }
        try:
            assert self._process.stdin is not None
            self._process.stdin.write(json.dumps(request)[:-1].encode() + b', "event": ' + body + b"}\n")
            self._process.stdin.flush()
        except OSError:  # it died while idle
            return self._exited(request_id, began), False
        try:
            answer = json.loads(self._answers.line(deadline))
            self._peak_mb = int(answer["maxMemoryUsedMb"])
            if "error" in answer:
                return (answer["error"], str(answer["error"]["errorType"])), True
            size = int(answer["payloadBytes"])
            if size > MAX_RESPONSE_BYTES:
                self._answers.take(size, deadline, keep=False)
                text = f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
                return _failure("Function.ResponseSizeTooLarge", text), True
            payload = self._answers.take(size, deadline)
        except _Late:
            return self._timed_out(request_id, began), False
        except _Ended:
            return self._exited(request_id, began), False
        finally:
            self._init_ms = None
        return (json.loads(payload), None), True

    def _timed_out(self, request_id: str, began: float) -> Outcome:
        """Lambda stops the environment at the timeout, mid-handler, and logs it."""
        self._peak_mb = _peak_memory_mb(self._process.pid) or self._peak_mb
        self.kill()
        self._reap()
        timeout = self.function.timeout_seconds
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self._platform(f"{now} {request_id} Task timed out after {time.monotonic() - began:.2f} seconds")
        self._report(request_id, timeout, "Status: timeout")
        return _failure(
            "Sandbox.Timedout", f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
        )

    def _exited(self, request_id: str, began: float | None) -> Outcome:
        """The runtime process ended (or closed its answers) without answering: in its init when
        `began` is None, else in the invocation that began then."""
        code = self._reap(grace=0.5)
        if code == 0:
            reason = "Runtime exited without providing a reason"
        elif code < 0:
            reason = f"Runtime exited with error: signal: {(signal.strsignal(-code) or str(-code)).lower()}"
        else:
            reason = f"Runtime exited with error: exit status {code}"
        text = f"RequestId: {request_id} Error: {reason}"
        self._platform(f"{text}\nRuntime.ExitError")
        if began is None:
            self._platform("INIT_REPORT Phase: init\tStatus: error\tError Type: Runtime.ExitError")
        else:
            self._report(request_id, time.monotonic() - began, "Status: error\tError Type: Runtime.ExitError")
        return _failure("Runtime.ExitError", text)

    def _report(self, request_id: str, seconds: float, status: str) -> None:
        init = f"\tInit Duration: {self._init_ms} ms" if self._init_ms else ""
        self._platform(
            f"END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {seconds * 1000:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(seconds * 1000))} ms\tMemory Size: {self.function.memory_mb} MB\t"
            f"Max Memory Used: {self._peak_mb} MB{init}\t{status}"
        )

    def _platform(self, text: str) -> None:
        """Lines of Lambda's own in the function's log (appended, as the environments append)."""
        with self._log_path.open("a") as log:
            log.write(text + "\n")

    def kill(self) -> None:
        """SIGKILL the whole sandbox. Any thread may call it; a reaped process is left alone
        (its id, and so its group's, may belong to another process by then)."""
        with self._lock:
            if self._process.returncode is None:
                _kill_group(self._process.pid)

    def _reap(self, grace: float = 0.0) -> int:
        """The process's exit code (negative: the signal) once it has ended, waiting up to `grace`
        for it to end by itself before the sandbox is killed; records its peak memory."""
        pid = self._process.pid
        give_up = time.monotonic() + grace
        with self._lock:
            if self._process.returncode is not None:
                return self._process.returncode
            # Not reaped yet, so the group id cannot be another's: wait without reaping, kill the
            # rest of the sandbox, then reap.
            while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
                if time.monotonic() >= give_up:
                    break
                time.sleep(0.002)
            _kill_group(pid)
            _, status = os.waitpid(pid, 0)
            self._process.returncode = os.waitstatus_to_exitcode(status)
            return self._process.returncode

    def stop(self) -> None:
        """End the environment: its loop ends when its stdin closes; after STOP_SECONDS it is killed."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            if self._process.stdin is not None:
                self._process.stdin.close()
        except OSError:
            pass
        try:
            self._reap(grace=STOP_SECONDS)
        finally:
            os.close(self._answers.fd)
