"""API Gateway TOKEN authorizer: a verified Firebase ID token becomes the caller's uid.

The policy allows every route of the stage, so API Gateway can cache it per token
(ownership is checked by each route against the uid, not by the policy)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from storyimages.adapters.firebase_tokens import FirebaseTokenVerifier
from storyimages.domain.errors import Unauthorized
from storyimages.domain.identity import authenticate
from storyimages.observability import logger, metrics, tracer
from storyimages.settings import AuthSettings

verifier = FirebaseTokenVerifier(AuthSettings.from_env())


class ApiGatewayUnauthorized(Exception):
    """API Gateway answers 401 when an authorizer fails with exactly this message."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = APIGatewayAuthorizerTokenEvent(event)
    try:
        caller = authenticate(request.authorization_token, verifier)
    except Unauthorized as exc:
        logger.info("token refused", reason=exc.message)
        raise ApiGatewayUnauthorized from None
    arn = request.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=caller.uid,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context={"uid": caller.uid},
    )
    policy.allow_all_routes()
    return policy.asdict()
