"""Import one Lambda handler in a fresh interpreter, as a cold start does, and report what it
loaded, with its function's environment (`tools.handler_environment`)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tools.handler_environment import lambda_environment

ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import json, sys, time
started = time.perf_counter()
import storyimages.handlers.{name}
print(json.dumps({{"seconds": time.perf_counter() - started,
                   "packages": sorted({{m.split('.')[0] for m in sys.modules}}),
                   "modules": sorted(m for m in sys.modules if m.startswith("storyimages."))}}))
"""


def cold_import(name: str, lambda_env: Mapping[str, str] | None = None) -> dict[str, object]:
    """Import handler `name` in a fresh interpreter with `lambda_env` (default: its function's
    environment, `lambda_environment(name)`) as its whole environment; a handler whose settings
    fail to load fails the import."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT / "functions"),
        # As in Lambda, where Powertools' Tracer is on and patches the libraries it traces at import.
        "LAMBDA_TASK_ROOT": str(ROOT / "functions"),
        **(lambda_environment(name) if lambda_env is None else lambda_env),
    }
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
