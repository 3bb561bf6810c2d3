"""cdk-nag's AwsSolutions pack runs in every synth: no finding goes unacknowledged, and every
acknowledgement says why."""

from __future__ import annotations

import pytest
from aws_cdk import Validations
from aws_cdk import aws_s3 as s3

from tests.infrastructure.conftest import FEATURE_FLAGS, TEST_CONFIG, synthesize


def acknowledgements(stack) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    return {
        construct.node.path: entry.data
        for construct in stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == key
    }


def test_every_acknowledgement_says_why(synthesized) -> None:
    # The fixture synthesized the stack with the pack on: an unacknowledged finding fails there.
    stack, _ = synthesized
    ours = [
        (path, rule, reason)
        for path, rules in acknowledgements(stack).items()
        for rule, reason in rules.items()
        if rule.startswith("AwsSolutions::")  # CDK acknowledges a few CloudFormation checks of its own
    ]

    assert ours
    for path, rule, reason in ours:
        assert len(reason.split()) >= 6, (path, rule, reason)


def test_given_a_resource_that_breaks_a_rule_when_synthesized_then_synth_fails() -> None:
    # The pack is really on: a bucket without SSL enforcement must stop the synth.
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from infra.app import build_app
    from infra.config import CONTEXT_KEY

    app = App(context={**FEATURE_FLAGS, "aws:cdk:bundling-stacks": [], CONTEXT_KEY: TEST_CONFIG})
    app, stack = build_app(app)
    s3.Bucket(stack, "CarelessBucket")

    with pytest.raises(RuntimeError, match="AwsSolutions-S10"):
        Template.from_stack(stack)


def test_given_a_context_with_a_typo_when_synthesized_then_it_names_the_key() -> None:
    with pytest.raises(SystemExit, match="maxConcurency"):
        synthesize({**TEST_CONFIG, "maxConcurency": 3})
