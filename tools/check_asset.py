"""Import every Lambda handler from the bundled asset with the Lambda runtime's Python (3.12),
as a cold start would: proof that the asset carries what each handler needs, built for the
right interpreter and platform.

    make synth && .venv/bin/python -m tools.check_asset     # needs a python3.12 on PATH
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from tools.handler_environment import HANDLERS, LAMBDA_ENV  # noqa: E402


def lambda_python() -> str | None:
    """A real python3.12 (pyenv's shim needs a selected version; its installs do not)."""
    installed = sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    if installed:
        return str(installed[-1])
    found = shutil.which("python3.12")
    return found if found and "/shims/" not in found else None


def main() -> int:
    python = lambda_python()
    if python is None:
        print("no python3.12 on PATH: the asset check needs Lambda's Python", file=sys.stderr)
        return 2
    assets = sorted((ROOT / "cdk.out").glob("asset.*"), key=lambda p: p.stat().st_mtime)
    if not assets:
        print("no bundled asset in cdk.out: run `make synth` first", file=sys.stderr)
        return 2
    asset = assets[-1]
    failures = 0
    for name in HANDLERS:
        probe = (
            "import time; t = time.perf_counter(); "
            f"import storyimages.handlers.{name}; print(round((time.perf_counter() - t) * 1000))"
        )
        # -S: no site-packages of this interpreter, only the asset (as in Lambda, bar its boto3).
        result = subprocess.run(  # noqa: S603 (our own interpreter and asset)
            [python, "-S", "-s", "-c", probe],
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(asset), "PYTHONDONTWRITEBYTECODE": "1", **LAMBDA_ENV},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode == 0:
            print(f"{name:<24} imports in {result.stdout.strip():>5} ms")
        else:
            failures += 1
            print(f"{name:<24} FAILED: {result.stderr.strip().splitlines()[-1]}")
    print(f"asset {asset.name[:18]}…: {len(HANDLERS) - failures} of {len(HANDLERS)} handlers import with {python}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
