"""Business metrics as the deployed functions publish them: one scenario on the local stack makes
every metric happen, and the functions' own log output (what CloudWatch would read) is parsed as
embedded metric format: each metric under our namespace, with its unit and its dimension sets,
and never a job id as a dimension. Prints one EMF line of each metric."""

from __future__ import annotations

import json
from typing import Any

from infra.function_catalogue import function_specs
from local_stack.images_server import CONTENT_POLICY_MARKER
from storyimages.business_metrics import DIMENSIONS, NAMESPACE, SERVICE, SERVICE_DIMENSION, Metric, WebhookOutcome
from tests.emf import dimension_names, emf_documents, publications
from tests.waiting import wait_until
from tests.webhook_receiver import WebhookReceiver

UNITS = {Metric.IMAGE_LATENCY: "Milliseconds", Metric.TIME_QUEUED: "Milliseconds"}


def emf_since(stack: Any, since: dict[str, int]) -> list[dict[str, Any]]:
    """The EMF documents every function printed since the line counts `since`."""
    return [document for name, start in since.items() for document in emf_documents(stack.logs(name)[start:])]


def test_given_jobs_that_complete_fail_slides_hit_rate_limits_and_webhooks_when_they_run_then_every_metric_is_published(  # type: ignore[no-untyped-def]
    stack, api, new_story, images
) -> None:
    since = {name: len(stack.logs(name)) for name in function_specs(stack.config.deployment)}
    # Given a story whose second slide the image service refuses and whose third it rate-limits
    # once, with a receiver that never takes its webhook; and a one-slide story whose receiver does
    images.set_faults([{"kind": "rate_limit", "match": "scene 3", "times": 1, "retryAfter": 0}])
    troubled = new_story(3, prompts={2: f"Juniper in scene 2 {CONTENT_POLICY_MARKER}", 3: "Juniper in scene 3"})
    plain = new_story(1)
    with WebhookReceiver(answers=[500] * 50) as refusing, WebhookReceiver() as taking:
        # When both are started and polled to their ends, and every delivery is over
        first = api.start(troubled, webhookUrl=refusing.url)
        second = api.start(plain, webhookUrl=taking.url)
        assert (first.status_code, second.status_code) == (202, 202), (first.text, second.text)
        job_ids = {first.json()["data"]["masterJobId"], second.json()["data"]["masterJobId"]}
        ended = {api.wait(job_id)["masterJob"]["status"] for job_id in job_ids}
        taking.wait_for(1)

        def every_metric_published() -> bool:
            documents = emf_since(stack, since)
            outcomes = {p.document.get("outcome") for p in publications(documents, Metric.WEBHOOK_DELIVERIES)}
            return all(publications(documents, m) for m in Metric) and WebhookOutcome.GAVE_UP in outcomes

        wait_until(every_metric_published, "every metric, the gave-up webhook included", 60)
    documents = emf_since(stack, since)

    # Then each metric is published under our namespace with its unit and the service dimension,
    # the dimensioned ones also by their own dimension
    assert ended == {"completed", "completed_with_errors"}
    for metric in Metric:
        found = publications(documents, metric)
        print(json.dumps(found[0].document, separators=(",", ":")))
        dimension = DIMENSIONS.get(metric)
        expected = [[SERVICE_DIMENSION]] + ([[SERVICE_DIMENSION, dimension]] if dimension else [])
        for publication in found:
            assert publication.namespace == NAMESPACE
            assert publication.unit == UNITS.get(metric, "Count"), metric
            assert publication.dimensions == expected, metric
            assert publication.document[SERVICE_DIMENSION] == SERVICE
    # ... with the values this scenario made
    values = {
        metric: {p.document.get(DIMENSIONS[metric]) for p in publications(documents, metric)} for metric in DIMENSIONS
    }
    assert values[Metric.JOBS_ENDED] == {"completed", "completed_with_errors"}
    assert values[Metric.SLIDES_FAILED] == {"IMAGE_REJECTED"}
    assert values[Metric.WEBHOOK_DELIVERIES] == {"delivered", "attempt_failed", "gave_up"}
    assert sum(sum(p.values) for p in publications(documents, Metric.SLIDES_COMPLETED)) == 3
    # ... and no job id is a dimension (each line carries them in no dimension at all)
    assert not {document[name] for document in documents for name in dimension_names([document])} & job_ids
