"""Reading a synthesized template: resources by kind, a function by name, a role's actions."""

from __future__ import annotations

import json
import re
from typing import Any


def resources(template: Any, kind: str) -> dict[str, dict[str, Any]]:
    return dict(template.find_resources(kind))


def function(template: Any, name: str) -> tuple[str, dict[str, Any]]:
    """The Lambda described as `storyimages <name>`: (logical id, resource)."""
    matches = [
        (logical_id, resource)
        for logical_id, resource in resources(template, "AWS::Lambda::Function").items()
        if resource["Properties"].get("Description") == f"storyimages {name}"
    ]
    assert len(matches) == 1, f"no single function {name}"
    return matches[0]


def role_actions(template: Any, function_name: str) -> set[str]:
    """Every action the function's role may take, from its policies."""
    _, resource = function(template, function_name)
    role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
    actions: set[str] = set()
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                found = statement["Action"]
                actions |= {found} if isinstance(found, str) else set(found)
    return actions


def role_statements(template: Any, function_name: str) -> list[dict[str, Any]]:
    _, resource = function(template, function_name)
    role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def definition(state_machine: dict[str, Any]) -> dict[str, Any]:
    """The ASL of a state machine resource, with every reference written as <Ref>."""
    body = state_machine["Properties"]["DefinitionString"]
    if isinstance(body, str):
        return dict(json.loads(body))
    parts = body["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else "<Ref>" for part in parts)
    return dict(json.loads(text))


def state_machine(template: Any, name_suffix: str) -> dict[str, Any]:
    for resource in resources(template, "AWS::StepFunctions::StateMachine").values():
        if re.search(f"{name_suffix}$", resource["Properties"]["StateMachineName"]):
            return resource
    raise AssertionError(f"no state machine named *{name_suffix}")


def state_machine_statements(template: Any, name_suffix: str) -> list[dict[str, Any]]:
    """Every statement of the state machine's role's policies."""
    role = state_machine(template, name_suffix)["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions_of(statement: dict[str, Any]) -> set[str]:
    found = statement["Action"]
    return {found} if isinstance(found, str) else set(found)


def image_queue(template: Any) -> tuple[str, dict[str, Any]]:
    """The queue the image workflow sends its slides to: (logical id, resource)."""
    (found,) = [
        (logical_id, resource)
        for logical_id, resource in resources(template, "AWS::SQS::Queue").items()
        if str(resource["Properties"].get("QueueName", "")).endswith("-image-queue")
    ]
    return found
