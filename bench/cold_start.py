"""Import time of each Lambda handler in a fresh interpreter (the part of a cold start our code
controls), median of several runs. Each handler imports with its function's environment in the
template (`infra.function_catalogue`; placeholders for the resources it names, nothing contacted:
tests/handler_imports.py). The memory column is the function's in the template: Lambda allots
CPU in proportion to memory (a full vCPU at 1,769 MB), so imports may take longer there.

    .venv/bin/python bench/cold_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "functions")]

from tests.handler_imports import cold_import  # noqa: E402
from tools.handler_environment import HANDLERS, SPECS  # noqa: E402

HEAVY = {"openai", "firebase_admin", "grpc", "boto3", "pydantic"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{'handler':<24}{'memory MB':>10}{'import ms (median)':>20}{'min':>8}{'max':>8}  heavy packages")
    for name in HANDLERS:
        samples = [_sample(name) for _ in range(args.runs)]
        millis = [1000 * seconds for seconds, _ in samples]
        heavy = sorted(samples[0][1] & HEAVY)
        print(
            f"{name:<24}{SPECS[name].memory_mb:>10}{statistics.median(millis):>20.0f}"
            f"{min(millis):>8.0f}{max(millis):>8.0f}  {', '.join(heavy)}"
        )


def _sample(name: str) -> tuple[float, set[str]]:
    """Seconds to import handler `name` cold, and the top-level packages it loaded."""
    result = cold_import(name)
    seconds, packages = result["seconds"], result["packages"]
    assert isinstance(seconds, float) and isinstance(packages, list)
    return seconds, {str(package) for package in packages}


if __name__ == "__main__":
    main()
