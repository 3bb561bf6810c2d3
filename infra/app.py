"""`cdk synth` / `cdk deploy` entry point: the stack from cdk.json context, checked by cdk-nag."""

from __future__ import annotations

from aws_cdk import App, Environment, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import CONTEXT_KEY, StackConfig
from infra.stack import StoryImagesStack


def build_app(app: App | None = None) -> tuple[App, StoryImagesStack]:
    app = app or App()
    config = StackConfig.from_context(app.node.try_get_context(CONTEXT_KEY))
    stack = StoryImagesStack(
        app,
        f"storyimages-{config.environment}",
        config=config,
        env=Environment(account=app.node.try_get_context("account"), region=app.node.try_get_context("region")),
        description="storyimages: illustrate every slide of a story (API Gateway, Lambda, Step Functions, S3)",
    )
    Tags.of(stack).add("project", "storyimages")
    Tags.of(stack).add("environment", config.environment)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


if __name__ == "__main__":
    build_app()[0].synth()
