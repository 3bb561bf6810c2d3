"""Logger, Tracer and Metrics: one of each per function, configured by the POWERTOOLS_* variables
the template gives it (service, log level, metrics namespace, what traces capture).

Handlers wear them as a decorator stack; adapters trace their calls with `tracer.capture_method`
(Firestore speaks gRPC, which X-Ray does not patch; the OpenAI SDK sends through `httpx2`, which
it does not patch either); AWS SDK calls (S3, Step Functions, Secrets Manager) and `requests`
(Google's certificates and tokens) are traced by patching those libraries. Outside Lambda (no
LAMBDA_TASK_ROOT) Powertools turns tracing off by itself."""

from __future__ import annotations

import warnings
from numbers import Number
from typing import cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from storyimages.business_metrics import DIMENSIONS, NAMESPACE, SERVICE, SERVICE_DIMENSION, Metric

TRACED_LIBRARIES = ("botocore", "requests")
# The keys that say which job a line is about (log keys, trace annotations, metric properties).
JOB_KEYS = ("masterJobId", "run", "slideNumber")

logger = Logger()
tracer = Tracer(patch_modules=TRACED_LIBRARIES)
# Named here, not read from the environment at import: a metric never fails for want of them, and
# the alarms read the same constants.
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# Many invocations count nothing on the handler's own line (a status read always does; a task
# often does not): normal here, not worth a warning in every cold start's log.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def count(metric: Metric, value: float = 1) -> None:
    """A count with the service as its only dimension, published when the handler returns."""
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=value)


def milliseconds(metric: Metric, seconds: float) -> None:
    """A duration, in milliseconds (what CloudWatch's percentiles read best), published when the
    handler returns; several in one invocation (a batch of slides) are all kept."""
    metrics.add_metric(name=metric, unit=MetricUnit.Milliseconds, value=round(seconds * 1000, 3))


def count_by(metric: Metric, value: str) -> None:
    """A count by its dimension (a status, an error code, an outcome), on a line of its own: one
    invocation may count several values (a batch of slides), and a line has one set of
    dimensions. Published twice in that line: with the service alone and with the dimension
    too, so an alarm can sum every value while a dashboard splits them."""
    dimension = DIMENSIONS[metric]
    line = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service=SERVICE)
    line.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    line.add_dimensions(**{SERVICE_DIMENSION: SERVICE, dimension: value})
    # The job it is about, as properties (never dimensions), so the line itself is found by job.
    current = logger.get_current_keys()
    for key in JOB_KEYS:
        if key in current:
            line.add_metadata(key=key, value=current[key])
    line.flush_metrics()


def about_job(job_id: str, *, run: int | None = None, slide_number: int | None = None) -> None:
    """Which job (run, slide) this invocation works on: keys on every log line that follows, and
    annotations on the trace, which X-Ray indexes (`annotation.masterJobId = "..."` finds a job's
    traces)."""
    logger.append_keys(masterJobId=job_id)
    tracer.put_annotation(key="masterJobId", value=job_id)
    for key, number in (("run", run), ("slideNumber", slide_number)):
        if number is not None:
            logger.append_keys(**{key: number})
            # int is a numbers.Number at run time; typeshed's ABC registration is not seen by mypy
            tracer.put_annotation(key=key, value=cast(Number, number))


def done_with_job() -> None:
    """The next work item of a batch is about another job: its keys must not carry over."""
    logger.remove_keys(list(JOB_KEYS))
