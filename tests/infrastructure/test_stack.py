"""The CDK stack, read from its synthesized template (cdk-nag has already passed by then)."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from storyimages.api.routes import ROUTES
from tests.infrastructure.conftest import TEST_CONFIG
from tests.infrastructure.template_reading import (
    definition,
    function,
    resources,
    role_actions,
    role_statements,
    state_machine,
)

LOGS_AND_TRACES = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
READ_SECRET = {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
READ_IMAGES = {"s3:GetObject", "s3:ListBucket"}
# What the image queue's event source polls with (it uses the function's role).
CONSUME_QUEUE = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
}
ANSWER_TASKS = {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}


def test_every_route_is_behind_the_firebase_token_authorizer(template) -> None:
    methods = resources(template, "AWS::ApiGateway::Method")
    routed = [m["Properties"] for m in methods.values() if m["Properties"]["HttpMethod"] != "OPTIONS"]

    assert len(routed) == len(ROUTES)
    for method in routed:
        assert method["AuthorizationType"] == "CUSTOM"
        assert "AuthorizerId" in method
        assert method["RequestParameters"]["method.request.header.Authorization"] is True
    template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {
            "Type": "TOKEN",
            "IdentitySource": "method.request.header.Authorization",
            "AuthorizerResultTtlInSeconds": 300,
            "IdentityValidationExpression": Match.string_like_regexp(".*earer .*"),
        },
    )


def test_only_the_cors_preflight_is_open_and_it_allows_the_configured_origin(template) -> None:
    preflight = [
        m["Properties"]
        for m in resources(template, "AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "OPTIONS"
    ]

    assert preflight
    assert {m["AuthorizationType"] for m in preflight} == {"NONE"}
    headers = preflight[0]["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
    assert headers["method.response.header.Access-Control-Allow-Origin"] == "'https://app.example.com'"


def test_gateway_answers_use_the_api_error_shape_and_an_unknown_route_is_404(template) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources(template, "AWS::ApiGateway::GatewayResponse").values()
    }

    unauthorized = responses["UNAUTHORIZED"]
    assert unauthorized["StatusCode"] == "401"
    assert '"code": "UNAUTHORIZED"' in unauthorized["ResponseTemplates"]["application/json"]
    assert unauthorized["ResponseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == (
        "'https://app.example.com'"
    )
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    assert {"THROTTLED", "DEFAULT_5XX", "REQUEST_TOO_LARGE"} <= set(responses)


def test_the_stage_logs_access_traces_and_throttles_as_configured(template) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "test",
            "TracingEnabled": True,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "MethodSettings": Match.array_with(
                [Match.object_like({"ThrottlingRateLimit": 11, "ThrottlingBurstLimit": 22, "MetricsEnabled": True})]
            ),
        },
    )


def test_the_image_state_machine_is_the_asl_with_its_map_wait_retry_and_catch(template) -> None:
    machine = state_machine(template, "-image-generation")
    asl = definition(machine)

    slides = asl["States"]["Generate remaining slides"]
    assert slides["Type"] == "Map"
    assert slides["MaxConcurrencyPath"] == "$.maxConcurrency"
    inner = slides["ItemProcessor"]["States"]
    assert inner["Pause for rate limit"]["SecondsPath"] == "$.delaySeconds"
    assert inner["Pause for rate limit"]["Next"] == "Queue slide image"
    queue_slide, generate = inner["Queue slide image"], inner["Generate slide image"]
    assert queue_slide["Parameters"]["FunctionName"] == "${QueueSlideImageFunctionArn}"
    assert "Lambda.TooManyRequestsException" in {e for r in queue_slide["Retry"] for e in r["ErrorEquals"]}
    assert queue_slide["Next"] == "Generate slide image"
    assert generate["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    assert generate["Parameters"]["QueueUrl"] == "${ImageQueueUrl}"
    assert generate["Parameters"]["MessageBody"]["taskToken.$"] == "$$.Task.Token"
    retry = generate["Retry"]
    assert {"ImageRateLimited", "ImageServiceUnavailable"} <= {e for r in retry for e in r["ErrorEquals"]}
    for task in (queue_slide, generate):
        assert all(r["JitterStrategy"] == "FULL" and r["BackoffRate"] == 2 for r in task["Retry"])
        assert task["Catch"][0]["Next"] == "Record slide failure"
    assert asl["States"]["Generate remaining slides"]["Catch"][0]["Next"] == "Mark job failed"
    properties = machine["Properties"]
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    assert properties["TracingConfiguration"] == {"Enabled": True}


def test_the_configured_concurrency_and_delay_reach_the_functions_that_start_runs(template) -> None:
    for name in ("StartGeneration", "JobControl"):
        environment = function(template, name)[1]["Properties"]["Environment"]["Variables"]
        assert (environment["MAX_CONCURRENCY"], environment["DELAY_SECONDS"]) == ("3", "4")
        assert environment["STORYIMAGES_ENV"] == "test"
        assert "AUTH_LOCAL_CERTS_URL" not in environment and "WEBHOOK_ALLOW_LOOPBACK" not in environment


def test_the_image_worker_has_minutes_to_answer_and_reserves_the_global_concurrency_cap(template) -> None:
    properties = function(template, "GenerateSlideImage")[1]["Properties"]

    assert (properties["Timeout"], properties["ReservedConcurrentExecutions"]) == (420, TEST_CONFIG["imageConcurrency"])
    assert properties["Environment"]["Variables"]["OPENAI_TIMEOUT_SECONDS"] == "390"
    assert properties["Runtime"] == "python3.12"


def test_api_functions_answer_within_api_gateways_29_seconds(template) -> None:
    for name in ("StartGeneration", "JobStatus", "JobControl"):
        assert function(template, name)[1]["Properties"]["Timeout"] == 29


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Authorizer", set()),
        ("StartGeneration", READ_SECRET | READ_IMAGES | {"states:StartExecution", "states:DescribeExecution"}),
        ("JobStatus", READ_SECRET | {"s3:GetObject"}),  # presigns GETs; never asks what exists
        (
            "JobControl",
            READ_SECRET | READ_IMAGES | {"states:StartExecution", "states:DescribeExecution", "states:StopExecution"},
        ),
        # It takes slides from the image queue and answers the tasks waiting on them.
        ("GenerateSlideImage", READ_SECRET | READ_IMAGES | {"s3:PutObject"} | CONSUME_QUEUE | ANSWER_TASKS),
        ("QueueSlideImage", READ_SECRET),
        # Ending a job, or recording a slide's failure, first looks for images already stored.
        ("RecordSlideFailure", READ_SECRET | READ_IMAGES),
        ("FinalizeJob", READ_SECRET | READ_IMAGES | {"states:StartExecution"}),
        ("MarkJobFailed", READ_SECRET | READ_IMAGES | {"states:StartExecution"}),
        ("DeliverWebhook", READ_SECRET),
        ("RecordWebhookFailure", READ_SECRET),
        # Lambda sends an event it could not handle to the dead-letter queue with the function's role.
        (
            "EndAbandonedJob",
            READ_SECRET
            | READ_IMAGES
            | {"states:StartExecution", "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"},
        ),
    ],
)
def test_each_function_may_do_only_what_its_handler_does(template, name: str, expected: set[str]) -> None:
    assert role_actions(template, name) == LOGS_AND_TRACES | expected


def test_secrets_reach_only_the_functions_that_read_them(template) -> None:
    def secrets_read_by(name: str) -> set[str]:
        found = set()
        for statement in role_statements(template, name):
            if "secretsmanager:GetSecretValue" in statement["Action"]:
                targets = statement["Resource"]
                found |= {t["Ref"] for t in (targets if isinstance(targets, list) else [targets])}
        return found

    secrets = {logical_id for logical_id in resources(template, "AWS::SecretsManager::Secret")}
    openai = next(s for s in secrets if "OpenAI" in s)
    webhook = next(s for s in secrets if "Webhook" in s)
    firebase = next(s for s in secrets if "Firebase" in s)
    assert secrets_read_by("GenerateSlideImage") == {firebase, openai}
    assert secrets_read_by("DeliverWebhook") == {firebase, webhook}
    assert secrets_read_by("JobStatus") == {firebase}
    assert secrets_read_by("Authorizer") == set()


def test_the_image_bucket_is_private_encrypted_ssl_only_and_expires_images(template) -> None:
    buckets = resources(template, "AWS::S3::Bucket")
    images = next(b for b in buckets.values() if "LoggingConfiguration" in b["Properties"])["Properties"]

    assert images["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert images["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    expire = next(r for r in images["LifecycleConfiguration"]["Rules"] if r.get("Prefix") == "images/")
    assert expire["ExpirationInDays"] == TEST_CONFIG["imageRetentionDays"]
    policies = resources(template, "AWS::S3::BucketPolicy")
    assert all(
        any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        )
        for p in policies.values()
    )
    assert len(policies) == len(buckets)


def test_every_log_group_keeps_logs_for_the_configured_time(template) -> None:
    groups = resources(template, "AWS::Logs::LogGroup")

    assert len(groups) >= 12 + 2 + 1  # functions, state machines, API access logs
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {14}


def test_alarms_watch_executions_errors_throttles_and_api_5xx(template) -> None:
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]
    watched = {(a.get("Namespace"), a.get("MetricName")) for a in alarms}

    assert {
        ("AWS/States", "ExecutionsFailed"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/ApiGateway", "5XXError"),
    } <= watched
    assert sum(a.get("MetricName") == "Errors" for a in alarms) == len(resources(template, "AWS::Lambda::Function"))
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in watched  # the abandoned-job events' dead letters
    assert all(a["AlarmActions"] for a in alarms)
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_retried_errors_alarm_only_when_they_last_and_the_others_at_once(template) -> None:
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]
    errors = {(a["Threshold"], a["EvaluationPeriods"]) for a in alarms if a.get("MetricName") == "Errors"}

    assert errors == {(1, 1), (10, 3)}
    # Only the webhook function raises on purpose; the image worker answers failures to the task.
    (sustained,) = [a for a in alarms if a.get("MetricName") == "Errors" and a["Threshold"] == 10]
    assert sustained["Dimensions"][0]["Value"]["Ref"] == function(template, "DeliverWebhook")[0]


def test_cloudwatch_may_publish_to_the_encrypted_alarm_topic(template) -> None:
    (topic,) = resources(template, "AWS::SNS::Topic").values()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = resources(template, "AWS::KMS::Key")[key_id]["Properties"]

    assert key["EnableKeyRotation"] is True
    grants = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"]
    assert grants
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(grants[0]["Action"])


def test_the_webhook_signing_secret_is_generated_and_the_others_are_left_to_the_operator(template) -> None:
    secrets = resources(template, "AWS::SecretsManager::Secret")

    generated = {logical_id for logical_id, s in secrets.items() if "GenerateSecretString" in s["Properties"]}
    webhook = next(s for s in secrets if "Webhook" in s)
    assert webhook in generated
    assert secrets[webhook]["Properties"]["GenerateSecretString"]["ExcludePunctuation"] is True


def test_an_execution_that_ends_without_finishing_invokes_end_abandoned_job_with_a_dead_letter_queue(
    template,
) -> None:
    # Given the template, when an image-generation execution ends FAILED, TIMED_OUT or ABORTED
    (rule,) = resources(template, "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert pattern["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    (machine_ref,) = pattern["detail"]["stateMachineArn"]
    machines = resources(template, "AWS::StepFunctions::StateMachine")
    assert machine_ref["Ref"] in machines and "ImageGeneration" in machine_ref["Ref"]
    # then EndAbandonedJob gets it, and what it cannot handle is kept in a queue
    (target,) = rule["Properties"]["Targets"]
    assert "EndAbandonedJob" in target["Arn"]["Fn::GetAtt"][0]
    assert "DeadLetterConfig" in target
    (invoke_config,) = resources(template, "AWS::Lambda::EventInvokeConfig").values()
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 2
    assert "OnFailure" in invoke_config["Properties"]["DestinationConfig"]
