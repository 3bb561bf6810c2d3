"""The `storyimages` command as a whole, on a recording transport: where the URL and token come from, what
each command prints, and its exit code."""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import dataclass, field

import pytest

from storyimages_cli.api import ConnectionFailed, HttpAnswer
from storyimages_cli.cli import Context, main
from tests.cli_fakes import BASE_URL, JOB_ID, FakeClock, RecordingTransport, job, ok, refusal, slide, started

ENV = {"STORYIMAGES_API_URL": BASE_URL, "STORYIMAGES_TOKEN": "env-token"}
STATUS_URL = f"{BASE_URL}api/images/master-job/{JOB_ID}"


@dataclass
class Run:
    """One run of the command: its exit code, what it printed, and what it sent."""

    transport: RecordingTransport = field(default_factory=RecordingTransport)
    environ: dict[str, str] = field(default_factory=lambda: dict(ENV))
    clock: FakeClock = field(default_factory=FakeClock)
    keys: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    stdout: io.StringIO = field(default_factory=io.StringIO)
    stderr: io.StringIO = field(default_factory=io.StringIO)
    code: int | None = None

    def __call__(self, *argv: str) -> Run:
        context = Context(
            environ=self.environ,
            transport=self.transport,
            stdout=self.stdout,
            stderr=self.stderr,
            sleep=self.clock.sleep,
            clock=self.clock,
            new_idempotency_key=lambda: f"generated-key-{next(self.keys)}",
        )
        self.code = main(list(argv), context)
        return self

    @property
    def out(self) -> str:
        return self.stdout.getvalue()

    @property
    def err(self) -> str:
        return self.stderr.getvalue()


def answering(*answers: HttpAnswer | ConnectionFailed, environ: dict[str, str] | None = None) -> Run:
    return Run(transport=RecordingTransport().answer(*answers), environ=dict(ENV if environ is None else environ))


def test_given_the_url_and_token_in_the_environment_when_run_then_they_are_used() -> None:
    run = answering(ok(job("generating", [slide(1)])))("status", JOB_ID)

    assert run.code == 0
    (request,) = run.transport.requests
    assert (request.method, request.url) == ("GET", STATUS_URL)
    assert request.headers["Authorization"] == "Bearer env-token"


@pytest.mark.parametrize(
    "argv",
    [
        ["--base-url", "http://127.0.0.1:3000", "--token", "flag-token", "status", JOB_ID],
        ["status", JOB_ID, "--base-url", "http://127.0.0.1:3000", "--token", "flag-token"],
        ["--token", "flag-token", "status", "--base-url", "http://127.0.0.1:3000", JOB_ID],
    ],
)
def test_given_flags_before_or_after_the_command_when_run_then_they_win_over_the_environment(argv: list[str]) -> None:
    run = answering(ok(job("generating", [slide(1)])))(*argv)

    assert run.code == 0
    (request,) = run.transport.requests
    assert request.url == f"http://127.0.0.1:3000/api/images/master-job/{JOB_ID}"
    assert request.headers["Authorization"] == "Bearer flag-token"


@pytest.mark.parametrize("environ", [{"STORYIMAGES_API_URL": BASE_URL}, ENV | {"STORYIMAGES_TOKEN": ""}])
def test_given_no_token_when_run_then_a_usage_error_naming_where_it_comes_from_and_nothing_sent(
    environ: dict[str, str],
) -> None:
    run = answering(environ=environ)("watch", JOB_ID)

    assert run.code == 1
    assert run.err == "USAGE_ERROR: no token: pass --token or set STORYIMAGES_TOKEN to a Firebase ID token\n"
    assert run.transport.requests == []


def test_given_no_api_url_when_run_then_a_usage_error_naming_where_it_comes_from() -> None:
    run = answering(environ={"STORYIMAGES_TOKEN": "t"})("status", JOB_ID)

    assert (run.code, run.err) == (1, "USAGE_ERROR: no API URL: pass --base-url or set STORYIMAGES_API_URL\n")


@pytest.mark.parametrize("base_url", ["127.0.0.1:3000", "ftp://example.com/", "https://", "https://x.com/dev/?a=1"])
def test_given_an_api_url_that_is_not_http_when_run_then_a_usage_error(base_url: str) -> None:
    run = answering()("status", JOB_ID, "--base-url", base_url)

    assert run.code == 1
    assert run.err.startswith("USAGE_ERROR: the API URL must look like")
    assert run.transport.requests == []


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["launch", "fox"], "invalid choice: 'launch'"),
        (["watch", JOB_ID, "--interval", "0"], "must be a positive number of seconds"),
        (["watch", JOB_ID, "--timeout", "soon"], "not a number of seconds"),
        (["start", "fox", "--delay-seconds", "-1"], "must be 0 or more"),
    ],
)
def test_given_bad_arguments_when_run_then_exit_1_with_usage_not_argparses_2(argv: list[str], complaint: str) -> None:
    run = answering()(*argv)

    assert run.code == 1  # 2 is completed_with_errors
    assert run.err.startswith("usage: storyimages")
    assert "USAGE_ERROR: " in run.err and complaint in run.err


def test_given_a_start_when_run_then_the_job_id_alone_on_stdout_and_a_fresh_idempotency_key_sent() -> None:
    run = answering(ok(started(), 202))("start", "fox", "--no-character-consistency", "--delay-seconds", "0")

    assert run.code == 0
    assert run.out == f"{JOB_ID}\n"
    assert run.err == "started: 3 slides, about 4 minutes\n"
    (request,) = run.transport.requests
    assert request.body == {"storyId": "fox", "useCharacterConsistency": False, "delaySeconds": 0}
    assert request.headers["Idempotency-Key"] == "generated-key-1"


def test_given_lost_connections_when_starting_then_every_resend_carries_the_one_key_of_this_run() -> None:
    run = answering(ConnectionFailed("reset"), ConnectionFailed("timed out"), ok(started(idempotentReplay=True)))
    run("start", "fox")

    assert run.code == 0
    assert [r.headers["Idempotency-Key"] for r in run.transport.requests] == ["generated-key-1"] * 3
    assert run.err == "this Idempotency-Key already started that job: nothing new was started\n"


def test_given_an_idempotency_key_when_starting_then_that_key_is_sent() -> None:
    run = answering(ok(started(alreadyRunning=True)))("start", "fox", "--idempotency-key", "deploy-42")

    assert run.transport.requests[0].headers["Idempotency-Key"] == "deploy-42"
    assert run.err == "the story's job is already running: nothing new was started\n"


def test_given_json_when_starting_then_stdout_is_the_answers_data() -> None:
    run = answering(ok(started(), 202))("start", "fox", "--json")

    assert json.loads(run.out) == started()


@pytest.mark.parametrize(
    ("ending", "code"), [("completed", 0), ("completed_with_errors", 2), ("failed", 3), ("cancelled", 4)]
)
def test_given_start_watch_when_the_job_ends_then_the_exit_code_is_the_endings(ending: str, code: int) -> None:
    run = answering(
        ok(started(), 202),
        ok(job("generating", [slide(1, "generating")])),
        ok(job(ending, [slide(1, "completed")])),
    )

    run("start", "fox", "--watch", "--interval", "2")

    assert run.code == code
    assert run.out.splitlines() == [
        JOB_ID,
        f"{JOB_ID}: generating (run 0): 0 completed, 0 failed, 0 skipped, 1 in progress of 1",
        "slide 1: generating",
        "slide 1: completed",
        f"{JOB_ID}: {ending} (run 0): 1 completed, 0 failed, 0 skipped of 1",
    ]
    assert run.clock.sleeps == [2]


def test_given_start_json_watch_when_run_then_stdout_stays_json_and_the_progress_goes_to_stderr() -> None:
    run = answering(ok(started(), 202), ok(job("completed", [slide(1, "completed")])))

    run("start", "fox", "--json", "--watch")

    assert run.code == 0
    assert json.loads(run.out) == started()
    assert "slide 1: completed" in run.err


def test_given_a_job_still_running_at_the_timeout_when_watched_then_exit_5_saying_the_job_goes_on() -> None:
    running = ok(job("generating", [slide(1, "generating")]))
    run = answering(*[running] * 3)

    run("watch", JOB_ID, "--interval", "5", "--timeout", "10")

    assert run.code == 5
    assert run.err == (
        f"WATCH_TIMED_OUT: {JOB_ID} is still generating after 10 s of watching; the job goes on"
        f" (`watch {JOB_ID}` watches it again)\n"
    )


def test_given_status_json_when_run_then_stdout_is_the_answers_data() -> None:
    data = job("completed_with_errors", [slide(1, "completed"), slide(2, "failed", "IMAGE_REJECTED")])

    run = answering(ok(data))("status", JOB_ID, "--json")

    assert (run.code, json.loads(run.out)) == (0, data)


def test_given_status_when_run_then_a_table_of_the_slides() -> None:
    data = job("completed_with_errors", [slide(1, "completed"), slide(2, "failed", "IMAGE_REJECTED")])

    run = answering(ok(data))("status", JOB_ID)

    assert run.code == 0
    assert "status completed_with_errors, run 0" in run.out
    assert "IMAGE_REJECTED" in run.out


def test_given_cancel_when_run_then_it_posts_and_prints_the_resulting_status() -> None:
    cancelled = job("cancelled", [slide(1, "completed"), slide(2, "skipped", "CANCELLED")])

    run = answering(ok(cancelled))("cancel", JOB_ID)

    assert run.code == 0
    assert (run.transport.requests[0].method, run.transport.requests[0].url) == ("POST", f"{STATUS_URL}/cancel")
    assert run.out == f"{JOB_ID}: cancelled (run 0): 1 completed, 0 failed, 1 skipped of 2\n"


def test_given_retry_watch_when_run_then_it_prints_the_new_run_and_exits_by_its_ending() -> None:
    retried = job("generating", [slide(1, "completed"), slide(2, "pending")], run=1)
    ended = job("completed", [slide(1, "completed"), slide(2, "completed")], run=1)

    run = answering(ok(retried, 202), ok(ended))("retry", JOB_ID, "--watch")

    assert run.code == 0
    assert (
        run.out.splitlines()[0] == f"{JOB_ID}: generating (run 1): 1 completed, 0 failed, 0 skipped, 1 in progress of 2"
    )
    assert run.out.splitlines()[-1] == f"{JOB_ID}: completed (run 1): 2 completed, 0 failed, 0 skipped of 2"
    assert [r.url for r in run.transport.requests] == [f"{STATUS_URL}/retry", STATUS_URL]


def test_given_the_api_refuses_when_run_then_exit_1_with_code_message_and_details_on_stderr() -> None:
    details = {"delaySeconds": "at most 60"}
    run = answering(refusal(422, "INVALID_OPTION", "delaySeconds is out of bounds", details))

    run("start", "fox", "--delay-seconds", "999")

    assert run.code == 1
    assert run.out == ""
    assert run.err == 'INVALID_OPTION: delaySeconds is out of bounds\n{"delaySeconds": "at most 60"}\n'


def test_given_an_unknown_job_when_watched_then_exit_1_job_not_found() -> None:
    run = answering(refusal(404, "JOB_NOT_FOUND", "Job not found"))("watch", "auto-gen-nope-1")

    assert (run.code, run.err) == (1, "JOB_NOT_FOUND: Job not found\n")


def test_given_the_network_down_when_run_then_exit_1_with_a_network_error() -> None:
    run = answering(*[ConnectionFailed("connection refused")] * 3)("status", JOB_ID)

    assert run.code == 1
    assert run.err == "NETWORK_ERROR: connection refused\n"
