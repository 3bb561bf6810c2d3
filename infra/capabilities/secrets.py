"""The three secrets the Lambdas read: the OpenAI key and the Firebase service account (their
values are put in after the first deploy, see docs/deploy.md), and the webhook signing secret,
generated here."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.nag import acknowledge

NOT_ROTATED = (
    "A third-party credential (OpenAI key, Firebase service account) is rotated by its issuer and "
    "put here by an operator; Secrets Manager cannot rotate it."
)


class Secrets(Construct):
    def __init__(self, scope: Construct, id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self.openai_api_key = secretsmanager.Secret(
            self,
            "OpenAIApiKey",
            description="storyimages: the OpenAI API key (sk-...); put the value in after deploying",
            removal_policy=removal_policy,
        )
        self.firebase_service_account = secretsmanager.Secret(
            self,
            "FirebaseServiceAccount",
            description="storyimages: the Firebase service account JSON (Firestore access)",
            removal_policy=removal_policy,
        )
        # 44 characters of [A-Za-z0-9] are valid base64: 33 random bytes of HMAC key.
        self.webhook_signing = secretsmanager.Secret(
            self,
            "WebhookSigningSecret",
            description="storyimages: the Standard Webhooks signing secret (base64); share it with receivers",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, include_space=False, password_length=44
            ),
            removal_policy=removal_policy,
        )
        for secret in (self.openai_api_key, self.firebase_service_account):
            acknowledge(secret, "AwsSolutions-SMG4", NOT_ROTATED)
        acknowledge(
            self.webhook_signing,
            "AwsSolutions-SMG4",
            "Receivers verify with this secret; rotating it is a coordinated change with them "
            "(Standard Webhooks allows two signatures during the switch), not a schedule.",
        )
