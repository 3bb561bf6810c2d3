"""The REST API: the routes of storyimages.api.routes behind the Firebase TOKEN authorizer
(results cached per token), request validation, access logs, stage throttling, CORS, and
gateway responses in the API's own error shape."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.capabilities.functions import retention
from infra.nag import acknowledge
from storyimages.api.routes import ROUTES

ALLOWED_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key"]
# What API Gateway answers itself, in the shape the Lambdas answer: {"success": false, "error": {...}}.
GATEWAY_ERRORS: Mapping[apigw.ResponseType, tuple[str, str, str]] = {
    apigw.ResponseType.UNAUTHORIZED: ("401", "UNAUTHORIZED", "a valid Firebase ID token is required"),
    apigw.ResponseType.ACCESS_DENIED: ("403", "FORBIDDEN", "not allowed"),
    # An unknown route is a missing token to API Gateway; say what it is.
    apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN: ("404", "ROUTE_NOT_FOUND", "no such route"),
    apigw.ResponseType.REQUEST_TOO_LARGE: ("413", "PAYLOAD_TOO_LARGE", "the request body is too large"),
    apigw.ResponseType.THROTTLED: ("429", "THROTTLED", "too many requests; retry later"),
    apigw.ResponseType.BAD_REQUEST_PARAMETERS: ("400", "INVALID_REQUEST", "missing a required header or parameter"),
    apigw.ResponseType.DEFAULT_4_XX: ("", "REQUEST_REFUSED", "the request was refused"),
    apigw.ResponseType.DEFAULT_5_XX: ("", "INTERNAL_ERROR", "something went wrong on our side"),
}


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handlers: Mapping[str, lambda_.IFunction],
        authorizer_function: lambda_.IFunction,
        stage_name: str,
        cors_allowed_origins: Sequence[str],
        throttle_rate_limit: int,
        throttle_burst_limit: int,
        log_retention_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=retention(log_retention_days), removal_policy=removal_policy
        )
        origins = list(cors_allowed_origins)
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            description="storyimages: illustrate every slide of a story",
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=removal_policy,
            endpoint_types=[apigw.EndpointType.REGIONAL],
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=throttle_rate_limit,
                throttling_burst_limit=throttle_burst_limit,
            ),
            default_cors_preflight_options=(
                apigw.CorsOptions(allow_origins=origins, allow_headers=ALLOWED_HEADERS, max_age=Duration.minutes(10))
                if origins
                else None
            ),
        )
        self.authorizer = apigw.TokenAuthorizer(
            self,
            "FirebaseAuthorizer",
            handler=authorizer_function,
            identity_source=apigw.IdentitySource.header("Authorization"),
            # Malformed headers are refused with 401 without invoking the authorizer.
            validation_regex=r"^[Bb]earer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$",
            results_cache_ttl=Duration.minutes(5),
        )
        # Bodies are validated by the Lambdas (one place, the same locally and here); the
        # gateway checks that the parameters each route declares are present.
        validator = self.rest_api.add_request_validator(
            "Parameters", validate_request_parameters=True, validate_request_body=False
        )
        for route in ROUTES:
            resource = self.rest_api.root.resource_for_path(route.resource)
            path_parameters = {
                f"method.request.path.{part[1:-1]}": True for part in route.resource.split("/") if part.startswith("{")
            }
            resource.add_method(
                route.method,
                apigw.LambdaIntegration(handlers[route.function]),
                authorizer=self.authorizer,
                authorization_type=apigw.AuthorizationType.CUSTOM,
                request_validator=validator,
                request_parameters={"method.request.header.Authorization": True, **path_parameters},
            )
        self._gateway_responses(origins)
        self._acknowledge_findings(bool(origins))

    def _gateway_responses(self, origins: list[str]) -> None:
        # One configured origin is named; with several, the caller's origin is echoed for these
        # bodiless error answers so a browser can read them (the API's own answers check the list).
        allow_origin = f"'{origins[0]}'" if len(origins) == 1 else "method.request.header.origin"
        headers = {"Access-Control-Allow-Origin": allow_origin, "Vary": "'Origin'"} if origins else {}
        for response_type, (status, code, message) in GATEWAY_ERRORS.items():
            body = {"success": False, "error": {"code": code, "message": message}}
            self.rest_api.add_gateway_response(
                f"{code.title().replace('_', '')}Response{status}",
                type=response_type,
                status_code=status or None,
                response_headers=headers,
                templates={"application/json": json.dumps(body)},
            )

    def _acknowledge_findings(self, cors: bool) -> None:
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG3",
            "No WAF by default: stage throttling and the token authorizer guard the API; "
            "attach a web ACL to the stage where the organisation runs one.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-COG4",
            "Users sign in with Firebase Auth; a Lambda TOKEN authorizer verifies their ID tokens.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG2",
            "Parameters are validated by API Gateway; bodies by the Lambdas, one place that answers the same "
            "errors here and on the local stack (`docs/openapi.json`).",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account-level CloudWatch role uses the AWS managed "
            "AmazonAPIGatewayPushToCloudWatchLogs policy, as AWS documents.",
        )
        if cors:
            acknowledge(
                self.rest_api,
                "AwsSolutions-APIG4",
                "Only the CORS preflight (OPTIONS) methods are open: browsers send no credentials on them.",
            )
