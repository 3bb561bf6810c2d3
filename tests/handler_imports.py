"""Import one Lambda handler in a fresh interpreter, as a cold start does, and report what it loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = (
    "authorizer",
    "start_generation",
    "job_status",
    "job_control",
    "generate_slide_image",
    "record_slide_failure",
    "finalize_job",
    "mark_job_failed",
    "deliver_webhook",
    "record_webhook_failure",
)
# Enough configuration for every handler's settings to load; nothing is contacted at import.
LAMBDA_ENV = {
    "FIREBASE_PROJECT_ID": "cold-start",
    "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",
    "IMAGES_BUCKET": "cold-start-bucket",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:cold-start",
    "WEBHOOK_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:cold-start-webhooks",
    "WEBHOOK_SECRET_ID": "cold-start-webhook",
    "OPENAI_API_KEY_SECRET_ID": "cold-start",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_PROBE = """
import json, sys, time
started = time.perf_counter()
import storyimages.handlers.{name}
print(json.dumps({{"seconds": time.perf_counter() - started,
                   "packages": sorted({{m.split('.')[0] for m in sys.modules}})}}))
"""


def cold_import(name: str, lambda_env: dict[str, str] | None = None) -> dict[str, object]:
    """Import handler `name` in a fresh interpreter with `lambda_env` (default LAMBDA_ENV) as its
    whole environment; a handler whose settings fail to load fails the import."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "functions"), **(lambda_env or LAMBDA_ENV)}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(name=name)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise AssertionError(f"storyimages.handlers.{name} did not import:\n{result.stderr[-2000:]}")
    return dict(json.loads(result.stdout))
