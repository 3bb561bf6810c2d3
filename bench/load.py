"""Many users at once: U users each start an M-slide story within a few seconds, against the
whole local stack (`LocalStack`: the gateway, the Lambdas, Step Functions, the image queue and its
event source, Firestore, the Images server) with production's limits, and how close the run
comes to what the image capacity physically allows.

    .venv/bin/python bench/load.py [--stories 50] [--slides 10] [--latency 30] [--factor 20]
                                   [--ipm 50] [--concurrency N] [--spread 0.25] [--seed 0]

Scaled time. One factor F (--factor, 20 by default) divides every duration the design is built
around and multiplies every rate: the image latency (L / F), the Wait pause before each slide
after the first (the deployment's `delaySeconds`) and the workflow's retry intervals, and the
provider's images per minute (IPM x F). Step Functions takes whole seconds, so a retry interval
or retry cap of x seconds becomes max(1, round(x / F)) (at F = 20 the 10 s rate-limit interval
becomes 1 s, not 0.5 s) and the pause round(pause / F) (production's 2 s is 0 s at F = 20); the
run prints the values it deployed. The IPM bucket keeps its size in images (a minute's worth of
the unscaled IPM: 50 images at tier 3) and refills F times as fast. Not scaled: timeouts (the
image function's 300 s, OpenAI's, the queue's visibility timeout, the image task's day) and
what the machine itself takes (Lambda invokes, SQS and Step Functions calls, Firestore round
trips, image rendering). Those are real seconds, F times larger against a scaled image than
against a real one, so the ratio to the limit measured here is an upper bound of production's.
Figures are printed in scaled seconds, with the real equivalent (x F) where it reads better.
On 2 cores the default run takes about 4 minutes and its makespan is about 1.3x the limit; the
`makespan = ...` line says where the rest goes: the provider's log-normal mean (~4% over L), the
image worker's time beyond the provider (~0.25-0.3 s an image: the reference read from S3 and
sent, the Images server drawing after its latency, the store and the records) and worker slots
idle between invocations (~0.15-0.2 s an image: the event source's delete and next receive,
round trips to moto in this process), real seconds that are ~30% of a 1.5 s scaled image and
would be ~1.5% of a 30 s one.

The image latency is log-normal, median L (--latency, 30 s: the fast end of gpt-image-2's
30-200 s), sigma 0.25 (--spread), capped at 3 x L. The physical limit is computed with L: the
mean of a log-normal is L x exp(sigma^2 / 2), 1.03 L at 0.25 but 1.13 L at 0.5, so a long tail
would lift the makespan above the bound for a reason no design can remove; the modest spread
and the cap keep that under a few percent (and one slow image from dwarfing a story).

The provider limit is OpenAI's tier 3 for gpt-image-2, 50 images a minute (--ipm; the table in
docs/deploy.md "Sizing the image concurrency"): a mid tier a production account plausibly has.
With the deployment's default imageConcurrency c = 5 and L = 30 s the workers ask at most
c x 60 / L = 10 images a minute, a fifth of it, so the capacity bound dominates and no request
should be answered 429 (--ipm 5, tier 1, makes the rate limit bind instead).

The physical limit of the makespan (the first job's start to the last job's end) is the largest
of: total images / (IPM x F / 60) (the provider), total images x (L / F) / c (the workers, all
busy), and M x (L / F) + (M - 1) x pause (one story's chain of slides, one at a time). The
default run (50 x 10 slides, c = 5, L = 1.5 s scaled) is bound by the workers: 150 s scaled.

Users are threads sharing one pooled HTTP session; each starts its story through the HTTP API
(gateway, authorizer, StartGeneration) with a token of its own, 5 users a second (10 s for 50;
--window sets the seconds), retrying a start that gets a 5xx or no answer with the same
Idempotency-Key, as the app does. Before them, c one-slide stories at once (not counted) leave
c warm environments of each function on a story's path, as steady traffic would. Faster than
that, this machine melts down, not Lambda: a start past the warm environments is a cold start
(about 1.8 CPU-seconds of imports here, where Lambda starts each environment on hosts of its
own), which slows the starts under way, which starts more: all 50 within 3 s made ~28 cold
StartGeneration environments (init ~10 s each on 2 busy cores, warm starts 2 s), held the
image workers to 3 images in the first 20 s, and cost ~20 s of makespan; all at once and cold,
the starts passed API Gateway's 29 s and answered 504. The run then waits for every
job's execution to end by asking Step Functions, not by polling the API as the app does: scaled,
the app's 5 s polls would be 0.25 s, 200 requests a second for 50 users, which would measure
this machine rather than the design. Timestamps come from the job documents (`createdAt`,
`finishedAt`, each slide's `queuedAt`, `startedAt`, `completedAt`); duplicates from the Images
server's log (more than one answer 200 for one slide's prompt marker).

Cost per story at list prices, as bench/cost.py prices them (its constants): the run's own state
transitions, Lambda invocations (REPORT lines, init durations included, the image function's
wait on the provider scaled back to real seconds), SQS requests (Step Functions' sends from the
histories, the event source's receives and deletes; its empty long polls are a cost of the
deployment, not of a story: see bench/cost.py), Firestore reads and writes (metered at the
emulator) and S3; plus the app's polls every 5 s over the job's real-equivalent duration (a
warm JobStatus invocation, its Firestore reads and the authorizer's calls once its cache
expires, measured after the run). OpenAI's images are excluded.

Exit status 1 when a slide failed, a job got stuck, an image was generated twice or the makespan
is more than 1.25 x the limit.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
import requests.adapters

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "functions")]

from bench.common import BENCH_IMAGE_SIZE, Report, Reports, bench_config, specs  # noqa: E402
from bench.cost import (  # noqa: E402
    API_GATEWAY_REST_PER_REQUEST,
    FIRESTORE_PER_DELETE,
    FIRESTORE_PER_READ,
    FIRESTORE_PER_WRITE,
    IMAGE_FUNCTION,
    LAMBDA_PER_GB_SECOND,
    LAMBDA_PER_REQUEST,
    POLLS_MEASURED,
    S3_PER_GB_MONTH,
    S3_PER_GET,
    S3_PER_PUT,
    SQS_PER_REQUEST,
    STEP_FUNCTIONS_PER_TRANSITION,
)
from infra.function_catalogue import function_name  # noqa: E402
from infra.rest_api import AUTHORIZER_CACHE_SECONDS  # noqa: E402
from local_stack.firestore_meter import FirestoreMeter  # noqa: E402
from local_stack.stack import LocalStack  # noqa: E402
from statemachine.definition import RETRY_DEFAULTS  # noqa: E402
from storyimages import defaults  # noqa: E402
from storyimages.adapters.stepfunctions_workflow import StepFunctionsWorkflow  # noqa: E402
from tests.api_client import RUNNING, ApiClient  # noqa: E402
from tests.chaos.invariants import Job, check, marker  # noqa: E402
from tests.stories import story_document  # noqa: E402

DEFAULT_FACTOR = 20.0
TIER_3_IPM = 50  # gpt-image-2 images per minute at OpenAI's usage tier 3 (docs/deploy.md)
LATENCY_CAP = 3  # x the median latency
RATIO_LIMIT = 1.25  # the makespan may take this much more than the physical limit
# The app's polling and what a story's images weigh, as bench/cost.py assumes them.
POLL_SECONDS = 5.0
IMAGE_MB = 1.6
RETENTION_MONTHS = 3.0
WATCH_SECONDS = 1.0  # how often the run asks Step Functions which executions still run
START_ATTEMPTS = 4  # a user tries its start this many times (1 s, 2 s, 3 s apart)
START_RATE = 5.0  # users starting a second, evenly (real seconds: see the docstring)


def scaled_retries(factor: float) -> dict[str, int]:
    """The production retry budget in scaled time: intervals and caps / F, in whole seconds (at
    least 1), attempts as they are. The image task's timeout (a day) is a guard, left alone."""
    return {
        key: max(1, round(value / factor)) if key.endswith(("IntervalSeconds", "MaxDelaySeconds")) else value
        for key, value in RETRY_DEFAULTS.items()
    }


def main() -> int:
    began = time.monotonic()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=50, help="users, each starting one story")
    parser.add_argument("--slides", type=int, default=10, help="slides a story")
    parser.add_argument("--latency", type=float, default=30.0, help="median image latency, real seconds")
    parser.add_argument("--factor", type=float, default=DEFAULT_FACTOR, help="the time scale F")
    parser.add_argument("--ipm", type=float, default=TIER_3_IPM, help="the provider's images per minute, real")
    parser.add_argument("--concurrency", type=int, default=None, help="deploy this imageConcurrency")
    parser.add_argument("--spread", type=float, default=0.25, help="the latency's log-normal sigma")
    parser.add_argument("--seed", type=int, default=0, help="the latency draws' seed")
    parser.add_argument(
        "--window",
        type=float,
        default=None,
        help=f"the users start over these seconds (default: {START_RATE:g} a second)",
    )
    args = parser.parse_args()
    if args.stories < 1 or args.slides < 1 or args.factor <= 0 or args.latency <= 0 or args.ipm <= 0:
        parser.error("--stories, --slides, --factor, --latency and --ipm must be positive")

    factor: float = args.factor
    pause = round(defaults.DELAY_SECONDS / factor)
    latency = args.latency / factor
    overrides: dict[str, Any] = {"delaySeconds": pause}
    if args.concurrency is not None:
        overrides["imageConcurrency"] = args.concurrency
    retries = scaled_retries(factor)
    config = replace(bench_config(overrides), retries=retries)
    concurrency = config.deployment.image_concurrency
    if config.deployment.max_concurrency != 1:
        parser.error("the limit assumes one image at a time per story (maxConcurrency 1)")
    ipm = args.ipm * factor
    total = args.stories * args.slides
    limits = {
        "provider": total / (ipm / 60),
        "workers": total * latency / concurrency,
        "one story": args.slides * latency + (args.slides - 1) * pause,
    }
    limit = max(limits.values())
    deadline_seconds = 3 * limit + 120

    print(
        f"scaled time F={factor:g}: image latency median {latency:.2f} s (real {args.latency:g} s, spread"
        f" {args.spread:g}, cap {LATENCY_CAP * latency:.2f} s), pause {pause} s (delaySeconds"
        f" {defaults.DELAY_SECONDS} s / F), provider {ipm:g} images/min (real {args.ipm:g}, burst"
        f" {max(1, round(args.ipm))}), imageConcurrency {concurrency}, {BENCH_IMAGE_SIZE} images"
    )
    print(
        "scaled retries (s): "
        + ", ".join(f"{k.removesuffix('Seconds')} {v}" for k, v in retries.items() if k.endswith("Seconds"))
    )
    print(
        f"physical limit {limit:.1f} s scaled ({limit * factor:.0f} s real): provider {limits['provider']:.1f},"
        f" workers {limits['workers']:.1f}, one story {limits['one story']:.1f}; deadline {deadline_seconds:.0f} s"
    )
    sys.stdout.flush()

    worker = function_name(IMAGE_FUNCTION)
    with LocalStack(config) as stack:
        assert stack.images is not None and stack.image_source is not None
        users = [f"load-user-{i}" for i in range(args.stories)]
        stories = [f"load-{uuid.uuid4().hex[:12]}" for _ in users]
        batch = stack.db.batch()
        for user, story in zip(users, stories, strict=True):
            document = story_document(args.slides, owner=user)
            for number, slide in enumerate(document["slides"], start=1):
                slide["imagePrompt"] = f"Juniper in scene {number} {marker(story, number)}"
            batch.set(stack.db.collection("stories").document(story), document)
        batch.commit()
        tokens = [stack.token(user) for user in users]
        session = requests.Session()
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=args.stories))
        _warm_up(stack, session, config.deployment.image_concurrency)
        stack.images.set_limits(ipm, burst=max(1, round(args.ipm)))
        stack.images.set_latency(latency, args.spread, LATENCY_CAP * latency, args.seed)
        requests_before = len(stack.images.requests())
        reports = Reports(stack)
        calls_before = len(stack.lambdas.invocations)
        source = stack.image_source
        source_before = (source.messages_delivered, source.messages_deleted, source.throttles)
        print(f"stack up in {time.monotonic() - began:.1f} s real; starting {args.stories} stories", flush=True)

        with FirestoreMeter(stack.firestore) as meter:
            window = args.stories / START_RATE if args.window is None else args.window
            started = _start_all(stack.url, session, stories, tokens, args.slides, window)
            jobs, refused = started.jobs, started.refused
            stuck_ids = _watch(stack, [job.job_id for job in jobs], deadline_seconds)
            quiet = time.monotonic() + 30  # the last worker answered before returning: let it end
            while stack.lambdas.in_flight(worker) and time.monotonic() < quiet:
                time.sleep(0.05)
        run_reports = reports.new()
        invocations = stack.lambdas.invocations[calls_before:]
        received, deleted, throttles = (
            after - before
            for after, before in zip(
                (source.messages_delivered, source.messages_deleted, source.throttles), source_before, strict=True
            )
        )

        apis = {
            job.job_id: ApiClient(stack.url, token, session)
            for job, token in zip(jobs, _tokens_of(jobs, stories, tokens), strict=True)
        }
        with FirestoreMeter(stack.firestore) as poll_meter:
            if jobs:
                for _ in range(POLLS_MEASURED):
                    apis[jobs[0].job_id].status(jobs[0].job_id)
        poll_reports = reports.new()
        for job in jobs:
            answer = apis[job.job_id].status(job.job_id)
            if answer.status_code == 200:
                job.data = answer.json()["data"]
        stuck = [job for job in jobs if job.job_id in stuck_ids or job.status in RUNNING or job.data is None]
        ended = [job for job in jobs if job not in stuck]
        findings = check(stack, ended, stuck)
        documents = {
            job.job_id: stack.db.collection("imageJobs").document(job.job_id).get().to_dict() or {} for job in jobs
        }
        sfn = stack.aws.client("stepfunctions")
        histories = {job.job_id: _history(sfn, stack.state_machine_arn, job.job_id) for job in jobs}
        image_requests = stack.images.requests()[requests_before:]
        rate_limited = int(stack.images.limits()["rateLimited"])
        peak = stack.lambdas.peak_in_flight(worker)
        functions = specs(stack)
        cold_functions = Counter(r.function for r in run_reports if r.init_seconds)

    wall = time.monotonic() - began

    # -- what happened -------------------------------------------------------------------
    failed_slides = len(findings.failed) + refused * args.slides
    duplicates = sum(1 for s in findings.slides if s.generations > 1)
    created = [_seconds(d["createdAt"]) for d in documents.values() if d.get("createdAt")]
    finished = [_seconds(d["finishedAt"]) for d in documents.values() if d.get("finishedAt")]
    makespan = (max(finished) - min(created)) if created and finished else math.inf
    ratio = makespan / limit
    first_images = sorted(
        _seconds(d["slides"]["1"]["completedAt"]) - _seconds(d["createdAt"])
        for d in documents.values()
        if d.get("slides", {}).get("1", {}).get("completedAt")
    )
    waits = sorted(
        sum(
            _seconds(s["startedAt"]) - _seconds(s["queuedAt"])
            for s in d.get("slides", {}).values()
            if s.get("startedAt") and s.get("queuedAt")
        )
        for d in documents.values()
    )
    busy = [
        _seconds(s["completedAt"]) - _seconds(s["startedAt"])
        for d in documents.values()
        for s in d.get("slides", {}).values()
        if s.get("startedAt") and s.get("completedAt")
    ]
    transitions = sum(1 for h in histories.values() for e in h if e["type"].endswith("StateEntered"))
    sends = sum(
        1
        for h in histories.values()
        for e in h
        if e["type"] == "TaskScheduled" and e.get("taskScheduledEventDetails", {}).get("resourceType") == "sqs"
    )
    answered = [r for r in image_requests if r["status"] == 200]
    held = sum(float(r["heldSeconds"]) for r in image_requests)
    image_runs = [r for r in run_reports if r.function == IMAGE_FUNCTION]

    # -- cost per story (bench/cost.py's prices) -----------------------------------------
    def gb_seconds(report: Report, seconds: float) -> float:
        return functions[report.function].memory_mb / 1024 * seconds

    durations_real = [
        (_seconds(d["finishedAt"]) - _seconds(d["createdAt"])) * factor
        for d in documents.values()
        if d.get("finishedAt") and d.get("createdAt")
    ]
    polls = sum(math.ceil(seconds / POLL_SECONDS) for seconds in durations_real)
    authorizer_calls = sum(math.ceil(seconds / AUTHORIZER_CACHE_SECONDS) for seconds in durations_real)
    poll = _warm(poll_reports, "JobStatus") or _warm(run_reports, "JobStatus")
    authorizer = _warm(run_reports, "Authorizer")
    image_memory = functions[IMAGE_FUNCTION].memory_mb / 1024
    run_gb_s = sum(gb_seconds(r, r.billed_seconds + r.init_seconds) for r in run_reports)
    # The image function waited `held` scaled seconds on the provider; in production, F times that.
    run_gb_s += image_memory * held * (factor - 1)
    poll_gb_s = polls * gb_seconds(poll, poll.billed_seconds) if poll else 0.0
    authorizer_gb_s = authorizer_calls * gb_seconds(authorizer, authorizer.billed_seconds) if authorizer else 0.0
    lambda_requests = len(invocations) + polls + authorizer_calls
    reads_per_poll = poll_meter.billed_reads / POLLS_MEASURED if jobs else 0.0
    edits = sum(1 for r in answered if r["endpoint"] == "edits")
    completed = sum(1 for s in findings.slides if s.status == "completed")
    n = max(1, len(jobs))
    per_story = {
        "Step Functions": transitions * STEP_FUNCTIONS_PER_TRANSITION,
        "Lambda": (run_gb_s + poll_gb_s + authorizer_gb_s) * LAMBDA_PER_GB_SECOND
        + lambda_requests * LAMBDA_PER_REQUEST,
        "SQS": (sends + received + deleted) * SQS_PER_REQUEST,
        "API Gateway": (len(jobs) + polls) * API_GATEWAY_REST_PER_REQUEST,
        "Firestore": (meter.billed_reads + polls * reads_per_poll) * FIRESTORE_PER_READ
        + meter.document_writes * FIRESTORE_PER_WRITE
        + meter.document_deletes * FIRESTORE_PER_DELETE,
        "S3": (completed + total) * S3_PER_PUT
        + (edits + completed) * S3_PER_GET
        + completed * IMAGE_MB / 1024 * RETENTION_MONTHS * S3_PER_GB_MONTH,
    }
    per_story = {service: dollars / n for service, dollars in per_story.items()}

    # -- the figures -----------------------------------------------------------------------
    answered_within = max(started.answered) - min(started.answered) if started.answered else 0.0
    latencies = sorted(started.seconds) or [0.0]
    print(
        f"stories: {len(jobs)} started ({refused} refused, {started.retried} starts retried), answered within"
        f" {answered_within:.1f} s; start latency p50 {_percentile(latencies, 50):.2f} s, max {latencies[-1]:.2f} s"
    )
    for function in ("Authorizer", "StartGeneration"):
        warm_runs = sorted(r.seconds for r in run_reports if r.function == function and not r.init_seconds)
        cold_runs = [r for r in run_reports if r.function == function and r.init_seconds]
        if warm_runs:
            print(
                f"  {function}: {len(warm_runs)} warm invocations, p50 {_percentile(warm_runs, 50):.2f} s, max"
                f" {warm_runs[-1]:.2f} s; {len(cold_runs)} cold, init mean"
                f" {statistics.mean(r.init_seconds for r in cold_runs) if cold_runs else 0:.1f} s"
            )
    print(f"slides: {total} ({args.slides} a story), images answered 200: {len(answered)}")
    print(f"failed slides: {failed_slides}")
    print(f"stuck jobs: {len(stuck)} (not ended within {deadline_seconds:.0f} s scaled)")
    print(f"images generated more than once: {duplicates}")
    print(
        f"makespan: {makespan:.1f} s scaled ({makespan * factor:.0f} s real-equivalent), {ratio:.2f}x the physical"
        f" limit of {limit:.1f} s ({max(limits, key=limits.__getitem__)} bound)"
    )
    if first_images:
        p50, p95 = _percentile(first_images, 50), _percentile(first_images, 95)
        print(
            f"time to first image per story: p50 {p50:.1f} s, p95 {p95:.1f} s scaled"
            f" ({p50 * factor:.0f} s, {p95 * factor:.0f} s real)"
        )
    if waits:
        median = statistics.median(waits)
        jain = sum(waits) ** 2 / (len(waits) * sum(w * w for w in waits)) if any(waits) else 1.0
        print(
            f"fairness, per-story queue wait (sum of startedAt - queuedAt): min {waits[0]:.1f}, median"
            f" {median:.1f}, max {waits[-1]:.1f} s scaled; max/median {waits[-1] / median if median else 0:.2f},"
            f" Jain's index {jain:.3f}"
        )
    print(f"peak images in flight: {peak} (imageConcurrency {concurrency})")
    print(f"429s from the provider: {rate_limited}")
    print(f"Step Functions transitions per slide: {transitions / total:.1f} ({transitions} in all)")
    print(
        f"queue requests per slide: {(sends + received + deleted) / total:.1f} ({sends} SendMessage,"
        f" {received} messages received, {deleted} deleted; throttled invokes {throttles}; the event"
        " source's empty long polls not counted)"
    )
    if image_runs and busy:
        mean_run = statistics.mean(r.seconds for r in image_runs)
        timeline = _timeline(documents, jobs, answered)
        print(
            f"per image (means, seconds here): worker invocation {mean_run:.2f} = before startedAt and after"
            f" completedAt {mean_run - statistics.mean(busy):.2f} + startedAt->provider {timeline['before']:.2f}"
            f" + provider's hold {timeline['hold']:.2f} + provider's answer->completedAt {timeline['after']:.2f};"
            f" previous slide's completedAt->queuedAt (Step Functions, QueueSlideImage) {timeline['requeue']:.2f};"
            f" queue wait {timeline['wait']:.2f}"
        )
        slot_seconds = concurrency * makespan
        busy_share, idle_queued, idle_empty = _slots(documents, concurrency)
        print(
            f"worker slots over the makespan (job documents): busy startedAt->completedAt {busy_share:.0%}, idle"
            f" while slides waited {idle_queued:.0%} ({idle_queued * slot_seconds / total:.2f} s per image),"
            f" idle with the queue empty {idle_empty:.0%} (the ramp and the tail)"
        )
        print(
            f"image worker: {len(image_runs)} invocations, {sum(r.seconds for r in image_runs) / slot_seconds:.0%} of"
            f" concurrency x makespan ({slot_seconds:.0f} slot-s) in invocations, the rest idle"
            f" ({(slot_seconds - sum(r.seconds for r in image_runs)) / len(image_runs):.2f} s per image);"
            f" cold starts {sum(cold_functions.values())} (init {sum(r.init_seconds for r in run_reports):.1f} s"
            f" in all): {dict(cold_functions)}"
        )
        hold = statistics.mean(float(r["heldSeconds"]) for r in answered) if answered else latency
        invoked = sum(r.seconds for r in image_runs)
        print(
            f"makespan {makespan:.1f} s = images x L / c {total * latency / concurrency:.1f} + the provider's mean"
            f" over its median {(hold - latency) * len(image_runs) / concurrency:.1f} + the worker's time beyond"
            f" the provider {(invoked - hold * len(image_runs)) / concurrency:.1f} + worker slots idle"
            f" {(slot_seconds - invoked) / concurrency:.1f} (+ {(len(image_runs) - total) * latency / concurrency:.1f}"
            " for images tried again)"
        )
    print(
        f"cost per story (USD, list prices, OpenAI excluded): {sum(per_story.values()):.5f} ("
        + ", ".join(f"{service} {dollars:.5f}" for service, dollars in per_story.items())
        + f"); app polls every {POLL_SECONDS:g} s real assumed: {polls / n:.0f} a story"
    )
    print(f"wall clock: {wall:.0f} s, stack startup included")
    print(
        f"load: {len(jobs) + refused} stories, {total} slides, {failed_slides} failed, {len(stuck)} stuck,"
        f" {duplicates} duplicates, makespan {ratio:.2f}x the limit"
    )
    return 1 if failed_slides or stuck or duplicates or ratio > RATIO_LIMIT else 0


@dataclass
class Starts:
    jobs: list[Job] = field(default_factory=list)
    refused: int = 0  # users whose story never started
    retried: int = 0  # starts tried again (a 5xx or no answer), as the app does
    seconds: list[float] = field(default_factory=list)  # each user's first request to its job's answer
    answered: list[float] = field(default_factory=list)  # monotonic


def _start_all(
    url: str, session: requests.Session, stories: list[str], tokens: list[str], slides: int, window: float
) -> Starts:
    """The users start their stories evenly over `window` seconds (threads released together,
    each then waiting its turn). A start that fails with a 5xx or no answer is sent again with
    the same Idempotency-Key, as the app would: the API answers the job that key started."""
    gate = threading.Barrier(len(stories))
    lock = threading.Lock()
    starts = Starts()

    def user(turn: int, story: str, token: str) -> None:
        api = ApiClient(url, token, session)
        key = {"Idempotency-Key": uuid.uuid4().hex}
        gate.wait()
        time.sleep(turn * window / len(stories))
        sent = time.monotonic()
        for attempt in range(START_ATTEMPTS):
            if attempt:
                with lock:
                    starts.retried += 1
                time.sleep(attempt)
            try:
                answer = api.start(story, headers=key)
            except requests.RequestException as error:
                print(f"  start of {story} got no answer: {error}", flush=True)
                continue
            if answer.status_code in (200, 202):
                with lock:
                    starts.jobs.append(Job(story, str(answer.json()["data"]["masterJobId"]), slides))
                    starts.answered.append(time.monotonic())
                    starts.seconds.append(time.monotonic() - sent)
                return
            print(f"  start of {story}: {answer.status_code} {answer.text[:160]}", flush=True)
            if answer.status_code < 500:
                break
        with lock:
            starts.refused += 1

    threads = [
        threading.Thread(target=user, args=(turn, story, token), daemon=True)
        for turn, (story, token) in enumerate(zip(stories, tokens, strict=True))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return starts


def _warm_up(stack: LocalStack, session: requests.Session, stories: int) -> None:
    """`stories` one-slide stories through the API at once before the run, so that as many
    environments of each function on a story's path are warm as steady traffic would keep (the
    image function's: one per unit of concurrency), and the run's starts do not all queue behind
    cold starts on this machine's few cores. Not counted in the figures."""
    users = [f"load-warm-up-{i}" for i in range(stories)]
    ids = [f"load-warm-up-{uuid.uuid4().hex[:8]}" for _ in users]
    for user, story in zip(users, ids, strict=True):
        stack.db.collection("stories").document(story).create(story_document(1, owner=user))
    warm = _start_all(stack.url, session, ids, [stack.token(user) for user in users], 1, 0.0)
    if warm.refused or _watch(stack, [job.job_id for job in warm.jobs], 180):
        raise SystemExit("the warm-up stories did not start and end within 180 s")
    ApiClient(stack.url, stack.token(users[0]), session).status(warm.jobs[0].job_id)


def _timeline(
    documents: dict[str, dict[str, Any]], jobs: list[Job], answered: list[dict[str, Any]]
) -> dict[str, float]:
    """Where a slide's time goes, mean seconds: `before` (the worker's startedAt to its request
    reaching the provider), `hold` (the provider's latency), `after` (the provider's answer to
    completedAt: rendering, transfer, storing, recording), `requeue` (the previous slide's
    completedAt to this one's queuedAt: the task's answer, Step Functions, QueueSlideImage) and
    `wait` (queuedAt to startedAt)."""
    last = {r["prompt"]: r for r in answered if r["prompt"]}  # the answer each prompt got last
    parts: dict[str, list[float]] = {name: [] for name in ("before", "hold", "after", "requeue", "wait")}
    for job in jobs:
        slides = documents.get(job.job_id, {}).get("slides", {})
        for number in range(1, job.slides + 1):
            slide = slides.get(str(number), {})
            if not (slide.get("startedAt") and slide.get("completedAt") and slide.get("queuedAt")):
                continue
            started, done = _seconds(slide["startedAt"]), _seconds(slide["completedAt"])
            parts["wait"].append(started - _seconds(slide["queuedAt"]))
            previous = slides.get(str(number - 1), {})
            if previous.get("completedAt"):
                parts["requeue"].append(_seconds(slide["queuedAt"]) - _seconds(previous["completedAt"]))
            answer = next((r for prompt, r in last.items() if marker(job.story_id, number) in prompt), None)
            if answer is not None:
                parts["before"].append(answer["at"] - started)
                parts["hold"].append(answer["heldSeconds"])
                parts["after"].append(done - answer["at"] - answer["heldSeconds"])
    return {name: statistics.mean(values) if values else math.nan for name, values in parts.items()}


def _slots(documents: dict[str, dict[str, Any]], concurrency: int) -> tuple[float, float, float]:
    """Of concurrency x makespan, the shares with a slide between startedAt and completedAt, idle
    while some slide was queued (queuedAt to startedAt), and idle with none queued."""
    events: list[tuple[float, int, int]] = []  # (time, change in queued, change in busy)
    for document in documents.values():
        for slide in document.get("slides", {}).values():
            if slide.get("queuedAt") and slide.get("startedAt") and slide.get("completedAt"):
                events += [
                    (_seconds(slide["queuedAt"]), 1, 0),
                    (_seconds(slide["startedAt"]), -1, 1),
                    (_seconds(slide["completedAt"]), 0, -1),
                ]
    created = [_seconds(d["createdAt"]) for d in documents.values() if d.get("createdAt")]
    finished = [_seconds(d["finishedAt"]) for d in documents.values() if d.get("finishedAt")]
    if not events or not created or not finished:
        return math.nan, math.nan, math.nan
    events.sort()
    now, queued, busy = min(created), 0, 0
    totals = [0.0, 0.0, 0.0]
    for at, dq, db in [*events, (max(finished), 0, 0)]:
        span = max(0.0, at - now)
        idle = max(0, concurrency - busy)
        totals[0] += span * min(busy, concurrency)
        totals[1 if queued else 2] += span * idle
        now, queued, busy = max(now, at), queued + dq, busy + db
    whole = sum(totals)
    return totals[0] / whole, totals[1] / whole, totals[2] / whole


def _tokens_of(jobs: list[Job], stories: list[str], tokens: list[str]) -> list[str]:
    """Each job's owner's token."""
    by_story = dict(zip(stories, tokens, strict=True))
    return [by_story[job.story_id] for job in jobs]


def _watch(stack: LocalStack, job_ids: list[str], timeout: float) -> set[str]:
    """Wait, asking Step Functions only (its running executions, one listing a second: the run's
    own requests must not load the one process that serves Step Functions, SQS and S3), until
    every job's execution ended; those that did not. A job's execution exists once its start
    was answered."""
    sfn = stack.aws.client("stepfunctions")
    pending = set(job_ids)
    deadline = time.monotonic() + timeout
    next_note = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        running: set[str] = set()
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=stack.state_machine_arn, statusFilter="RUNNING"
        ):
            running.update(execution["name"] for execution in page["executions"])
        pending &= running
        if time.monotonic() > next_note:
            print(f"  ... {len(pending)} jobs running", flush=True)
            next_note += 30
        if pending:
            time.sleep(WATCH_SECONDS)
    return pending


def _history(sfn: Any, machine: str, job_id: str) -> list[dict[str, Any]]:
    arn = StepFunctionsWorkflow(machine).execution_arn(job_id)
    events: list[dict[str, Any]] = []
    token = None
    while True:
        page = sfn.get_execution_history(executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {}))
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            return events


def _warm(reports: list[Report], function: str) -> Report | None:
    """The median warm invocation of `function`, if any."""
    warm = sorted((r for r in reports if r.function == function and not r.init_seconds), key=lambda r: r.billed_seconds)
    return warm[len(warm) // 2] if warm else None


def _seconds(value: datetime) -> float:
    return value.timestamp()


def _percentile(values: list[float], percent: float) -> float:
    """Nearest rank, of sorted `values`."""
    return values[max(0, math.ceil(percent / 100 * len(values)) - 1)]


if __name__ == "__main__":
    sys.exit(main())
