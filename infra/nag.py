"""cdk-nag acknowledgements: every one names its rule and says why it does not apply here."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct


def arn_of(construct: IConstruct) -> str:
    """How cdk-nag names a resource's ARN in a finding: `<LogicalId.Arn>`."""
    element = construct.node.default_child
    assert isinstance(element, CfnElement)
    return f"<{Stack.of(construct).resolve(Stack.of(construct).get_logical_id(element))}.Arn>"


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """`rule` is a rule id (`AwsSolutions-S1`) or one finding of it (`AwsSolutions-IAM5[Resource::*]`)."""
    Validations.of(construct).acknowledge(Acknowledgment(id=f"AwsSolutions::{rule}", reason=reason))
