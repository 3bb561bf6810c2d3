"""Lambda on this machine. Each function runs in execution environments of its own: child
processes (`local_stack/lambda_bootstrap.py`) started with the function's environment and only
the Lambda package on their path, each serving one invocation at a time. A request that finds
every environment busy gets a new one (a cold start), as Lambda scales; an idle one is reused
(warm). As in Lambda, an invocation past the function's timeout is cut (`Sandbox.Timedout`) and
its environment discarded, payloads are capped at 6 MB, and a handler's exception becomes the
error payload `{"errorType", "errorMessage", "stackTrace"}`.

What each environment writes to stdout and stderr, with Lambda's START / END / REPORT lines,
goes to `<logs_dir>/<function name>.log`, the function's log group.

Differences from Lambda: memory is reported (REPORT's Max Memory Used), not enforced; the init
phase may take up to INIT_TIMEOUT_SECONDS (Lambda allows 10 s, a busy two-core machine importing
many environments at once needs more); reserved concurrency is not enforced; environments are
not frozen between invocations or reaped when idle.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
TASK_ROOT = ROOT / "functions"  # what the Lambda asset holds
BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
REGION = "us-east-1"
ACCOUNT = "123456789012"
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # a synchronous invoke's request and response
INIT_TIMEOUT_SECONDS = 60.0
STOP_SECONDS = 5.0
# Set by Lambda's runtime in every execution environment, beside the function's own variables.
RUNTIME_VARIABLES = (
    "_HANDLER",
    "AWS_DEFAULT_REGION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_REGION",
    "LAMBDA_TASK_ROOT",
    "LANG",
    "PATH",
    "PYTHONPATH",
    "PYTHONUNBUFFERED",
    "TZ",
)


@dataclass(frozen=True)
class LocalFunction:
    name: str  # the deployed function name
    handler: str  # "package.module:function"
    environment: Mapping[str, str]
    timeout_seconds: float
    memory_mb: int = 512

    @property
    def arn(self) -> str:
        return function_arn(self.name)


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


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


class LambdaRuntime:
    def __init__(self, logs_dir: Path, *, task_root: Path = TASK_ROOT) -> None:
        self.logs_dir = logs_dir
        self.task_root = task_root  # what the functions' code asset holds
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
                    self._pools[name] = _Pool(function, self.logs_dir / f"{name}.log", self.task_root)
                elif pool.function != function:
                    pool.redeploy(function)

    def invoke(self, name: str, event: Any) -> InvokeResult:
        """Invoke `name` synchronously (RequestResponse). Never raises for the function's own errors."""
        started = time.perf_counter()
        pool = self._pools.get(name)
        body = json.dumps(event)
        cold = False
        result: tuple[Any, str | None]
        if pool is None:
            result = _failure("ResourceNotFoundException", f"Function not found: {function_arn(name)}")
        elif len(body.encode()) > MAX_PAYLOAD_BYTES:
            result = _failure(
                "RequestEntityTooLargeException",
                f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation",
            )
        else:
            result, cold = pool.invoke(body)
        seconds = time.perf_counter() - started
        with self._lock:
            self.invocations.append(Invocation(name, event, result[1], seconds, cold))
        return InvokeResult(result[0], result[1], seconds)

    def log_lines(self, name: str) -> list[str]:
        """What the function's environments have written so far."""
        path = self.logs_dir / f"{name}.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def environments(self, name: str) -> int:
        """How many execution environments the function has now."""
        pool = self._pools.get(name)
        return pool.size if pool else 0

    def stop(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.stop()


def _failure(error_type: str, message: str) -> tuple[dict[str, Any], str]:
    return {"errorType": error_type, "errorMessage": message}, error_type


class _Pool:
    """One function's execution environments."""

    def __init__(self, function: LocalFunction, log_path: Path, task_root: Path) -> None:
        self.function = function
        self._log_path = log_path
        self._task_root = task_root
        self._lock = threading.Lock()
        self._idle: list[_Environment] = []
        self._busy: set[_Environment] = set()

    @property
    def size(self) -> int:
        with self._lock:
            return len(self._idle) + len(self._busy)

    def redeploy(self, function: LocalFunction) -> None:
        with self._lock:
            self.function = function
            idle, self._idle = self._idle, []
        for environment in idle:
            environment.stop()

    def invoke(self, body: str) -> tuple[tuple[Any, str | None], bool]:
        with self._lock:
            environment = self._idle.pop() if self._idle else None
            function = self.function
            cold = environment is None
            if environment is None:
                environment = _Environment(function, self._log_path, self._task_root)
            self._busy.add(environment)
        keep = False
        try:
            if cold:
                init_error = environment.initialize()
                if init_error is not None:
                    return (init_error, str(init_error.get("errorType", "Runtime.Unknown"))), cold
            result, keep = environment.invoke(body)
            return result, cold
        finally:
            with self._lock:
                self._busy.discard(environment)
                keep = keep and environment.function == self.function
                if keep:
                    self._idle.append(environment)
            if not keep:
                environment.stop()

    def stop(self) -> None:
        with self._lock:
            environments = [*self._idle, *self._busy]
            self._idle, self._busy = [], set()
        for environment in environments:
            environment.stop()


class _Environment:
    """One child process running lambda_bootstrap.py."""

    def __init__(self, function: LocalFunction, log_path: Path, task_root: Path) -> None:
        self.function = function
        stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        module, _, attribute = function.handler.partition(":")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": str(task_root),
            "PYTHONUNBUFFERED": "1",
            "LAMBDA_TASK_ROOT": str(task_root),
            "_HANDLER": f"{module}.{attribute}",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            **function.environment,
        }
        read_end, write_end = os.pipe()
        with log_path.open("ab") as log:
            self._process = subprocess.Popen(
                # -P: the bootstrap's folder (local_stack) stays off sys.path, as in Lambda.
                [sys.executable, "-P", str(BOOTSTRAP), str(write_end)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=task_root,
                pass_fds=(write_end,),
            )
        os.close(write_end)
        self._answers = read_end
        self._buffer = b""
        self._stopped = False

    def initialize(self) -> dict[str, Any] | None:
        """None once the handler is imported, else the error Lambda reports for the failed init."""
        message = self._read(time.monotonic() + INIT_TIMEOUT_SECONDS)
        if message is None:
            return {"errorType": "Runtime.ExitError", "errorMessage": "Runtime exited during init"}
        if "initError" in message:
            return dict(message["initError"])
        return None

    def invoke(self, body: str) -> tuple[tuple[Any, str | None], bool]:
        """(payload, error type) and whether the environment can serve again."""
        request_id = str(uuid.uuid4())
        timeout = self.function.timeout_seconds
        deadline = time.monotonic() + timeout
        request = {
            "requestId": request_id,
            "deadlineMs": int((time.time() + timeout) * 1000),
            "invokedFunctionArn": self.function.arn,
        }
        line = json.dumps(request)[:-1] + f', "event": {body}}}\n'
        try:
            assert self._process.stdin is not None
            self._process.stdin.write(line.encode())
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            return _failure("Runtime.ExitError", f"RequestId: {request_id} Error: Runtime exited"), False
        message = self._read(deadline)
        if message is None:
            if self._process.poll() is None:  # alive, so the deadline passed
                self._process.kill()  # Lambda stops the environment at the timeout, mid-handler
                text = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
                return _failure("Sandbox.Timedout", text), False
            code = self._process.poll()
            return _failure("Runtime.ExitError", f"RequestId: {request_id} Error: Runtime exited ({code})"), False
        if "error" in message:
            return (message["error"], str(message["error"]["errorType"])), True
        payload: str = message["payload"]
        if len(payload.encode()) > MAX_PAYLOAD_BYTES:
            text = f"Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes)."
            return _failure("Function.ResponseSizeTooLarge", text), True
        return (json.loads(payload), None), True

    def _read(self, deadline: float) -> dict[str, Any] | None:
        """The next answer line, or None if the process ended or the deadline passed."""
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                ready, _, _ = select.select([self._answers], [], [], remaining)
                chunk = os.read(self._answers, 1 << 16) if ready else b""
            except (OSError, ValueError):  # stopped meanwhile
                return None
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return dict(json.loads(line))

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        process = self._process
        try:
            if process.stdin is not None:
                process.stdin.close()  # the bootstrap's loop ends
            process.wait(timeout=STOP_SECONDS)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        finally:
            os.close(self._answers)
