"""What 1,000 ten-slide stories cost on AWS and Firestore (OpenAI excluded), from what one job
actually does on the local stack: state transitions, Lambda invocations and their durations,
SQS requests, Firestore document writes and reads, S3 requests. Real OpenAI latency, the app's
polling, how often functions start cold and how the image queue's event source polls when idle
are assumptions, printed with the result.

    .venv/bin/python bench/cost.py [--slides 10] [--image-seconds 30] [--poll-seconds 5]

Lambda is billed per function at its memory in the template (`infra.function_catalogue`) for the
durations its REPORT lines state: every invocation of the job (authorizer, start, workflow), the
app's polls (JobStatus, warm) and the authorizer's calls after its cache expires. The image
function's time adds the assumed OpenAI latency (the local Images server answers in
milliseconds). Init durations are billed too (Lambda bills the INIT phase since August 2025):
the job runs on a fresh stack, so every function it uses starts cold once, as it would for
stories far apart; `--cold-start-share 0` assumes environments always warm.

SQS: each slide's image is one message of the image queue, and each try of it (a retry of the
workflow's "Generate slide image" task sends a new one) costs three requests: the SendMessage by
Step Functions (counted from the execution history: a TaskScheduled event of resource type
sqs), one ReceiveMessage by the event source (batch size 1: one receive per worker invocation)
and, when the worker succeeded, one DeleteMessage. Besides, the event source long-polls the
queue (20 s) whatever the traffic; those empty receives are a monthly cost of the deployment,
not of a story, printed apart (`--idle-pollers`, 5 by default: Lambda does not publish how many
long polls it keeps on an idle queue; five is an assumption, as many as the batches it says it
starts processing with). The first million requests a month are free; that is not subtracted.

Firestore is counted at the emulator, as Firestore bills it (local_stack/firestore_meter.py): a
write per document written, a read per document read by id and per document a query returns, at
least one read per query.

Prices: us-east-1 list prices (x86_64 Lambda, as deployed) and Firestore's multi-region (nam5)
prices, November 2026; check the pricing pages before relying on them.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "functions")]

from bench.common import BENCH_IMAGE_SIZE, Report, Reports, bench_config, specs  # noqa: E402
from infra.function_catalogue import function_name  # noqa: E402
from infra.rest_api import AUTHORIZER_CACHE_SECONDS  # noqa: E402
from local_stack.firestore_meter import FirestoreMeter  # noqa: E402
from local_stack.stack import LocalStack  # noqa: E402
from storyimages import defaults  # noqa: E402
from tests.api_client import ApiClient  # noqa: E402
from tests.stories import story_document  # noqa: E402
from tests.workflow_runs import wait_for, wait_for_execution  # noqa: E402

IMAGE_FUNCTION = "GenerateSlideImage"
POLLS_MEASURED = 5
SQS_PER_REQUEST = 0.40 / 1_000_000  # standard queue, per 64 KB chunk (a slide's message is one)
LONG_POLL_SECONDS = 20  # the event source's ReceiveMessage wait when the queue is empty
MINUTES_A_MONTH = 30 * 24 * 60
STEP_FUNCTIONS_PER_TRANSITION = 0.025 / 1000
LAMBDA_PER_GB_SECOND = 0.0000166667
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
API_GATEWAY_REST_PER_REQUEST = 3.50 / 1_000_000
FIRESTORE_PER_READ = 0.06 / 100_000
FIRESTORE_PER_WRITE = 0.18 / 100_000
FIRESTORE_PER_DELETE = 0.02 / 100_000
S3_PER_PUT = 0.005 / 1000
S3_PER_GET = 0.0004 / 1000
S3_PER_GB_MONTH = 0.023


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slides", type=int, default=10)
    parser.add_argument("--stories", type=int, default=1000)
    parser.add_argument("--image-seconds", type=float, default=30.0, help="OpenAI latency per image (assumed)")
    parser.add_argument(
        "--delay-seconds", type=int, default=defaults.DELAY_SECONDS, help="the pause between images (as deployed)"
    )
    parser.add_argument("--poll-seconds", type=float, default=5.0, help="how often the app polls (the seed: 5 s)")
    parser.add_argument("--image-mb", type=float, default=1.6, help="a 1024x1024 PNG from the API (assumed)")
    parser.add_argument("--retention-months", type=float, default=3.0)
    parser.add_argument(
        "--cold-start-share", type=float, default=1.0, help="of the stories, those whose functions start cold"
    )
    parser.add_argument(
        "--idle-pollers", type=int, default=5, help="the event source's long polls in parallel on an idle queue"
    )
    args = parser.parse_args()

    with LocalStack(bench_config()) as stack:
        functions = specs(stack)
        openai_timeout = float(functions[IMAGE_FUNCTION].environment["OPENAI_TIMEOUT_SECONDS"])
        if args.image_seconds > openai_timeout:
            parser.error(f"--image-seconds is beyond the image function's OpenAI timeout ({openai_timeout:.0f} s)")
        story = f"cost-{uuid.uuid4().hex[:8]}"
        stack.db.collection("stories").document(story).create(story_document(args.slides, owner="user-1"))
        api = ApiClient(stack.url, stack.token("user-1"))
        calls_before = len(stack.lambdas.invocations)
        reports = Reports(stack)
        # Counted at the emulator: every Firestore RPC of the authorizer, the start and the
        # workflow's Lambdas, whichever process sends it; the wait asks Step Functions only.
        with FirestoreMeter(stack.firestore) as job_meter:
            job_id = api.start_job(story)
            wait_for_execution(stack, job_id)
            # The last worker answered its task before returning: let it end (and log its REPORT).
            worker = function_name(IMAGE_FUNCTION)
            deadline = time.monotonic() + 30
            while stack.lambdas.in_flight(worker) and time.monotonic() < deadline:
                time.sleep(0.05)
        job = reports.new()
        invocations = stack.lambdas.invocations[calls_before:]
        run = wait_for(stack, job_id)  # the history and the job, read outside the meter
        assert run.job.status.value == "completed", run.job.status
        with FirestoreMeter(stack.firestore) as poll_meter:
            for _ in range(POLLS_MEASURED):
                api.status(job_id)
        polled = reports.new()
        for uid in ("user-2", "user-3", "user-4"):  # a token the gateway has not cached: the authorizer runs
            ApiClient(stack.url, stack.token(uid)).status(job_id)
        authorized = [r for r in reports.new() if r.function == "Authorizer"]
        edits = sum(1 for r in stack.images.requests() if r["endpoint"] == "edits")
    assert len(job) == len(invocations), "an invocation without its REPORT line"

    def gb_seconds(report: Report, seconds: float) -> float:
        return functions[report.function].memory_mb / 1024 * seconds

    def warm(reported: list[Report], function: str) -> Report:
        """The median warm invocation of `function`."""
        durations = sorted((r for r in reported if r.function == function and not r.init_seconds), key=_billed)
        return durations[len(durations) // 2]

    transitions = sum(1 for e in run.history if e["type"].endswith("StateEntered"))
    duration = args.slides * args.image_seconds + (args.slides - 1) * args.delay_seconds
    polls = math.ceil(duration / args.poll_seconds)
    authorizer_calls = math.ceil(duration / AUTHORIZER_CACHE_SECONDS) + 1  # one per token per cache period
    poll, authorizer = warm(polled, "JobStatus"), warm(authorized, "Authorizer")
    openai_waits = sum(1 for r in job if r.function == IMAGE_FUNCTION)
    handlers_gb_s = sum(gb_seconds(r, r.billed_seconds) for r in job)
    openai_gb_s = functions[IMAGE_FUNCTION].memory_mb / 1024 * args.image_seconds * openai_waits
    polls_gb_s = polls * gb_seconds(poll, poll.billed_seconds)
    authorizer_gb_s = (authorizer_calls - 1) * gb_seconds(authorizer, authorizer.billed_seconds)
    cold = [r for r in job + polled if r.init_seconds]  # each function the story uses, started cold once
    init_gb_s = args.cold_start_share * sum(gb_seconds(r, r.init_seconds) for r in cold)
    gb_s = handlers_gb_s + openai_gb_s + polls_gb_s + authorizer_gb_s + init_gb_s
    lambda_requests = len(invocations) + polls + authorizer_calls - 1
    firestore_reads = job_meter.billed_reads + polls * poll_meter.billed_reads / POLLS_MEASURED
    firestore_writes, firestore_deletes = job_meter.document_writes, job_meter.document_deletes
    s3_puts, s3_gets = args.slides, edits + args.slides  # the reference per edit; the app fetches each image once
    # Per try of a slide's image: Step Functions sends its message, the event source receives it
    # for one worker invocation and deletes it once the worker succeeded.
    sqs_sends = sum(
        1
        for e in run.history
        if e["type"] == "TaskScheduled" and e.get("taskScheduledEventDetails", {}).get("resourceType") == "sqs"
    )
    worker_calls = [i for i in invocations if i.function_name == worker]
    sqs_receives, sqs_deletes = len(worker_calls), sum(1 for i in worker_calls if i.error_type is None)
    sqs_requests = sqs_sends + sqs_receives + sqs_deletes
    idle_receives_a_month = args.idle_pollers * 60 / LONG_POLL_SECONDS * MINUTES_A_MONTH
    # Before paying for a slide, the image function asks whether its image is stored (a LIST,
    # billed as a PUT is); a run that ends without every image asks again for those slides.
    s3_lists = args.slides
    storage_gb_months = args.slides * args.image_mb / 1024 * args.retention_months

    per_story = {
        "Step Functions": transitions * STEP_FUNCTIONS_PER_TRANSITION,
        "Lambda": gb_s * LAMBDA_PER_GB_SECOND + lambda_requests * LAMBDA_PER_REQUEST,
        "SQS": sqs_requests * SQS_PER_REQUEST,
        "API Gateway": (1 + polls) * API_GATEWAY_REST_PER_REQUEST,
        "Firestore": firestore_reads * FIRESTORE_PER_READ
        + firestore_writes * FIRESTORE_PER_WRITE
        + firestore_deletes * FIRESTORE_PER_DELETE,
        "S3": (s3_puts + s3_lists) * S3_PER_PUT + s3_gets * S3_PER_GET + storage_gb_months * S3_PER_GB_MONTH,
    }
    memory = sorted({spec.memory_mb for spec in functions.values()})
    print(f"one {args.slides}-slide story, measured on the local stack ({BENCH_IMAGE_SIZE} images):")
    print(f"  state transitions {transitions}, execution history events {len(run.history)}")
    by_function = ", ".join(f"{n} {name}" for name, n in Counter(r.function for r in job).items())
    print(f"  Lambda invocations by the job {len(invocations)}: {by_function}")
    print(
        f"  Lambda time (billed, at {'/'.join(map(str, memory))} MB): the job's invocations"
        f" {sum(r.billed_seconds for r in job):.2f} s, a warm poll {poll.billed_seconds * 1000:.0f} ms,"
        f" a warm authorizer call {authorizer.billed_seconds * 1000:.0f} ms, init of {len(cold)} cold starts"
        f" {sum(r.init_seconds for r in cold):.2f} s"
    )
    print(
        f"  SQS requests {sqs_requests}: {sqs_sends} sends by Step Functions, {sqs_receives} receives and"
        f" {sqs_deletes} deletes by the image queue's event source"
    )
    print(
        f"  Firestore document writes {firestore_writes} in {len(job_meter.commits)} commits, deletes"
        f" {firestore_deletes}"
    )
    by_id, queries = sum(len(r) for r in job_meter.reads), job_meter.queries
    print(
        f"  Firestore billed reads by the job {job_meter.billed_reads} ({by_id} documents by id in"
        f" {len(job_meter.reads)} reads, {len(queries)} queries returning {sum(queries)}), per poll"
        f" {poll_meter.billed_reads / POLLS_MEASURED:g}"
    )
    print(
        f"assumed: {args.image_seconds:.0f} s per image, polls every {args.poll_seconds:.0f} s for {duration:.0f} s "
        f"({polls} polls, {authorizer_calls} authorizer calls), cold starts in {args.cold_start_share:.0%} of"
        f" stories, {args.image_mb} MB per image kept {args.retention_months:.0f} months"
    )
    print(
        f"Lambda GB-s a story: handlers {handlers_gb_s:.2f}, waiting on OpenAI {openai_gb_s:.2f}, polls"
        f" {polls_gb_s:.2f}, authorizer {authorizer_gb_s:.2f}, init {init_gb_s:.2f}; {lambda_requests} requests"
    )
    print(f"\ncost of {args.stories:,} stories (USD, OpenAI excluded):")
    for service, dollars in per_story.items():
        print(f"  {service:<16}{dollars * args.stories:>10.2f}")
    print(f"  {'total':<16}{sum(per_story.values()) * args.stories:>10.2f}")
    print(
        f"plus, whatever the traffic, the event source's long polls of the idle image queue: about"
        f" {idle_receives_a_month:,.0f} empty receives a month ({args.idle_pollers} polls of"
        f" {LONG_POLL_SECONDS} s at a time, assumed), ${idle_receives_a_month * SQS_PER_REQUEST:.2f} a month"
    )


def _billed(report: Report) -> float:
    return report.billed_seconds


if __name__ == "__main__":
    main()
