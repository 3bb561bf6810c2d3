"""The REST API: the routes of storyimages.api.routes behind the Firebase TOKEN authorizer
(results cached per token), request validation, access logs, stage throttling, CORS, and
gateway responses in the API's own error shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import rest_api
from infra.capabilities.functions import retention
from infra.nag import acknowledge
from storyimages.api.routes import CORS_ALLOWED_HEADERS, CORS_MAX_AGE_SECONDS, ROUTES


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
            binary_media_types=list(rest_api.BINARY_MEDIA_TYPES) or None,
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
                apigw.CorsOptions(
                    allow_origins=origins,
                    allow_headers=list(CORS_ALLOWED_HEADERS),
                    allow_methods=list(rest_api.PREFLIGHT_METHODS),
                    status_code=rest_api.PREFLIGHT_STATUS,
                    max_age=Duration.seconds(CORS_MAX_AGE_SECONDS),
                )
                if origins
                else None
            ),
        )
        self.authorizer = apigw.TokenAuthorizer(
            self,
            "FirebaseAuthorizer",
            handler=authorizer_function,
            identity_source=apigw.IdentitySource.header(rest_api.IDENTITY_HEADER),
            validation_regex=rest_api.IDENTITY_VALIDATION_EXPRESSION,
            results_cache_ttl=Duration.seconds(rest_api.AUTHORIZER_CACHE_SECONDS),
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
                request_parameters={f"method.request.header.{rest_api.IDENTITY_HEADER}": True, **path_parameters},
            )
        self._gateway_responses(origins)
        self._acknowledge_findings(bool(origins))

    def _gateway_responses(self, origins: list[str]) -> None:
        headers = rest_api.gateway_error_cors(origins)
        for response_type, error in rest_api.GATEWAY_ERRORS.items():
            self.rest_api.add_gateway_response(
                f"{error.code.title().replace('_', '')}Response{error.status or ''}",
                type=apigw.ResponseType.of(response_type),
                status_code=str(error.status) if error.status else None,
                response_headers=headers,
                templates={"application/json": error.template()},
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
