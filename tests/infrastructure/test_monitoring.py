"""Alarms on what users feel, from the functions' business metrics (storyimages.business_metrics)
and the start route's answers, and the dashboard that shows them."""

from __future__ import annotations

import json
from typing import Any

from infra.capabilities import monitoring
from infra.function_catalogue import SERVICE_NAME
from storyimages import business_metrics
from storyimages.api.routes import START_PATH
from storyimages.business_metrics import Dimension, Metric, WebhookOutcome
from tests.infrastructure.template_reading import resources

SERVICE = {"Name": business_metrics.SERVICE_DIMENSION, "Value": SERVICE_NAME}


def alarm(template: Any, name: str) -> dict[str, Any]:
    """The alarm made by Monitoring as `name` (its logical id is Monitoring<name><hash>)."""
    (found,) = [
        resource["Properties"]
        for logical_id, resource in resources(template, "AWS::CloudWatch::Alarm").items()
        if logical_id.startswith(f"Monitoring{name}") and len(logical_id) == len(f"Monitoring{name}") + 8
    ]
    return found


def topic_id(template: Any) -> str:
    (found,) = resources(template, "AWS::SNS::Topic")
    return found


def dashboard(template: Any) -> dict[str, Any]:
    (found,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = found["Properties"]["DashboardBody"]
    text = body if isinstance(body, str) else "".join(p if isinstance(p, str) else "<Ref>" for p in body["Fn::Join"][1])
    return dict(json.loads(text))


def widget(template: Any, title_start: str) -> dict[str, Any]:
    (found,) = [
        w["properties"]
        for w in dashboard(template)["widgets"]
        if str(w["properties"].get("title", "")).startswith(title_start)
    ]
    return found


def dimensions(metric: list[Any]) -> dict[str, str]:
    """A dashboard metric's dimensions: [namespace, name, dimension, value, ..., options]."""
    pairs = metric[2:-1]
    return dict(zip(pairs[::2], pairs[1::2], strict=True))


def test_the_slide_failure_rate_alarm_divides_failed_by_ended_slides_past_a_minimum_volume(template) -> None:
    found = alarm(template, "SlideFailureRate")
    metrics = {m["Id"]: m for m in found["Metrics"]}
    (rate,) = [m for m in found["Metrics"] if m["ReturnData"]]

    assert rate["Expression"] == (f"IF(ended >= {monitoring.SLIDE_FAILURE_MIN_SLIDES}, FILL(failed, 0) / ended, 0)")
    assert metrics["ended"]["Expression"] == "FILL(failed, 0) + FILL(completed, 0)"
    for metric_id, name in (("failed", Metric.SLIDES_FAILED), ("completed", Metric.SLIDES_COMPLETED)):
        stat = metrics[metric_id]["MetricStat"]
        # The aggregate series: the service alone, every error code summed.
        assert stat["Metric"] == {
            "Namespace": business_metrics.NAMESPACE,
            "MetricName": name,
            "Dimensions": [SERVICE],
        }
        assert (stat["Stat"], stat["Period"]) == ("Sum", 300)
    assert found["Threshold"] == monitoring.SLIDE_FAILURE_RATE == 0.25
    assert (found["DatapointsToAlarm"], found["EvaluationPeriods"]) == (2, 3)
    assert found["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert found["TreatMissingData"] == "notBreaching"
    assert found["AlarmActions"] == [{"Ref": topic_id(template)}]


def test_a_burst_of_refused_images_alarms(template) -> None:
    found = alarm(template, "RejectedImagesBurst")

    assert (found["Namespace"], found["MetricName"]) == (business_metrics.NAMESPACE, Metric.SLIDES_FAILED)
    assert found["Dimensions"] == [{"Name": Dimension.ERROR_CODE, "Value": "IMAGE_REJECTED"}, SERVICE]
    assert (found["Statistic"], found["Period"], found["EvaluationPeriods"]) == ("Sum", 300, 1)
    assert found["Threshold"] == monitoring.REJECTED_IMAGES_BURST
    assert found["AlarmActions"] == [{"Ref": topic_id(template)}]


def test_a_webhook_given_up_on_alarms_at_once(template) -> None:
    found = alarm(template, "WebhookGaveUp")

    assert (found["Namespace"], found["MetricName"]) == (business_metrics.NAMESPACE, Metric.WEBHOOK_DELIVERIES)
    assert found["Dimensions"] == [{"Name": Dimension.OUTCOME, "Value": WebhookOutcome.GAVE_UP}, SERVICE]
    assert (found["Statistic"], found["Threshold"], found["EvaluationPeriods"]) == ("Sum", 1, 1)
    assert found["AlarmActions"] == [{"Ref": topic_id(template)}]


def test_a_5xx_answered_by_the_start_route_alarms(template) -> None:
    found = alarm(template, "StartGeneration5xx")
    (api,) = resources(template, "AWS::ApiGateway::RestApi").values()
    (stage_id,) = resources(template, "AWS::ApiGateway::Stage")

    assert (found["Namespace"], found["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    assert {d["Name"]: d["Value"] for d in found["Dimensions"]} == {
        "ApiName": api["Properties"]["Name"],
        "Stage": {"Ref": stage_id},
        "Resource": START_PATH,
        "Method": "POST",
    }
    assert (found["Statistic"], found["Threshold"], found["EvaluationPeriods"]) == ("Sum", 1, 1)
    assert found["AlarmActions"] == [{"Ref": topic_id(template)}]


def test_the_oldest_slide_waiting_keeps_its_alarm(template) -> None:
    found = alarm(template, "ImageQueueOldestMessage")

    assert (found["Namespace"], found["MetricName"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage")


def test_every_alarm_goes_to_the_topic_and_shows_on_the_dashboard(template) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    (status,) = [w["properties"] for w in dashboard(template)["widgets"] if w["type"] == "alarm"]

    assert all(a["Properties"]["AlarmActions"] == [{"Ref": topic_id(template)}] for a in alarms.values())
    assert len(status["alarms"]) == len(alarms)


def test_the_dashboard_shows_image_latency_percentiles_and_time_queued_beside_the_oldest_slide(template) -> None:
    latency = widget(template, "Image latency")
    queued = widget(template, "Time queued")

    assert [(m[1], m[-1]["stat"]) for m in latency["metrics"]] == [
        (Metric.IMAGE_LATENCY, statistic) for statistic in ("p50", "p90", "p99")
    ]
    assert all(m[0] == business_metrics.NAMESPACE for m in latency["metrics"])
    assert [(m[1], m[-1]["stat"]) for m in queued["metrics"]] == [
        (Metric.TIME_QUEUED, "p50"),
        (Metric.TIME_QUEUED, "p90"),
        (Metric.TIME_QUEUED, "Maximum"),
        ("ApproximateAgeOfOldestMessage", "Maximum"),
    ]
    assert queued["metrics"][-1][-1]["yAxis"] == "right"


def test_the_dashboard_shows_slides_jobs_webhooks_rate_limits_and_status_reads(template) -> None:
    text = json.dumps(dashboard(template))
    by_code = widget(template, "Slides failed by error code")
    jobs = widget(template, "Jobs started")
    webhooks = widget(template, "Webhook deliveries")

    for metric in Metric:
        assert f'"{metric}"' in text, metric
    assert by_code["metrics"][0][0]["expression"].startswith(
        f"SEARCH('{{{business_metrics.NAMESPACE},{business_metrics.SERVICE_DIMENSION},{Dimension.ERROR_CODE}}} "
        f'MetricName="{Metric.SLIDES_FAILED}"'
    )
    ended = [m for m in jobs["metrics"] if m[1] == Metric.JOBS_ENDED]
    assert [dimensions(m) for m in ended] == [
        {business_metrics.SERVICE_DIMENSION: SERVICE_NAME, Dimension.STATUS: status}
        for status in ("completed", "completed_with_errors", "failed", "cancelled")
    ]
    assert {dimensions(m)[Dimension.OUTCOME] for m in webhooks["metrics"]} == {o.value for o in WebhookOutcome}
    assert "failure rate" in json.dumps(widget(template, "Slides completed and failed"))
