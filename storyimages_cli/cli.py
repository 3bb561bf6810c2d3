"""The `storyimages` command: its arguments, where the API's URL and the token come from, what each command
prints, and the exit code (see outcome.ExitCode): failures print `CODE: message` on stderr."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TextIO
from urllib.parse import urlsplit

from rich.console import Console

from storyimages_cli.api import ApiClient, ApiError, RequestsTransport, StartOptions, Transport
from storyimages_cli.outcome import ExitCode
from storyimages_cli.render import LiveProgress, PlainProgress, job_line, print_job_table
from storyimages_cli.watch import WatchTimedOut, watch_job

ENV_API_URL = "STORYIMAGES_API_URL"
ENV_TOKEN = "STORYIMAGES_TOKEN"  # noqa: S105 (the variable that holds the token, not one)
USAGE_ERROR = "USAGE_ERROR"
WATCH_TIMED_OUT = "WATCH_TIMED_OUT"
DEFAULT_INTERVAL_SECONDS = 5.0

EPILOG = f"""\
The API: --base-url or {ENV_API_URL} (a deployed stack's ApiUrl, ending in /dev/; locally http://127.0.0.1:3000).
The caller: --token or {ENV_TOKEN} (a Firebase ID token of the story's owner).

exit codes of watch, start --watch and retry --watch, by how the job ended:
  0 completed, 2 completed_with_errors, 3 failed, 4 cancelled, 5 still running at --timeout (the job goes on)
every command: 1 when the API refused, the network failed or the arguments are wrong (CODE: message on stderr)
"""


@dataclass
class Context:
    """What the commands reach outside themselves; tests pass fakes."""

    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    transport: Transport = field(default_factory=RequestsTransport)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    new_idempotency_key: Callable[[], str] = lambda: str(uuid.uuid4())


class UsageError(Exception):
    def __init__(self, message: str, usage: str = "") -> None:
        super().__init__(message)
        self.usage = usage


class _Parser(argparse.ArgumentParser):
    # argparse's own exit status for bad arguments is 2, which here means completed_with_errors.
    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.format_usage())


def main(argv: Sequence[str] | None = None, context: Context | None = None) -> int:
    context = context or Context()
    try:
        args = build_parser().parse_args(argv)
        code: int = args.run(args, context)
    except UsageError as error:
        context.stderr.write(f"{error.usage}{USAGE_ERROR}: {error}\n")
        return ExitCode.ERROR
    except ApiError as error:
        context.stderr.write(f"{error.code}: {error.message}\n")
        if error.details is not None:
            context.stderr.write(json.dumps(error.details, ensure_ascii=False) + "\n")
        return ExitCode.ERROR
    except WatchTimedOut as error:
        context.stderr.write(f"{WATCH_TIMED_OUT}: {error}\n")
        return ExitCode.WATCH_TIMED_OUT
    except KeyboardInterrupt:
        context.stderr.write("interrupted; a job that was started goes on\n")
        return 130
    return code


def build_parser() -> argparse.ArgumentParser:
    # SUPPRESS keeps a subcommand's unset copy of an option from overwriting one given before the subcommand.
    connection = _Parser(add_help=False)
    connection.add_argument("--base-url", default=argparse.SUPPRESS, help=f"the API's URL (default: ${ENV_API_URL})")
    connection.add_argument("--token", default=argparse.SUPPRESS, help=f"a Firebase ID token (default: ${ENV_TOKEN})")
    watching = _Parser(add_help=False)
    watching.add_argument(
        "--interval",
        type=_positive_seconds,
        default=DEFAULT_INTERVAL_SECONDS,
        help=f"seconds between polls (default {DEFAULT_INTERVAL_SECONDS:g})",
    )
    watching.add_argument("--timeout", type=_positive_seconds, help="stop watching after this many seconds (exit 5)")
    as_json = _Parser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print the answer's data as JSON on stdout")

    parser = _Parser(
        prog="storyimages",
        description="Start, watch, cancel and retry the jobs that illustrate a story's slides.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[connection],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    start = commands.add_parser(
        "start", help="start illustrating a story; prints the job id", parents=[connection, watching, as_json]
    )
    start.add_argument("story_id", metavar="STORY_ID")
    start.add_argument(
        "--no-character-consistency",
        dest="use_character_consistency",
        action="store_const",
        const=False,
        help="draw every slide on its own, without the first slide's image as the reference",
    )
    start.add_argument("--delay-seconds", type=_non_negative_int, help="pause before each image after the first")
    start.add_argument("--size", help="image size, e.g. 1024x1024")
    start.add_argument("--quality", help="image quality, e.g. medium")
    start.add_argument("--webhook-url", help="a public https URL told, signed, when the job ends")
    start.add_argument(
        "--idempotency-key",
        help="repeat a start safely: the same key answers the first start's job (default: a new one per run)",
    )
    start.add_argument("--watch", action="store_true", help="then watch the job (see exit codes)")
    start.set_defaults(run=_start)

    status = commands.add_parser("status", help="a job, its slides and their images", parents=[connection, as_json])
    status.add_argument("job_id", metavar="JOB_ID")
    status.set_defaults(run=_status)

    watch = commands.add_parser(
        "watch", help="progress of a job until it ends; exit code by outcome", parents=[connection, watching]
    )
    watch.add_argument("job_id", metavar="JOB_ID")
    watch.set_defaults(run=_watch)

    cancel = commands.add_parser("cancel", help="cancel a running job", parents=[connection, as_json])
    cancel.add_argument("job_id", metavar="JOB_ID")
    cancel.set_defaults(run=_cancel)

    retry = commands.add_parser(
        "retry", help="run again the slides of an ended job that have no image", parents=[connection, watching, as_json]
    )
    retry.add_argument("job_id", metavar="JOB_ID")
    retry.add_argument("--watch", action="store_true", help="then watch the job (see exit codes)")
    retry.set_defaults(run=_retry)
    return parser


def _start(args: argparse.Namespace, context: Context) -> int:
    client = _client(args, context)
    options = StartOptions(
        story_id=args.story_id,
        use_character_consistency=args.use_character_consistency,
        delay_seconds=args.delay_seconds,
        size=args.size,
        quality=args.quality,
        webhook_url=args.webhook_url,
    )
    # One key for the whole invocation, so that the client's resends after a lost connection start one job at most.
    data = client.start(options, args.idempotency_key or context.new_idempotency_key())
    if args.json:
        _print_json(context.stdout, data)
    else:
        context.stdout.write(f"{data['masterJobId']}\n")
        context.stderr.write(_start_note(data) + "\n")
    if not args.watch:
        return ExitCode.OK
    # With --json, stdout stays the JSON alone for scripts; the progress goes to stderr.
    return _watch_job(client, data["masterJobId"], args, context, context.stderr if args.json else context.stdout)


def _status(args: argparse.Namespace, context: Context) -> int:
    data = _client(args, context).status(args.job_id)
    if args.json:
        _print_json(context.stdout, data)
    else:
        print_job_table(Console(file=context.stdout, highlight=False), data)
    return ExitCode.OK


def _watch(args: argparse.Namespace, context: Context) -> int:
    return _watch_job(_client(args, context), args.job_id, args, context, context.stdout)


def _cancel(args: argparse.Namespace, context: Context) -> int:
    data = _client(args, context).cancel(args.job_id)
    _print_job(context.stdout, data, as_json=args.json)
    return ExitCode.OK


def _retry(args: argparse.Namespace, context: Context) -> int:
    client = _client(args, context)
    data = client.retry(args.job_id)
    _print_job(context.stdout, data, as_json=args.json)
    if not args.watch:
        return ExitCode.OK
    return _watch_job(client, args.job_id, args, context, context.stderr if args.json else context.stdout)


def _watch_job(client: ApiClient, job_id: str, args: argparse.Namespace, context: Context, stream: TextIO) -> int:
    view = LiveProgress(Console(file=stream)) if stream.isatty() else PlainProgress(stream)
    with view:
        return watch_job(
            client,
            job_id,
            view,
            interval=args.interval,
            timeout=args.timeout,
            clock=context.clock,
            sleep=context.sleep,
        )


def _client(args: argparse.Namespace, context: Context) -> ApiClient:
    base_url = getattr(args, "base_url", None) or context.environ.get(ENV_API_URL, "")
    token = getattr(args, "token", None) or context.environ.get(ENV_TOKEN, "")
    if not base_url:
        raise UsageError(f"no API URL: pass --base-url or set {ENV_API_URL}")
    if not token:
        raise UsageError(f"no token: pass --token or set {ENV_TOKEN} to a Firebase ID token")
    return ApiClient(_checked_base_url(base_url), token, context.transport, sleep=context.sleep)


def _checked_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
        raise UsageError(f"the API URL must look like https://host/stage/ or http://host:port, not {base_url!r}")
    return base_url


def _start_note(data: Mapping[str, Any]) -> str:
    if data["idempotentReplay"]:
        return "this Idempotency-Key already started that job: nothing new was started"
    if data["alreadyRunning"]:
        return "the story's job is already running: nothing new was started"
    return f"started: {data['totalSlides']} slides, about {data['estimatedTime']}"


def _print_job(stream: TextIO, data: Mapping[str, Any], *, as_json: bool) -> None:
    if as_json:
        _print_json(stream, data)
    else:
        stream.write(job_line(data) + "\n")


def _print_json(stream: TextIO, data: Mapping[str, Any]) -> None:
    stream.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    stream.flush()


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return seconds


def _non_negative_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {number}")
    return number
