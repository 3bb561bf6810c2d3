"""The local Lambda runtime (local_stack/lambda_runtime.py + lambda_bootstrap.py) behaves as AWS
Lambda's Python runtime does: cold starts and warm reuse, an environment per concurrent request,
the timeout, the payload caps, the error payloads and types, the runtime's environment and path,
and tracing (each invocation's _X_AMZN_TRACE_ID, what the X-Ray SDK then sends to the daemon).

Each test deploys small handlers written into a task root of its own (`probe/`), so what a
handler sees is what the runtime gave it; nothing is mocked. Expected payloads and messages are
Lambda's: the Python runtime interface client's (aws/aws-lambda-python-runtime-interface-client:
init errors, marshalling, the error payload and log line) and the service's, as invocations on
AWS report them (Sandbox.Timedout, Runtime.ExitError, the request and response size errors)."""

from __future__ import annotations

import json
import re
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack import lambda_runtime
from local_stack.lambda_runtime import (
    MAX_PAYLOAD_BYTES,
    MAX_RESPONSE_BYTES,
    RUNTIME_VARIABLES,
    InvokeRefused,
    InvokeResult,
    LambdaRuntime,
    LocalFunction,
)
from local_stack.xray_daemon import TraceHeader, XRayDaemon
from tests import waiting

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 10.0
REQUEST_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TRACE_HEADER = r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1"
CALLER_ROOT, CALLER_PARENT = "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8"

PROBE_HANDLERS = '''
import decimal
import importlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

invocations = 0  # module state: kept by a warm environment, never shared between two


def _count():
    global invocations
    invocations += 1
    return invocations


def echo(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(event.get("pause", 0))
    return {
        "event": event,
        "pid": os.getpid(),
        "invocations": _count(),
        "context": {
            "aws_request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "invoked_function_arn": context.invoked_function_arn,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": [first, context.get_remaining_time_in_millis()],
        },
    }


def hold(event, context):
    """Says it started (a file named by its pid), then waits until `release` exists."""
    count = _count()
    rendezvous = Path(event["rendezvous"])
    (rendezvous / f"started-{os.getpid()}").touch()
    give_up = time.monotonic() + 5
    while not (rendezvous / "release").exists():
        if time.monotonic() > give_up:
            raise TimeoutError("never released")
        time.sleep(0.01)
    return {"pid": os.getpid(), "invocations": count}


def sleep(event, context):
    """Starts a process of its own, records both pids, then sleeps `seconds`."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    Path(event["pids"]).write_text(f"{os.getpid()} {child.pid}")
    time.sleep(event["seconds"])
    child.kill()
    child.wait()
    return {"pid": os.getpid()}


def environment(event, context):
    return {"pid": os.getpid(), "environ": dict(os.environ)}


def path(event, context):
    imports = {}
    for name in ("local_stack", "tests", "storyimages"):
        try:
            importlib.import_module(name)
            imports[name] = "imported"
        except ImportError as exc:
            imports[name] = type(exc).__name__
    return {"sys_path": sys.path, "cwd": os.getcwd(), "imports": imports}


def fail(event, context):
    def inner():
        raise ValueError(event["message"])

    if event.get("message"):
        inner()
    return {"pid": os.getpid()}


def end(event, context):
    how = event.get("how")
    if how == "os_exit":
        os._exit(3)
    if how == "sys_exit":
        sys.exit(0)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    return {"pid": os.getpid()}


def length(event, context):
    return len(event["data"])


def sized(event, context):
    return event["char"] * event["count"]


def unserializable(event, context):
    return {"when": {1, 2}}


def decimals(event, context):
    return {"price": decimal.Decimal("12.50"), "count": decimal.Decimal("3")}


def talk(event, context):
    logging.getLogger("probe").warning("warned %s", event["n"])
    print("printed to stdout")
    print("printed to stderr", file=sys.stderr)
    return {"stdin": sys.stdin.read()}
'''

PROBE_MODULES = {
    "__init__.py": "",
    "handlers.py": PROBE_HANDLERS,
    "needs_missing.py": "import not_a_package_anywhere\n\ndef handler(event, context):\n    return 1\n",
    "broken_syntax.py": "def handler(event, context:\n    return 1\n",
    "raises_at_import.py": "import os\n\nos.environ['PROBE_REQUIRED']\n\ndef handler(event, context):\n    return 1\n",
    "exits_at_import.py": "import sys\n\nsys.exit(2)\n",
    "flaky_init.py": textwrap.dedent(
        """
        import os
        from pathlib import Path

        if not Path(os.environ["PROBE_READY"]).exists():
            raise RuntimeError("not ready yet")

        def handler(event, context):
            return "ready"
        """
    ),
    "traced.py": textwrap.dedent(
        """
        import os

        from aws_xray_sdk.core import xray_recorder

        AT_IMPORT = os.environ.get("_X_AMZN_TRACE_ID")


        def handler(event, context):
            with xray_recorder.in_subsegment("work") as subsegment:
                subsegment.put_annotation("n", event["n"])
            if event.get("fail"):
                raise ValueError("the work failed")
            return {"trace": os.environ["_X_AMZN_TRACE_ID"], "at_import": AT_IMPORT}
        """
    ),
    "powertools_traced.py": textwrap.dedent(
        """
        from aws_lambda_powertools import Tracer

        tracer = Tracer(service="probe")


        @tracer.capture_method
        def work():
            return "done"


        @tracer.capture_lambda_handler
        def handler(event, context):
            return work()
        """
    ),
    "slow_import.py": textwrap.dedent(
        """
        import os
        import time
        from pathlib import Path

        Path(os.environ["PROBE_PIDS"]).write_text(str(os.getpid()))
        time.sleep(60)

        def handler(event, context):
            return 1
        """
    ),
}


@pytest.fixture
def task_root(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    (root / "probe").mkdir(parents=True)
    for name, text in PROBE_MODULES.items():
        (root / "probe" / name).write_text(text)
    return root


@pytest.fixture
def daemon() -> Iterator[XRayDaemon]:
    """The X-Ray daemon the runtime's environments send to."""
    with XRayDaemon() as running:
        yield running


@pytest.fixture
def runtime(tmp_path: Path, task_root: Path, daemon: XRayDaemon) -> Iterator[LambdaRuntime]:
    running = LambdaRuntime(tmp_path / "logs", task_root=task_root, xray_daemon_address=daemon.address)
    try:
        yield running
    finally:
        running.stop()


Deploy = Callable[..., str]


@pytest.fixture
def deploy(runtime: LambdaRuntime) -> Deploy:
    """Deploys handler `probe.<module>:<function>` as a function and returns its name."""

    def deploy_one(
        handler: str,
        *,
        name: str | None = None,
        timeout: float = 2.0,
        memory_mb: int = 256,
        environment: dict[str, str] | None = None,
        reserved_concurrency: int | None = None,
    ) -> str:
        name = name or "probe-" + handler.replace(":", "-").replace(".", "-")
        function = LocalFunction(name, f"probe.{handler}", environment or {}, timeout, memory_mb, reserved_concurrency)
        runtime.deploy({name: function})
        return name

    return deploy_one


def wait_until(condition: Callable[[], bool], what: str, seconds: float = DEADLINE_SECONDS) -> None:
    waiting.wait_until(condition, what, seconds, every=0.01)


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def in_background(runtime: LambdaRuntime, name: str, event: Any) -> tuple[threading.Thread, list[InvokeResult]]:
    results: list[InvokeResult] = []
    thread = threading.Thread(target=lambda: results.append(runtime.invoke(name, event)), daemon=True)
    thread.start()
    return thread, results


def reports(runtime: LambdaRuntime, name: str) -> list[str]:
    return [line for line in runtime.log_lines(name) if line.startswith("REPORT ")]


Outcomes = list[InvokeResult | InvokeRefused]


def all_at_once(
    runtime: LambdaRuntime, name: str, event: Any, count: int, *, repeat: int = 1
) -> tuple[list[threading.Thread], Outcomes]:
    """`count` threads that invoke `name` together (released by one barrier), `repeat` times each;
    each answer or refusal goes to the outcomes as it comes."""
    outcomes: Outcomes = []
    barrier = threading.Barrier(count)

    def invoke_repeatedly() -> None:
        barrier.wait()
        for _ in range(repeat):
            try:
                outcomes.append(runtime.invoke(name, event))
            except InvokeRefused as refused:
                outcomes.append(refused)

    threads = [threading.Thread(target=invoke_repeatedly, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, outcomes


def refusals(outcomes: Outcomes) -> list[InvokeRefused]:
    return [outcome for outcome in outcomes if isinstance(outcome, InvokeRefused)]


def answers(outcomes: Outcomes) -> list[InvokeResult]:
    return [outcome for outcome in outcomes if isinstance(outcome, InvokeResult)]


def started(rendezvous: Path) -> int:
    return len(list(rendezvous.glob("started-*")))


def join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(DEADLINE_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "an invocation never returned"


def assert_throttled(refused: InvokeRefused) -> None:
    """What Lambda's Invoke API answers past the reserved concurrency (botocore's lambda model:
    TooManyRequestsException, HTTP 429, with Reason and Type; the message is the service's)."""
    assert (refused.code, refused.status, refused.message) == ("TooManyRequestsException", 429, "Rate Exceeded.")
    assert refused.fields == {"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User"}


# Cold and warm starts, concurrency


def test_given_a_new_function_when_invoked_twice_then_the_first_cold_starts_and_the_second_reuses_its_environment(
    runtime: LambdaRuntime, deploy: Deploy
) -> None:
    name = deploy("handlers:echo")

    first = runtime.invoke(name, {"n": 1})
    second = runtime.invoke(name, {"n": 2})

    assert (first.error_type, second.error_type) == (None, None)
    assert first.payload["pid"] == second.payload["pid"]
    assert (first.payload["invocations"], second.payload["invocations"]) == (1, 2)
    assert [i.cold_start for i in runtime.invocations] == [True, False]
    assert runtime.environments(name) == 1
    # ... and the log has each invocation, the Init Duration on the cold one's REPORT only
    lines = runtime.log_lines(name)
    for result in (first, second):
        request_id = result.payload["context"]["aws_request_id"]
        assert f"START RequestId: {request_id} Version: $LATEST" in lines
        assert f"END RequestId: {request_id}" in lines
    cold_report, warm_report = reports(runtime, name)
    assert re.search(r"\tInit Duration: \d+\.\d\d ms$", cold_report), cold_report
    assert "Init Duration" not in warm_report
    # ... Max Memory Used is the environment's own peak (not that of the process that started it)
    assert int(re.findall(r"Max Memory Used: (\d+) MB", cold_report)[0]) < 64
    assert re.fullmatch(
        rf"REPORT RequestId: {REQUEST_ID}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 256 MB\tMax Memory Used: \d+ MB",
        warm_report,
    )


def test_given_two_concurrent_invocations_when_both_run_then_each_gets_its_own_environment(
    runtime: LambdaRuntime, deploy: Deploy, tmp_path: Path
) -> None:
    name = deploy("handlers:hold", timeout=8.0)
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()
    event = {"rendezvous": str(rendezvous)}

    # When two invocations are under way at once (each waits for the other to have started)
    running = [in_background(runtime, name, event) for _ in range(2)]
    wait_until(lambda: len(list(rendezvous.glob("started-*"))) == 2, "both invocations running")
    assert runtime.environments(name) == 2
    (rendezvous / "release").touch()
    for thread, _ in running:
        thread.join(DEADLINE_SECONDS)
    first, second = (results[0] for _, results in running)

    # Then each ran in a cold environment of its own, whose module state the other never saw
    assert (first.error_type, second.error_type) == (None, None)
    assert first.payload["pid"] != second.payload["pid"]
    assert (first.payload["invocations"], second.payload["invocations"]) == (1, 1)
    assert [i.cold_start for i in runtime.invocations] == [True, True]
    # ... and a later invocation is served warm by one of them
    third = runtime.invoke(name, event)
    assert third.payload["pid"] in {first.payload["pid"], second.payload["pid"]}
    assert third.payload["invocations"] == 2
    assert runtime.invocations[-1].cold_start is False
    assert runtime.environments(name) == 2


def test_given_a_redeployed_function_when_invoked_then_it_cold_starts_with_its_new_configuration(
    runtime: LambdaRuntime, deploy: Deploy
) -> None:
    name = deploy("handlers:environment", environment={"PROBE_SETTING": "first"})
    before = runtime.invoke(name, {})

    deploy("handlers:environment", environment={"PROBE_SETTING": "second"})
    after = runtime.invoke(name, {})

    assert before.payload["environ"]["PROBE_SETTING"] == "first"
    assert after.payload["environ"]["PROBE_SETTING"] == "second"
    assert after.payload["pid"] != before.payload["pid"]
    assert runtime.invocations[-1].cold_start is True
    assert runtime.environments(name) == 1


# Reserved concurrency


def test_given_a_reservation_of_2_when_5_invocations_arrive_at_once_then_2_run_and_3_are_throttled_without_waiting(
    runtime: LambdaRuntime, deploy: Deploy, tmp_path: Path
) -> None:
    name = deploy("handlers:hold", timeout=8.0, reserved_concurrency=2)
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()

    threads, outcomes = all_at_once(runtime, name, {"rendezvous": str(rendezvous)}, 5)

    # Then, while the two admitted ones hold their environments, the other three are already refused
    wait_until(lambda: started(rendezvous) == 2 and len(outcomes) == 3, "2 running and 3 answered")
    assert len(refusals(outcomes)) == 3
    for refused in refusals(outcomes):
        assert_throttled(refused)
    assert (runtime.in_flight(name), runtime.environments(name)) == (2, 2)
    # ... and once released, the two end well; nothing else ever ran
    (rendezvous / "release").touch()
    join(threads)
    assert [result.error_type for result in answers(outcomes)] == [None, None]
    assert started(rendezvous) == 2
    assert runtime.in_flight(name) == 0
    assert runtime.peak_in_flight(name) == 2
    # ... each throttle recorded as the Invoke API's error, with no cold start
    throttled = [i for i in runtime.invocations if i.error_type == "TooManyRequestsException"]
    assert len(throttled) == 3
    assert not any(i.cold_start for i in throttled)
    assert len(reports(runtime, name)) == 2  # the function's log has only the two that ran
    # ... and with the reservation free again, a new invocation is served (warm)
    again = runtime.invoke(name, {"rendezvous": str(rendezvous)})
    assert again.error_type is None
    assert runtime.invocations[-1].cold_start is False


def test_given_an_unreserved_function_when_5_invocations_arrive_at_once_then_none_is_throttled(
    runtime: LambdaRuntime, deploy: Deploy, tmp_path: Path
) -> None:
    name = deploy("handlers:hold", timeout=8.0)
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()

    threads, outcomes = all_at_once(runtime, name, {"rendezvous": str(rendezvous)}, 5)

    wait_until(lambda: started(rendezvous) == 5, "all 5 running")
    assert (runtime.in_flight(name), runtime.environments(name), outcomes) == (5, 5, [])
    (rendezvous / "release").touch()
    join(threads)
    assert [result.error_type for result in answers(outcomes)] == [None] * 5
    assert runtime.peak_in_flight(name) == 5
    assert not [i for i in runtime.invocations if i.error_type == "TooManyRequestsException"]


def test_given_many_threads_invoking_a_reserved_function_over_and_over_then_never_more_than_the_reservation_run(
    runtime: LambdaRuntime, deploy: Deploy
) -> None:
    name = deploy("handlers:echo", reserved_concurrency=3)

    # When 16 threads invoke it 10 times each, admissions and ends racing one another
    threads, outcomes = all_at_once(runtime, name, {"pause": 0.02}, 16, repeat=10)
    join(threads)

    # Then every request was served or throttled, never more than 3 at once
    assert len(outcomes) == 160
    served = answers(outcomes)
    assert served
    assert [result.error_type for result in served] == [None] * len(served)
    for refused in refusals(outcomes):
        assert_throttled(refused)
    assert runtime.peak_in_flight(name) <= 3
    assert len({result.payload["pid"] for result in served}) <= 3  # the environments that served
    assert runtime.environments(name) <= 3
    assert runtime.in_flight(name) == 0
    throttled = [i for i in runtime.invocations if i.error_type == "TooManyRequestsException"]
    assert len(throttled) == len(refusals(outcomes))
    # ... and each served invocation is in the function's log
    assert len(reports(runtime, name)) == len(served)


def test_given_a_reserved_function_when_redeployed_with_another_reservation_then_new_invocations_get_the_new_cap(
    runtime: LambdaRuntime, deploy: Deploy, tmp_path: Path
) -> None:
    name = deploy("handlers:hold", timeout=8.0, reserved_concurrency=1)
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()
    event = {"rendezvous": str(rendezvous)}
    first, first_results = in_background(runtime, name, event)
    wait_until(lambda: started(rendezvous) == 1, "the first invocation running")
    with pytest.raises(InvokeRefused) as refused:
        runtime.invoke(name, event)
    assert_throttled(refused.value)

    # When the reservation is raised to 2 while the first still runs
    deploy("handlers:hold", timeout=8.0, reserved_concurrency=2)

    # Then one more runs beside it (the one running counts against the new cap), and a third is throttled
    second, second_results = in_background(runtime, name, event)
    wait_until(lambda: started(rendezvous) == 2, "the second invocation running")
    assert runtime.in_flight(name) == 2
    with pytest.raises(InvokeRefused) as refused:
        runtime.invoke(name, event)
    assert_throttled(refused.value)
    (rendezvous / "release").touch()
    join([first, second])
    assert [results[0].error_type for results in (first_results, second_results)] == [None, None]
    assert runtime.peak_in_flight(name) == 2
    # ... a change of the reservation alone kept the environments warm
    assert runtime.invoke(name, event).error_type is None
    assert runtime.invocations[-1].cold_start is False
    # ... and a reservation of 0 throttles every invocation
    deploy("handlers:hold", timeout=8.0, reserved_concurrency=0)
    with pytest.raises(InvokeRefused) as refused:
        runtime.invoke(name, event)
    assert_throttled(refused.value)
    assert runtime.peak_in_flight(name) == 0  # since that deploy


def test_given_a_negative_reservation_when_the_function_is_declared_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="reserved_concurrency must be 0 or more"):
        LocalFunction("probe", "probe.handlers:echo", {}, 1.0, 128, reserved_concurrency=-1)


# What a handler sees: context, environment, path, stdin, logs


def test_given_an_invocation_when_the_handler_reads_its_context_then_it_has_lambdas_attributes_and_a_countdown(
    runtime: LambdaRuntime, deploy: Deploy
) -> None:
    name = deploy("handlers:echo", timeout=2.0, memory_mb=256)

    result = runtime.invoke(name, {"pause": 0.3, "text": "naïve"})

    assert result.error_type is None, result.payload
    assert result.payload["event"] == {"pause": 0.3, "text": "naïve"}
    context = result.payload["context"]
    assert re.fullmatch(REQUEST_ID, context["aws_request_id"])
    assert context["function_name"] == name
    assert context["function_version"] == "$LATEST"
    assert context["memory_limit_in_mb"] == "256"  # a string, as the runtime reads it from the environment
    assert context["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert context["log_group_name"] == f"/aws/lambda/{name}"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", context["log_stream_name"])
    at_start, after_pause = context["remaining_ms"]
    assert 1500 < at_start <= 2000
    assert after_pause <= at_start - 250
    # ... and a new invocation gets a new request id and a full countdown again
    again = runtime.invoke(name, {})
    assert again.payload["context"]["aws_request_id"] != context["aws_request_id"]
    assert again.payload["context"]["remaining_ms"][0] > 1500


def test_given_a_function_environment_when_the_handler_reads_it_then_it_has_lambdas_variables_and_only_its_own(
    runtime: LambdaRuntime, deploy: Deploy, task_root: Path, monkeypatch: pytest.MonkeyPatch, daemon: XRayDaemon
) -> None:
    monkeypatch.setenv("PARENT_ONLY_SECRET", "must not leak")
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    name = deploy("handlers:environment", memory_mb=384, environment={"PROBE_SETTING": "set", "LOG_LEVEL": "INFO"})

    environ = runtime.invoke(name, {}).payload["environ"]

    assert set(environ) == set(RUNTIME_VARIABLES) | {"PROBE_SETTING", "LOG_LEVEL"}
    assert environ["PROBE_SETTING"] == "set"
    assert environ["LOG_LEVEL"] == "INFO"
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "384"
    assert environ["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert environ["_HANDLER"] == "probe.handlers.environment"
    assert environ["LAMBDA_TASK_ROOT"] == str(task_root)
    assert environ["TZ"] == ":UTC"
    assert environ["LANG"] == "en_US.UTF-8"
    assert environ["AWS_REGION"] == environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert environ["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert "AWS_EXECUTION_ENV" not in environ  # the sign of AWS itself, where local mode is refused
    assert environ["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    # ... and X-Ray's: the daemon, Lambda's context-missing strategy, the invocation's trace header
    assert environ["AWS_XRAY_DAEMON_ADDRESS"] == daemon.address
    assert (environ["_AWS_XRAY_DAEMON_ADDRESS"], environ["_AWS_XRAY_DAEMON_PORT"]) == (daemon.host, str(daemon.port))
    assert environ["AWS_XRAY_CONTEXT_MISSING"] == "LOG_ERROR"
    assert re.fullmatch(TRACE_HEADER, environ["_X_AMZN_TRACE_ID"])


def test_given_the_task_root_when_the_handler_imports_then_it_finds_its_own_code_but_not_the_local_stack_or_tests(
    runtime: LambdaRuntime, deploy: Deploy, task_root: Path
) -> None:
    name = deploy("handlers:path")

    seen = runtime.invoke(name, {}).payload

    assert seen["sys_path"][0] == str(task_root)
    repository = {str(ROOT), str(ROOT / "local_stack"), str(ROOT / "functions"), str(ROOT / "tests"), ""}
    assert not repository & set(seen["sys_path"])
    assert seen["imports"] == {
        "local_stack": "ModuleNotFoundError",
        "tests": "ModuleNotFoundError",
        "storyimages": "ModuleNotFoundError",  # not in this task root
    }
    assert seen["cwd"] == str(task_root)


def test_given_a_handler_that_logs_prints_and_reads_stdin_when_invoked_then_its_log_has_them_with_the_request_id(
    runtime: LambdaRuntime, deploy: Deploy
) -> None:
    name = deploy("handlers:talk")

    first = runtime.invoke(name, {"n": 1})
    second = runtime.invoke(name, {"n": 2})

    # stdin is not the runtime's: reading it ends at once, and the runtime still serves
    assert (first.payload, second.payload) == ({"stdin": ""}, {"stdin": ""})
    lines = runtime.log_lines(name)
    assert lines[0].startswith("INIT_START Runtime Version: python:3.")
    starts = [line.removeprefix("START RequestId: ").split()[0] for line in lines if line.startswith("START ")]
    assert len(starts) == 2
    for n, request_id in enumerate(starts, start=1):
        record = rf"\[WARNING\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{request_id}\twarned {n}"
        assert [line for line in lines if re.fullmatch(record, line)], lines
    assert lines.count("printed to stdout") == 2
    assert lines.count("printed to stderr") == 2


# The timeout


def test_given_a_handler_that_outlives_its_timeout_when_invoked_then_it_is_cut_and_its_environment_killed(
    runtime: LambdaRuntime, deploy: Deploy, tmp_path: Path
) -> None:
    name = deploy("handlers:sleep", timeout=1.0)
    pids = tmp_path / "pids"

    result = runtime.invoke(name, {"pids": str(pids), "seconds": 30})

    # Then the caller gets Lambda's timeout error after about the timeout
    assert result.error_type == "Sandbox.Timedout"
    message = result.payload["errorMessage"]
    assert re.fullmatch(rf"RequestId: {REQUEST_ID} Error: Task timed out after 1\.00 seconds", message)
    assert 1.0 <= result.seconds < 2.5
    # ... the environment is gone, with the process the handler started
    handler_pid, child_pid = (int(pid) for pid in pids.read_text().split())
    wait_until(lambda: not alive(handler_pid) and not alive(child_pid), "the sandbox's processes ended")
    assert runtime.environments(name) == 0
    # ... the log says so as Lambda's does
    request_id = message.split()[1]
    lines = runtime.log_lines(name)
    timed_out = rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {request_id} Task timed out after \d+\.\d\d seconds"
    assert [line for line in lines if re.fullmatch(timed_out, line)], lines
    assert f"END RequestId: {request_id}" in lines
    (report,) = reports(runtime, name)
    assert report.startswith(f"REPORT RequestId: {request_id}\tDuration: 1000.00 ms\tBilled Duration: 1000 ms")
    assert report.endswith("\tStatus: timeout")
    # ... and the next request cold-starts a new environment
    again = runtime.invoke(name, {"pids": str(pids), "seconds": 0})
    assert again.error_type is None, again.payload
    assert again.payload["pid"] != handler_pid
    assert runtime.invocations[-1].cold_start is True


def test_given_an_init_longer_than_the_init_limit_when_invoked_then_it_is_cut_as_a_timeout(
    runtime: LambdaRuntime, deploy: Deploy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lambda_runtime, "INIT_TIMEOUT_SECONDS", 0.5)
    pids = tmp_path / "pids"
    name = deploy("slow_import:handler", environment={"PROBE_PIDS": str(pids)})

    result = runtime.invoke(name, {})

    assert result.error_type == "Sandbox.Timedout"
    assert re.fullmatch(
        rf"RequestId: {REQUEST_ID} Error: Task timed out after 0\.50 seconds", result.payload["errorMessage"]
    )
    assert result.seconds < 2.5
    wait_until(lambda: pids.exists() and not alive(int(pids.read_text())), "the environment's process ended")
    assert runtime.environments(name) == 0
    assert [line for line in runtime.log_lines(name) if line.startswith("INIT_REPORT") and "Status: timeout" in line]


# Errors: the handler's, the runtime's, init failures


def test_given_a_handler_that_raises_when_invoked_then_the_error_names_the_exception_without_the_runtimes_frames(
    runtime: LambdaRuntime, deploy: Deploy, task_root: Path
) -> None:
    name = deploy("handlers:fail")

    result = runtime.invoke(name, {"message": "the slide has no prompt"})

    assert result.error_type == "ValueError"
    error = result.payload
    assert set(error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "the slide has no prompt")
    assert re.fullmatch(REQUEST_ID, error["requestId"])
    handlers = str(task_root / "probe" / "handlers.py")
    assert [frame.split(", ")[2].split()[1] for frame in error["stackTrace"]] == ["fail", "inner"]
    assert all(frame.startswith(f'  File "{handlers}", line ') for frame in error["stackTrace"])
    assert "lambda_bootstrap" not in json.dumps(error)
    # ... logged as the runtime logs it
    lines = runtime.log_lines(name)
    assert "[ERROR] ValueError: the slide has no prompt" in lines
    assert f"START RequestId: {error['requestId']} Version: $LATEST" in lines
    # ... and the environment lives on, warm
    after = runtime.invoke(name, {})
    assert after.error_type is None
    assert runtime.invocations[-1].cold_start is False


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("os_exit", "Runtime exited with error: exit status 3"),
        ("kill", "Runtime exited with error: signal: killed"),
        ("sys_exit", "Runtime exited without providing a reason"),
    ],
)
def test_given_a_handler_that_ends_its_process_when_invoked_then_it_is_an_exit_error_and_the_next_request_cold_starts(
    runtime: LambdaRuntime, deploy: Deploy, how: str, reason: str
) -> None:
    name = deploy("handlers:end")
    before = runtime.invoke(name, {})

    result = runtime.invoke(name, {"how": how})

    assert result.error_type == "Runtime.ExitError"
    assert re.fullmatch(rf"RequestId: {REQUEST_ID} Error: {reason}", result.payload["errorMessage"])
    assert runtime.environments(name) == 0
    assert result.payload["errorMessage"] in runtime.log_lines(name)
    assert reports(runtime, name)[-1].endswith("\tStatus: error\tError Type: Runtime.ExitError")
    after = runtime.invoke(name, {})
    assert after.error_type is None
    assert after.payload["pid"] != before.payload["pid"]
    assert [i.cold_start for i in runtime.invocations] == [True, False, True]


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        (
            "absent:handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'probe.absent': No module named 'probe.absent'",
        ),
        (
            "needs_missing:handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'probe.needs_missing': No module named 'not_a_package_anywhere'",
        ),
        ("broken_syntax:handler", "Runtime.UserCodeSyntaxError", r"Syntax error in module 'probe.broken_syntax': .+"),
        ("handlers:absent", "Runtime.HandlerNotFound", "Handler 'absent' missing on module 'probe.handlers'"),
        ("raises_at_import:handler", "KeyError", "'PROBE_REQUIRED'"),
        (
            "exits_at_import:handler",
            "Runtime.ExitError",
            rf"RequestId: {REQUEST_ID} Error: Runtime exited with error: exit status 2",
        ),
    ],
)
def test_given_a_handler_that_cannot_be_loaded_when_invoked_then_the_init_error_is_reported_by_its_type(
    runtime: LambdaRuntime, deploy: Deploy, handler: str, error_type: str, message: str
) -> None:
    name = deploy(handler)

    result = runtime.invoke(name, {})

    assert result.error_type == error_type
    assert result.payload["errorType"] == error_type
    assert re.fullmatch(message, result.payload["errorMessage"]), result.payload["errorMessage"]
    if error_type in {"Runtime.ImportModuleError", "Runtime.HandlerNotFound"}:
        assert result.payload["stackTrace"] == []
    if error_type == "KeyError":  # the import's frames are the function's, the runtime's are not
        assert any("raises_at_import.py" in frame for frame in result.payload["stackTrace"])
        assert "lambda_bootstrap" not in json.dumps(result.payload)
    assert runtime.environments(name) == 0
    assert [line for line in runtime.log_lines(name) if line.startswith("INIT_REPORT") and "Status: error" in line]


def test_given_an_init_that_failed_when_invoked_again_then_a_new_environment_retries_the_init(
    runtime: LambdaRuntime, deploy: Deploy, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    name = deploy("flaky_init:handler", environment={"PROBE_READY": str(ready)})
    failed = runtime.invoke(name, {})

    ready.touch()
    retried = runtime.invoke(name, {})

    assert (failed.error_type, failed.payload["errorMessage"]) == ("RuntimeError", "not ready yet")
    assert (retried.error_type, retried.payload) == (None, "ready")
    assert [i.cold_start for i in runtime.invocations] == [True, True]


# Payload limits and marshalling


def test_given_a_request_over_6_mb_when_invoked_then_it_is_refused_before_reaching_the_function(
    runtime: LambdaRuntime, deploy: Deploy
) -> None:
    name = deploy("handlers:length")
    envelope = len(json.dumps({"data": ""}, separators=(",", ":")))

    with pytest.raises(InvokeRefused) as refused:
        runtime.invoke(name, {"data": "x" * (MAX_PAYLOAD_BYTES - envelope + 1)})

    # An Invoke API error (HTTP 413), not a function error: the function never ran
    assert (refused.value.code, refused.value.status) == ("RequestEntityTooLargeException", 413)
    assert refused.value.message == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    assert runtime.environments(name) == 0
    assert runtime.log_lines(name) == []
    # ... while one just under 6 MB is served
    large = runtime.invoke(name, {"data": "x" * (MAX_PAYLOAD_BYTES - envelope - 1024)})
    assert (large.error_type, large.payload) == (None, MAX_PAYLOAD_BYTES - envelope - 1024)


def test_given_an_answer_over_lambdas_response_limit_when_returned_then_it_is_function_response_size_too_large(
    runtime: LambdaRuntime, deploy: Deploy
) -> None:
    name = deploy("handlers:sized")
    quotes = 2

    largest = runtime.invoke(name, {"char": "x", "count": MAX_RESPONSE_BYTES - quotes})
    too_large = runtime.invoke(name, {"char": "x", "count": MAX_RESPONSE_BYTES - quotes + 1})

    assert largest.error_type is None
    assert len(largest.payload) == MAX_RESPONSE_BYTES - quotes
    assert too_large.error_type == "Function.ResponseSizeTooLarge"
    assert too_large.payload == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    }
    # ... counted in UTF-8, as the python3.12 runtime writes non-ASCII text unescaped
    accented = runtime.invoke(name, {"char": "é", "count": 3_000_000})
    assert accented.error_type is None
    assert accented.payload == "é" * 3_000_000
    # ... and the environment keeps serving
    assert [i.cold_start for i in runtime.invocations] == [True, False, False]


def test_given_an_answer_json_cannot_encode_when_returned_then_it_is_a_marshal_error_and_decimals_are_numbers(
    runtime: LambdaRuntime, deploy: Deploy
) -> None:
    unserializable = deploy("handlers:unserializable")
    decimals = deploy("handlers:decimals")

    failed = runtime.invoke(unserializable, {})
    numbers = runtime.invoke(decimals, {})

    assert failed.error_type == "Runtime.MarshalError"
    assert failed.payload["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"
    assert failed.payload["stackTrace"] == []
    assert (numbers.error_type, numbers.payload) == (None, {"price": 12.5, "count": 3})


# The runtime itself


def test_given_an_unknown_function_when_invoked_then_it_is_resource_not_found(runtime: LambdaRuntime) -> None:
    with pytest.raises(InvokeRefused) as refused:
        runtime.invoke("never-deployed", {})

    assert (refused.value.code, refused.value.status) == ("ResourceNotFoundException", 404)
    assert refused.value.message == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:never-deployed"


def test_given_a_busy_environment_when_the_runtime_stops_then_its_processes_end_and_its_caller_gets_an_answer(
    runtime: LambdaRuntime, deploy: Deploy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lambda_runtime, "STOP_SECONDS", 0.5)
    idle = deploy("handlers:echo")
    idle_pid = runtime.invoke(idle, {}).payload["pid"]
    busy = deploy("handlers:hold", timeout=8.0)
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()
    thread, results = in_background(runtime, busy, {"rendezvous": str(rendezvous)})
    wait_until(lambda: any(rendezvous.glob("started-*")), "the invocation running")
    busy_pid = int(next(rendezvous.glob("started-*")).name.removeprefix("started-"))

    started = time.monotonic()
    runtime.stop()
    thread.join(DEADLINE_SECONDS)

    assert time.monotonic() - started < 3.0
    assert results[0].error_type == "Runtime.ExitError"
    assert results[0].payload["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    assert not alive(idle_pid)
    assert not alive(busy_pid)
    with pytest.raises(InvokeRefused, match="Function not found"):
        runtime.invoke(idle, {})


# One of our own handlers


def test_given_our_authorizer_when_it_cold_starts_with_a_minimal_environment_then_a_malformed_token_is_unauthorized(
    tmp_path: Path,
) -> None:
    runtime = LambdaRuntime(tmp_path / "logs", task_root=ROOT / "functions")
    name = "storyimages-authorizer"
    environment = {"FIREBASE_PROJECT_ID": f"demo-{uuid.uuid4().hex[:8]}"}
    try:
        runtime.deploy({name: LocalFunction(name, "storyimages.handlers.authorizer:handler", environment, 10.0, 512)})

        result = runtime.invoke(
            name,
            {
                "type": "TOKEN",
                "authorizationToken": "Bearer not-a-jwt",
                "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/api/images/master-job/x",
            },
        )
    finally:
        runtime.stop()

    assert result.error_type == "ApiGatewayUnauthorized"
    assert result.payload["errorMessage"] == "Unauthorized"
    assert runtime.invocations[0].cold_start is True
    (report,) = reports(runtime, name)
    assert re.search(r"\tInit Duration: \d+\.\d\d ms$", report), report


def test_given_a_running_stack_when_a_second_one_starts_in_the_process_then_it_is_refused(stack) -> None:
    # moto keeps its backends per process, so a second stack would share (and clash with) the first's AWS.
    from local_stack.stack import LocalConfig, LocalStack

    second = LocalStack(LocalConfig(examples_dir=None))

    with pytest.raises(RuntimeError, match="already running"):
        second.start()
    import requests

    assert requests.get(f"{stack.url}/health", timeout=5).status_code == 200  # the first still serves


def test_given_an_environment_idle_past_the_reaping_age_when_the_function_is_next_invoked_then_it_starts_cold(
    runtime: LambdaRuntime, deploy: Deploy, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = deploy("handlers:echo")
    runtime.invoke(name, {})
    monkeypatch.setattr(lambda_runtime, "IDLE_SECONDS", 0.0)

    again = runtime.invoke(name, {})

    assert again.error_type is None
    assert [i.cold_start for i in runtime.invocations] == [True, True]
    assert runtime.environments(name) == 1  # the idle one was stopped, not kept beside the new one


# Tracing


def traced_documents(daemon: XRayDaemon, trace: TraceHeader, count: int = 2) -> dict[str, dict[str, Any]]:
    """The invocation's function segment and the function's subsegment, by name."""
    documents = daemon.wait_for(lambda document: document["trace_id"] == trace.root, count=count)
    return {document.get("origin", document["name"]): document for document in documents}


def test_given_no_trace_header_when_a_function_using_the_xray_sdk_is_invoked_twice_then_each_starts_a_trace(
    runtime: LambdaRuntime, deploy: Deploy, daemon: XRayDaemon
) -> None:
    name = deploy("traced:handler")

    first = runtime.invoke(name, {"n": 1})
    second = runtime.invoke(name, {"n": 2})

    # Each invocation ran with a trace header of its own, sampled; none during the init
    assert (first.error_type, second.error_type) == (None, None), (first.payload, second.payload)
    headers = [TraceHeader.parse(result.payload["trace"]) for result in (first, second)]
    assert all(re.fullmatch(TRACE_HEADER, result.payload["trace"]) for result in (first, second))
    assert first.payload["at_import"] is None
    assert headers[0] and headers[1] and headers[0].root != headers[1].root
    assert [i.trace_header for i in runtime.invocations] == [first.payload["trace"], second.payload["trace"]]
    for n, header in enumerate(headers, start=1):
        assert header is not None
        documents = traced_documents(daemon, header)
        # ... the function's subsegment reached the daemon in that trace, under the header's Parent
        work = documents["work"]
        assert (work["type"], work["trace_id"], work["parent_id"]) == ("subsegment", header.root, header.parent)
        assert work["annotations"] == {"n": n}
        # ... which is the runtime's segment for the invocation: the root of the trace here
        function = documents["AWS::Lambda::Function"]
        assert (function["id"], function["name"], function["trace_id"]) == (header.parent, name, header.root)
        assert "parent_id" not in function
        assert function["start_time"] <= work["start_time"] <= work["end_time"] <= function["end_time"]
        assert "fault" not in function
        lines = daemon.tree(header.root).splitlines()
        assert re.fullmatch(rf"  {name}  \(AWS::Lambda::Function\)  \d+\.\d ms", lines[1])
        assert re.fullmatch(r"    work  \d+\.\d ms", lines[2])
    assert daemon.malformed == 0


def test_given_a_callers_trace_header_when_invoked_then_the_invocation_continues_its_trace(
    runtime: LambdaRuntime, deploy: Deploy, daemon: XRayDaemon
) -> None:
    name = deploy("traced:handler")
    other_root = "1-5759e989-0123456789abcdef01234567"

    # Two callers' traces, one after the other in the same (warm) environment. (Not one trace
    # twice: the X-Ray SDK keeps its facade segment while the Root is unchanged, so a second
    # invocation in the same trace would hang its subsegments under the first one's Parent; as
    # it does in Lambda.)
    results = [
        runtime.invoke(name, {"n": n}, trace_header=f"Root={root};Parent={CALLER_PARENT};Sampled=1")
        for n, root in ((1, CALLER_ROOT), (2, other_root))
    ]

    assert results[0].payload["trace"] != results[1].payload["trace"]
    assert runtime.invocations[-1].cold_start is False
    for result, root in zip(results, (CALLER_ROOT, other_root), strict=True):
        # The invocation ran in the caller's trace, sampled as the caller decided ...
        header = TraceHeader.parse(result.payload["trace"])
        assert header is not None and (header.root, header.sampled) == (root, True)
        assert header.parent != CALLER_PARENT
        # ... under a function segment whose parent is the caller's entity
        documents = traced_documents(daemon, header)
        function, work = documents["AWS::Lambda::Function"], documents["work"]
        assert (function["id"], function["parent_id"]) == (header.parent, CALLER_PARENT)
        assert (work["trace_id"], work["parent_id"]) == (root, header.parent)
        # ... and the tree shows the caller's entity as one the daemon never got
        lines = daemon.tree(root).splitlines()
        assert lines[1].endswith(f"  (parent {CALLER_PARENT})")
        assert lines[2].startswith("    work  ")


def test_given_a_caller_that_did_not_sample_when_invoked_then_the_function_runs_untraced(
    runtime: LambdaRuntime, deploy: Deploy, daemon: XRayDaemon
) -> None:
    name = deploy("traced:handler")

    unsampled = runtime.invoke(name, {"n": 1}, trace_header=f"Root={CALLER_ROOT};Parent={CALLER_PARENT};Sampled=0")
    after = runtime.invoke(name, {"n": 2})

    header = TraceHeader.parse(unsampled.payload["trace"])
    assert header is not None and (header.root, header.sampled) == (CALLER_ROOT, False)
    # The next, sampled, invocation's documents arrived: the unsampled one sent none before them
    sampled = TraceHeader.parse(after.payload["trace"])
    assert sampled is not None, after.payload
    traced_documents(daemon, sampled)
    assert daemon.trace(CALLER_ROOT) == []


def test_given_a_handler_that_raises_when_traced_then_its_function_segment_is_a_fault_naming_the_error(
    runtime: LambdaRuntime, deploy: Deploy, daemon: XRayDaemon
) -> None:
    name = deploy("traced:handler")

    failed = runtime.invoke(name, {"n": 1, "fail": True})

    assert failed.error_type == "ValueError"
    header = TraceHeader.parse(runtime.invocations[-1].trace_header)
    assert header is not None
    function = traced_documents(daemon, header)["AWS::Lambda::Function"]
    assert function["fault"] is True
    assert [(e["type"], e["message"]) for e in function["cause"]["exceptions"]] == [("ValueError", "the work failed")]
    assert "FAULT  [ValueError: the work failed]" in daemon.tree(header.root)


def test_given_a_handler_with_powertools_tracer_when_invoked_then_its_handler_and_method_subsegments_arrive(
    runtime: LambdaRuntime, deploy: Deploy, daemon: XRayDaemon
) -> None:
    # Powertools traces only where LAMBDA_TASK_ROOT is set, as the runtime sets it
    name = deploy("powertools_traced:handler", timeout=10.0)

    cold = runtime.invoke(name, {})
    warm = runtime.invoke(name, {})

    assert (cold.payload, warm.payload) == ("done", "done")
    for invocation, cold_start in zip(runtime.invocations, (True, False), strict=True):
        header = TraceHeader.parse(invocation.trace_header)
        assert header is not None
        documents = traced_documents(daemon, header, count=3)
        handler, method = documents["## handler"], documents["## probe.powertools_traced.work"]
        assert handler["parent_id"] == header.parent
        assert handler["annotations"] == {"ColdStart": cold_start, "Service": "probe"}
        assert handler["metadata"]["probe"]["handler response"] == "done"
        assert method["parent_id"] == handler["id"]
