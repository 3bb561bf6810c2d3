"""Measure what the workflow costs per slide on the local engine, with zero rate-limit pauses
and the local Images server drawing the smallest images gpt-image-2 takes (1024x640):

- wall time per slide and the orchestration overhead per slide (wall time not spent inside
  our handlers, as their REPORT lines time them: the engine, the Lambda invokes' round trip
  to the functions' own execution environments, and Wait/Map bookkeeping);
- execution history events and state transitions per slide (Step Functions bills transitions);
- Firestore commits and document reads per slide.

Per-slide figures are marginal: the difference between a long and a short story divided by
the difference in slides, so the per-job constant (start, finalize) is not smeared over them.

    make bench            # or: python bench/orchestration.py --small 2 --large 12 --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path[:0] = [
    str(Path(__file__).resolve().parents[1]),
    str(Path(__file__).resolve().parents[1] / "functions"),
]

from bench.common import BENCH_IMAGE_SIZE, Reports, bench_config  # noqa: E402
from local_stack.firestore_meter import FirestoreMeter  # noqa: E402
from local_stack.stack import LocalStack  # noqa: E402
from tests.stories import story_document  # noqa: E402
from tests.workflow_runs import start_job, wait_for  # noqa: E402


@dataclass
class Measure:
    slides: int
    wall: float
    in_handlers: float  # the handlers' own Duration, from their REPORT lines
    invoking: float  # the invokes as Step Functions waits for them, round trip included
    cold_starts: int
    events: int
    transitions: int
    commits: int
    reads: int


def measure(stack: LocalStack, slides: int) -> Measure:
    story_id = f"bench-{uuid.uuid4().hex[:10]}"
    stack.db.collection("stories").document(story_id).create(story_document(slides))
    before = len(stack.lambdas.invocations)
    reports = Reports(stack)
    with FirestoreMeter(stack.firestore) as meter:
        began = time.perf_counter()
        job_id = start_job(stack, story_id)
        run = wait_for(stack, job_id, timeout=300)
        wall = time.perf_counter() - began
    assert run.job.status.value == "completed", run.job.status
    invocations, reported = stack.lambdas.invocations[before:], reports.new()
    assert len(reported) == len(invocations), "an invocation without its REPORT line"
    return Measure(
        slides=slides,
        wall=wall,
        in_handlers=sum(r.seconds for r in reported),
        invoking=sum(i.seconds for i in invocations),
        cold_starts=sum(i.cold_start for i in invocations),
        events=len(run.history),
        transitions=sum(1 for e in run.history if e["type"].endswith("StateEntered")),
        commits=len(meter.commits_touching(f"imageJobs/{job_id}")),
        reads=len(meter.reads_touching(f"imageJobs/{job_id}")),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=2)
    parser.add_argument("--large", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with LocalStack(bench_config()) as stack:
        measure(stack, 1)  # warm: the handlers' cold starts are not orchestration
        pairs = [(measure(stack, args.small), measure(stack, args.large)) for _ in range(args.runs)]

    span = args.large - args.small

    def per_slide(attribute: str) -> list[float]:
        return [(getattr(large, attribute) - getattr(small, attribute)) / span for small, large in pairs]

    wall = per_slide("wall")
    overhead = [w - h for w, h in zip(wall, per_slide("in_handlers"), strict=True)]
    round_trip = [i - h for i, h in zip(per_slide("invoking"), per_slide("in_handlers"), strict=True)]
    cold = sum(m.cold_starts for pair in pairs for m in pair)
    print(
        f"stories of {args.small} and {args.large} slides, {args.runs} runs, zero waits, {BENCH_IMAGE_SIZE} images, "
        f"{cold} cold starts among the measured invocations"
    )
    print(f"{'per slide':<40}{'median':>10}{'min':>10}{'max':>10}")
    rows = [
        ("wall time (ms)", [1000 * w for w in wall]),
        ("orchestration overhead (ms)", [1000 * o for o in overhead]),
        ("  of which Lambda invoke round trip (ms)", [1000 * r for r in round_trip]),
        ("time in our handlers (ms)", [1000 * h for h in per_slide("in_handlers")]),
        ("execution history events", per_slide("events")),
        ("state transitions", per_slide("transitions")),
        ("Firestore commits", per_slide("commits")),
        ("Firestore document reads (RPCs)", per_slide("reads")),
    ]
    for name, values in rows:
        print(f"{name:<40}{statistics.median(values):>10.1f}{min(values):>10.1f}{max(values):>10.1f}")
    _small, large = pairs[-1]
    print(
        f"per job of {large.slides} slides: {large.events} history events, {large.transitions} transitions, "
        f"{large.commits} commits, {large.reads} reads, {large.wall:.2f}s wall"
    )


if __name__ == "__main__":
    main()
