"""What the measuring scripts share: the stack they measure and what its Lambdas report.

The stack is deployed with the production defaults (`storyimages.defaults`, the ASL's retry
numbers) except: no rate-limit pauses, and the smallest images gpt-image-2 draws, which the local
Images server renders quickly. Every function runs in execution environments of its own, and
each invocation leaves Lambda's REPORT line in the function's log: the duration and init
duration read from it are the function's own time, without the local invoke's round trip.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.function_catalogue import FunctionSpec, function_specs
from local_stack.images_server import QUICK_SIZE
from local_stack.stack import LocalConfig, LocalStack, deployment
from statemachine.definition import RETRY_DEFAULTS

BENCH_IMAGE_SIZE = QUICK_SIZE

_REPORT = re.compile(
    r"^REPORT RequestId: (?P<request>\S+)\tDuration: (?P<duration>[\d.]+) ms\tBilled Duration: (?P<billed>\d+) ms"
    r".*?(?:\tInit Duration: (?P<init>[\d.]+) ms)?$"
)


def bench_config(overrides: Mapping[str, Any] | None = None) -> LocalConfig:
    """The deployment's defaults (not cdk.json) with no pauses, small images and `overrides`
    (by cdk.json key), the production retries, no example stories."""
    settings = {"delaySeconds": 0, "imageSize": BENCH_IMAGE_SIZE, **(overrides or {})}
    return LocalConfig(
        deployment=deployment(settings, cdk_json=None),
        retries=RETRY_DEFAULTS,
        examples_dir=None,
    )


def specs(stack: LocalStack) -> dict[str, FunctionSpec]:
    """The stack's functions as the template defines them, by logical name."""
    return function_specs(stack.config.deployment)


@dataclass(frozen=True)
class Report:
    """One invocation as its REPORT line states it."""

    function: str  # logical name: "GenerateSlideImage"
    seconds: float  # Duration
    billed_seconds: float  # Billed Duration
    init_seconds: float  # Init Duration, on the first invocation of an environment; else 0


class Reports:
    """The REPORT lines each function logs from now on: `reports.new()`."""

    def __init__(self, stack: LocalStack) -> None:
        self._stack = stack
        self._seen = {name: len(self._lines(name)) for name in specs(stack)}

    def new(self) -> list[Report]:
        """Every invocation reported since this object was made (or `new` last called)."""
        reports = []
        for name in specs(self._stack):
            lines = self._lines(name)
            for line in lines[self._seen.get(name, 0) :]:
                match = _REPORT.match(line)
                if match:
                    reports.append(
                        Report(
                            function=name,
                            seconds=float(match["duration"]) / 1000,
                            billed_seconds=int(match["billed"]) / 1000,
                            init_seconds=float(match["init"] or 0) / 1000,
                        )
                    )
            self._seen[name] = len(lines)
        return reports

    def _lines(self, name: str) -> list[str]:
        return [line for line in self._stack.logs(name) if line.startswith("REPORT ")]
