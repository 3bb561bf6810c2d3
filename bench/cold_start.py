"""Import time of each Lambda handler in a fresh interpreter (the part of a cold start our code
controls), median of several runs.

    .venv/bin/python bench/cold_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from tests.handler_imports import HANDLERS, cold_import  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{'handler':<24}{'import ms (median)':>20}{'min':>8}{'max':>8}  heavy packages")
    for name in HANDLERS:
        samples = [cold_import(name) for _ in range(args.runs)]
        millis = [1000 * float(s["seconds"]) for s in samples]  # type: ignore[arg-type]
        heavy = sorted(set(samples[0]["packages"]) & {"openai", "firebase_admin", "grpc", "boto3", "pydantic"})  # type: ignore[arg-type]
        print(f"{name:<24}{statistics.median(millis):>20.0f}{min(millis):>8.0f}{max(millis):>8.0f}  {', '.join(heavy)}")


if __name__ == "__main__":
    main()
