"""What 1,000 ten-slide stories cost on AWS and Firestore (OpenAI excluded), from what one job
actually does on the local engine: state transitions, Lambda invocations, Firestore document
writes and reads, S3 requests. Real OpenAI latency and the app's polling are assumptions,
printed with the result.

    .venv/bin/python bench/cost.py [--slides 10] [--image-seconds 30] [--poll-seconds 5]

Firestore is counted at the emulator, as Firestore bills it (local_stack/firestore_meter.py): a
write per document written, a read per document read by id and per document a query returns, at
least one read per query.

Prices: us-east-1 list prices and Firestore's multi-region (nam5) prices, November 2026;
check the pricing pages before relying on them.
"""

from __future__ import annotations

import argparse
import math
import sys
import uuid
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "functions")]

from infra.capabilities.functions import IMAGE_MEMORY_MB, MEMORY_MB  # noqa: E402
from local_stack.firestore_meter import FirestoreMeter  # noqa: E402
from local_stack.stack import LocalConfig, LocalStack  # noqa: E402
from tests.api_client import ApiClient  # noqa: E402
from tests.stories import story_document  # noqa: E402
from tests.workflow_runs import wait_for, wait_for_execution  # noqa: E402

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
    parser.add_argument("--delay-seconds", type=int, default=2)
    parser.add_argument("--poll-seconds", type=float, default=5.0, help="how often the app polls (the seed: 5 s)")
    parser.add_argument("--image-mb", type=float, default=1.6, help="a 1024x1024 PNG from the API (assumed)")
    parser.add_argument("--retention-months", type=float, default=3.0)
    args = parser.parse_args()

    with LocalStack(LocalConfig(delay_seconds=0, image_size="64x64", examples_dir=None)) as stack:
        story = f"cost-{uuid.uuid4().hex[:8]}"
        stack.db.collection("stories").document(story).create(story_document(args.slides, owner="user-1"))
        api = ApiClient(stack.url, stack.token("user-1"))
        calls_before = len(stack.lambdas.invocations)
        # Counted at the emulator: every Firestore RPC of the start, the workflow's Lambdas and the
        # authorizer, whichever process sends it; the wait asks Step Functions only.
        with FirestoreMeter(stack.firestore) as job_meter:
            job_id = api.start_job(story)
            wait_for_execution(stack, job_id)
        run = wait_for(stack, job_id)  # the history and the job, read outside the meter
        with FirestoreMeter(stack.firestore) as poll_meter:
            api.status(job_id)
        invocations = stack.lambdas.invocations[calls_before:]
        edits = sum(1 for r in stack.images.requests() if r["endpoint"] == "edits")

    transitions = sum(1 for e in run.history if e["type"].endswith("StateEntered"))
    duration = args.slides * args.image_seconds + (args.slides - 1) * args.delay_seconds
    polls = math.ceil(duration / args.poll_seconds)
    authorizer_calls = math.ceil(duration / 300) + 1  # results cached 5 minutes per token
    gb_seconds = 0.0
    for call in invocations:
        seconds = args.image_seconds if call.function_name.endswith("generate-slide-image") else call.seconds
        memory_mb = IMAGE_MEMORY_MB if call.function_name.endswith("generate-slide-image") else MEMORY_MB
        gb_seconds += memory_mb / 1024 * max(seconds, 0.001)
    api_lambda_seconds = 0.15  # a warm start or status call, measured locally well under this
    gb_seconds += MEMORY_MB / 1024 * api_lambda_seconds * (1 + polls + authorizer_calls)
    lambda_requests = len(invocations) + 1 + polls + authorizer_calls
    firestore_reads = job_meter.billed_reads + polls * poll_meter.billed_reads
    firestore_writes, firestore_deletes = job_meter.document_writes, job_meter.document_deletes
    s3_puts, s3_gets = args.slides, edits + args.slides  # the reference per edit; the app fetches each image once
    storage_gb_months = args.slides * args.image_mb / 1024 * args.retention_months

    per_story = {
        "Step Functions": transitions * STEP_FUNCTIONS_PER_TRANSITION,
        "Lambda": gb_seconds * LAMBDA_PER_GB_SECOND + lambda_requests * LAMBDA_PER_REQUEST,
        "API Gateway": (1 + polls) * API_GATEWAY_REST_PER_REQUEST,
        "Firestore": firestore_reads * FIRESTORE_PER_READ
        + firestore_writes * FIRESTORE_PER_WRITE
        + firestore_deletes * FIRESTORE_PER_DELETE,
        "S3": s3_puts * S3_PER_PUT + s3_gets * S3_PER_GET + storage_gb_months * S3_PER_GB_MONTH,
    }
    print(f"one {args.slides}-slide story, measured on the local engine:")
    print(f"  state transitions {transitions}, execution history events {len(run.history)}")
    print(
        f"  Lambda invocations by the workflow {len(invocations)}; Firestore document writes {firestore_writes}"
        f" in {len(job_meter.commits)} commits, deletes {firestore_deletes}"
    )
    by_id, queries = sum(len(r) for r in job_meter.reads), job_meter.queries
    print(
        f"  Firestore billed reads by the job {job_meter.billed_reads} ({by_id} documents by id in"
        f" {len(job_meter.reads)} reads, {len(queries)} queries returning {sum(queries)}), per poll"
        f" {poll_meter.billed_reads}"
    )
    print(
        f"assumed: {args.image_seconds:.0f} s per image, polls every {args.poll_seconds:.0f} s for {duration:.0f} s "
        f"({polls} polls), {args.image_mb} MB per image kept {args.retention_months:.0f} months"
    )
    print(f"\ncost of {args.stories:,} stories (USD, OpenAI excluded):")
    for service, dollars in per_story.items():
        print(f"  {service:<16}{dollars * args.stories:>10.2f}")
    print(f"  {'total':<16}{sum(per_story.values()) * args.stories:>10.2f}")


if __name__ == "__main__":
    main()
