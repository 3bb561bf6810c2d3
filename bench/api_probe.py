"""Throw a catalogue of hostile and careless requests at the API on the local stack and print
what each one got: the record of what was tried against the API. No request may answer a
5xx: the output ends with how many did, and the exit status is 1 if any did.

    PYTHONPATH=functions:. .venv/bin/python bench/api_probe.py
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "functions")]

from bench.common import bench_config  # noqa: E402
from local_stack.identity import SigningKey  # noqa: E402
from local_stack.stack import LocalStack  # noqa: E402
from tests.api_client import START, ApiClient  # noqa: E402
from tests.stories import story_document  # noqa: E402

# A three-slide job pausing this long between images runs for 20 s; without pauses it ends in 1 s.
RUNNING_JOB_DELAY_SECONDS = 10
MASTER_JOB = "/api/images/master-job"


def main() -> int:
    with LocalStack(bench_config()) as stack:
        for story_id, uid in (("probe-story", "user-1"), ("probe-race", "user-1"), ("other-story", "user-2")):
            stack.db.collection("stories").document(story_id).create(story_document(3, owner=uid))
        stack.db.collection("stories").document("probe-idem").create(story_document(1))
        stack.db.collection("stories").document("probe-empty").create({"ownerId": "user-1", "slides": []})
        # A slide text Firestore holds as bytes (a Blob), not as a string.
        stack.db.collection("stories").document("probe-bytes").create(
            {"ownerId": "user-1", "slides": [{"text": "A fox wakes."}, {"text": b"A fox naps."}]}
        )
        owner, stranger = ApiClient(stack.url, stack.token("user-1")), ApiClient(stack.url, stack.token("user-2"))
        anonymous = ApiClient(stack.url, None)
        now = int(time.time())
        forged = SigningKey.generate()
        forged.key_id = stack.identities.key.key_id
        # Pauses long enough that the job still runs when the probes that need a running job come.
        job = owner.start_job("probe-story", delaySeconds=RUNNING_JOB_DELAY_SECONDS)
        slide_job = f"{job}-slide-1"  # a slide job's id, where a master job's id goes
        as_json = owner.headers({"Content-Type": "application/json"})
        attempts: list[tuple[str, Any]] = [
            ("no Authorization header", lambda: anonymous.start("probe-story")),
            ("Basic credentials", lambda: _raw(stack, "POST", START, {"Authorization": "Basic dXNlcjpwdw=="})),
            ("Bearer garbage", lambda: ApiClient(stack.url, "garbage").start("probe-story")),
            (
                "expired token",
                lambda: ApiClient(stack.url, stack.token("user-1", exp=now - 60, iat=now - 3660)).start("probe-story"),
            ),
            (
                "forged signature, real key id",
                lambda: ApiClient(stack.url, forged.sign(stack.identities.claims("user-1"))).start("probe-story"),
            ),
            (
                "token for another project",
                lambda: ApiClient(
                    stack.url, stack.token("user-1", aud="other", iss="https://securetoken.google.com/other")
                ).start("probe-story"),
            ),
            (
                "unsigned token (alg none)",
                lambda: ApiClient(stack.url, ".".join(stack.token("user-1").split(".")[:2]) + ".").start("probe-story"),
            ),
            ("someone else's story", lambda: stranger.start("probe-story")),
            ("someone else's job: status", lambda: stranger.status(job)),
            ("someone else's job: cancel", lambda: stranger.cancel(job)),
            ("someone else's job: retry", lambda: stranger.retry(job)),
            ("unknown story", lambda: owner.start("no-such-story")),
            ("story id with a slash", lambda: owner.start("../../etc")),
            ("story id of 41 characters", lambda: owner.start("s" * 41)),
            ("story with no slides", lambda: owner.start("probe-empty")),
            ("story with a slide text stored as bytes", lambda: owner.start("probe-bytes")),
            (
                "malformed JSON",
                lambda: _raw(stack, "POST", START, owner.headers({"Content-Type": "application/json"}), "{oops"),
            ),
            (
                "duplicate key: storyId twice",
                lambda: _raw(stack, "POST", START, as_json, '{"storyId":"probe-story","storyId":"other-story"}'),
            ),
            (
                "duplicate key: delaySeconds twice",
                lambda: _raw(
                    stack, "POST", START, as_json, '{"storyId":"probe-idem","delaySeconds":0,"delaySeconds":60}'
                ),
            ),
            (
                "duplicate key in a nested object",
                lambda: _raw(stack, "POST", START, as_json, '{"storyId":"probe-idem","x":{"a":1,"a":2}}'),
            ),
            (
                "duplicate key in a cancel body",
                lambda: _raw(stack, "POST", f"{MASTER_JOB}/auto-gen-nothing-1/cancel", as_json, '{"a":1,"a":2}'),
            ),
            (
                "body that is not UTF-8",
                lambda: _raw(stack, "POST", START, owner.headers({"Content-Type": "application/json"}), b"\xff\xfe"),
            ),
            (
                "form-encoded body",
                lambda: _raw(
                    stack,
                    "POST",
                    START,
                    owner.headers({"Content-Type": "application/x-www-form-urlencoded"}),
                    "storyId=probe-story",
                ),
            ),
            (
                "64 KiB body",
                lambda: _raw(
                    stack,
                    "POST",
                    START,
                    owner.headers({"Content-Type": "application/json"}),
                    '{"storyId":"' + "x" * 65536 + '"}',
                ),
            ),
            ("unknown field", lambda: owner.start("probe-story", admin=True)),
            ("string where a boolean goes", lambda: owner.start("probe-story", useCharacterConsistency="true")),
            ("delaySeconds above the configured maximum", lambda: owner.start("probe-story", delaySeconds=3600)),
            ("size not allowed here", lambda: owner.start("probe-story", size="4096x4096")),
            (
                "webhook to the metadata service",
                lambda: owner.start("probe-story", webhookUrl="https://169.254.169.254/latest/meta-data/"),
            ),
            ("webhook to localhost", lambda: owner.start("probe-story", webhookUrl="https://localhost/hook")),
            ("webhook to 10.0.0.1", lambda: owner.start("probe-story", webhookUrl="https://10.0.0.1/hook")),
            (
                "webhook to ::ffff:127.0.0.1",
                lambda: owner.start("probe-story", webhookUrl="https://[::ffff:127.0.0.1]/hook"),
            ),
            ("webhook over plain http", lambda: owner.start("probe-story", webhookUrl="http://example.com/hook")),
            ("webhook with file:// scheme", lambda: owner.start("probe-story", webhookUrl="file:///etc/passwd")),
            ("start while the story's job runs", lambda: owner.start("probe-story")),
            ("Idempotency-Key reused for another body", lambda: _reuse_key(owner)),
            ("Idempotency-Key again, defaults named", lambda: _equivalent_key(owner)),
            ("retry a running job", lambda: owner.retry(job)),
            ("unknown route", lambda: _raw(stack, "GET", "/api/admin", owner.headers())),
            ("wrong method", lambda: _raw(stack, "DELETE", START, owner.headers())),
            ("job id with spaces", lambda: _raw(stack, "GET", f"{MASTER_JOB}/a%20b", owner.headers())),
            ("slide job id as a job id: status", lambda: owner.status(slide_job)),
            ("slide job id as a job id: cancel", lambda: owner.cancel(slide_job)),
            ("slide job id as a job id: retry", lambda: owner.retry(slide_job)),
            ("someone else's slide job id as a job id: status", lambda: stranger.status(slide_job)),
            ("someone else's slide job id as a job id: cancel", lambda: stranger.cancel(slide_job)),
            ("someone else's slide job id as a job id: retry", lambda: stranger.retry(slide_job)),
        ]
        print(f"{'attempt':<50}{'status':>7}  code")
        server_errors: list[str] = []
        for name, attempt in attempts:
            response = attempt()
            print(f"{name:<50}{response.status_code:>7}  {_code(response)}")
            if response.status_code >= 500:
                server_errors.append(name)
        summary, race_errors = _race(owner)
        print(f"{'20 identical starts at once':<50}{summary}")
        server_errors += ["20 identical starts at once"] * race_errors
        _settle(stack)
    print(f"5xx answers: {len(server_errors)} (over {len(attempts)} cases and 20 racing starts)")
    for name in server_errors:
        print(f"  5xx: {name}")
    return 1 if server_errors else 0


def _raw(stack: LocalStack, method: str, path: str, headers: dict[str, str], body: Any = None) -> requests.Response:
    return requests.request(method, f"{stack.url}{path}", headers=headers, data=body, timeout=30)


def _equivalent_key(client: ApiClient) -> requests.Response:
    """The same request twice under one key, the second naming the defaults the first was given
    (this stack pauses 0 s): the first job again, replayed."""
    client.start("probe-idem", headers={"Idempotency-Key": "probe-defaults"})
    return client.start(
        "probe-idem",
        headers={"Idempotency-Key": "probe-defaults"},
        delaySeconds=0,
        useCharacterConsistency=True,
        webhookUrl=None,
    )


def _reuse_key(client: ApiClient) -> requests.Response:
    client.start("probe-race", headers={"Idempotency-Key": "probe-key"})
    return client.start("probe-race", headers={"Idempotency-Key": "probe-key"}, useCharacterConsistency=False)


def _race(client: ApiClient) -> tuple[str, int]:
    """What 20 identical starts at once got, and how many answered 5xx."""
    client.wait(client.start("probe-race").json()["data"]["masterJobId"])
    # Each start function's environment serves one request at a time, so 20 at once need 20
    # environments: start them first (20 starts of a story that does not exist), or the cold
    # starts spread the race over longer than the first job takes, and a late start, after it
    # ended, rightly creates a second job.
    _at_once(lambda: client.start("no-such-story"))
    # The job pauses between images, so that it outlasts the 20 requests (two cores serve them).
    answers = _at_once(lambda: client.start("probe-race", delaySeconds=RUNNING_JOB_DELAY_SECONDS))
    failed = [a for a in answers if a.status_code >= 500]
    jobs = {a.json()["data"]["masterJobId"] for a in answers if a.ok}
    created = sum(a.status_code == 202 for a in answers)
    told = sum(a.status_code == 200 for a in answers)
    summary = f"  {created} created, {told} told 'already running', {len(jobs)} job id"
    if len(answers) != created + told:
        summary += ", " + ", ".join(f"{a.status_code} {_code(a)}" for a in answers if not 200 <= a.status_code <= 202)
    return summary, len(failed)


def _at_once(request: Callable[[], requests.Response], count: int = 20) -> list[requests.Response]:
    barrier, answers = threading.Barrier(count), []

    def send() -> None:
        barrier.wait()
        answers.append(request())

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _settle(stack: LocalStack, timeout: float = 120.0) -> None:
    """Let the jobs the probes started end before the stack stops under them."""
    sfn = stack.aws.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while sfn.list_executions(stateMachineArn=stack.state_machine_arn, statusFilter="RUNNING")["executions"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"executions still running after {timeout:.0f}s")
        time.sleep(0.2)


def _code(response: requests.Response) -> str:
    """The error's code; for a start that answered an existing job, which one it was."""
    try:
        body = response.json()
        if response.ok:
            data = body["data"]
            if data.get("idempotentReplay"):
                return "replayed"
            return "already running" if data.get("alreadyRunning") else "-"
        return str(body["error"]["code"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return "-" if response.ok else response.text[:40]


if __name__ == "__main__":
    sys.exit(main())
