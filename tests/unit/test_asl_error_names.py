"""Every error name the workflows retry or catch, other than AWS's own, is one the task can meet.

Step Functions matches `ErrorEquals` by exact name: a Lambda task fails with the class name of
its handler's unhandled exception, and an image task with the name the image worker reports
(`type(error).__name__`, storyimages.domain.image_queue). A name no code raises (a typo, a
renamed class, a library's exception the adapters translate) matches nothing, silently: the
error it meant goes unretried. So each custom name must be a domain error class that the code
behind that very task raises (`raise Name(...)`), found by reading the handler's module and
every storyimages module it imports, in turn (a generous reading: raised somewhere in that code,
not necessarily on the task's path). That the worker reports a failure by its class name is
tests/unit/test_image_queue.py's to show.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

import storyimages
from infra.function_catalogue import GENERATE_SLIDE_IMAGE_HANDLER
from statemachine import definition
from storyimages.domain import errors

AWS_ERRORS = re.compile(r"(States|Lambda|Sandbox|SQS)\.\w+")
PACKAGE = Path(storyimages.__file__).parent
DOMAIN_ERRORS = {
    name: cls
    for name, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.StoryImagesError) and cls.__module__ == errors.__name__
}


def tasks_of(states: dict) -> Iterator[tuple[str, dict]]:
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        if state["Type"] == "Map":
            yield from tasks_of(state["ItemProcessor"]["States"])


def custom_names(state: dict) -> set[str]:
    """The names a state's Retry and Catch match that are not AWS's own."""
    matched = {e for clause in state.get("Retry", []) + state.get("Catch", []) for e in clause["ErrorEquals"]}
    return {e for e in matched if not AWS_ERRORS.fullmatch(e)}


def handler_module(state: dict) -> str:
    """The module whose code fails the task: the function it invokes, or the image worker."""
    if state["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken":
        handler = GENERATE_SLIDE_IMAGE_HANDLER
    else:
        assert state["Resource"] == "arn:aws:states:::lambda:invoke"
        placeholder = re.fullmatch(r"\$\{(\w+)\}", state["Parameters"]["FunctionName"])
        assert placeholder, state["Parameters"]["FunctionName"]
        handler = definition.TASK_FUNCTIONS[placeholder.group(1)]
    return handler.split(":")[0]


def module_path(module: str) -> Path | None:
    relative = PACKAGE.joinpath(*module.split(".")[1:])
    for path in (relative.with_name(f"{relative.name}.py"), relative / "__init__.py"):
        if path.is_file():
            return path
    return None


@cache
def parsed(module: str) -> ast.Module:
    path = module_path(module)
    assert path is not None, module
    return ast.parse(path.read_text(), str(path))


def imported(module: str) -> set[str]:
    """The storyimages modules `module` imports (`from storyimages.x import y` names x, and y if
    y is a module)."""
    found: set[str] = set()
    for node in ast.walk(parsed(module)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {m for m in found if m.split(".")[0] == "storyimages" and module_path(m) is not None}


def closure(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(imported(current) - seen)
    return seen


def _called(node: ast.expr | None) -> str | None:
    """`Name` of `Name`, `Name(...)`, `module.Name(...)`."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def raised_names(modules: set[str]) -> set[str]:
    """The class names in `raise Name`, `raise Name(...)`, `raise module.Name(...)`, and in
    `raise make(...)` those `make`, a function of the same module, returns (`return Name(...)`)."""
    names: set[str] = set()
    for module in modules:
        tree = parsed(module)
        made = {
            function.name: {_called(node.value) for node in ast.walk(function) if isinstance(node, ast.Return)}
            for function in ast.walk(tree)
            if isinstance(function, ast.FunctionDef)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise):
                raised = _called(node.exc)
                names |= {raised} | made.get(raised or "", set())
    return {name for name in names if name}


def unmatchable(state: dict) -> set[str]:
    """The custom names in a task's Retry and Catch that no domain error its code raises has."""
    raised = raised_names(closure(handler_module(state))) & set(DOMAIN_ERRORS)
    return custom_names(state) - raised


def task_states() -> list[tuple[str, dict]]:
    return [
        (f"{machine}: {name}", state)
        for machine in definition.STATE_MACHINES
        for name, state in tasks_of(json.loads(definition.render(machine))["States"])
    ]


@pytest.mark.parametrize(("task", "state"), task_states(), ids=[task for task, _ in task_states()])
def test_every_error_a_task_retries_or_catches_by_name_is_a_domain_error_its_code_raises(
    task: str, state: dict
) -> None:
    unmatched = unmatchable(state)
    assert not unmatched, f"{task} names {sorted(unmatched)}: nothing {handler_module(state)} runs raises them"


def test_a_misspelled_or_untranslated_name_is_one_the_check_finds() -> None:
    image_task = dict(task_states())["image_generation: Generate slide image"]
    webhook_task = dict(task_states())["webhook_delivery: Deliver webhook"]

    misspelled = image_task | {"Retry": [{"ErrorEquals": ["StoreUnavailabel", "ImageRateLimited"]}]}
    # Firestore's own exception: the job store translates it into StoreUnavailable.
    untranslated = webhook_task | {"Retry": [{"ErrorEquals": ["ServiceUnavailable", "Lambda.ServiceException"]}]}
    # A domain error, but one no webhook task raises.
    elsewhere = webhook_task | {"Catch": [{"ErrorEquals": ["ImageRateLimited"], "Next": "Record webhook failure"}]}

    assert unmatchable(misspelled) == {"StoreUnavailabel"}
    assert unmatchable(untranslated) == {"ServiceUnavailable"}
    assert unmatchable(elsewhere) == {"ImageRateLimited"}
    named = {e for _, state in task_states() for e in custom_names(state)}
    assert {"StoreUnavailable", "ImageRateLimited", "ImageServiceUnavailable", "WebhookDeliveryFailed"} <= named


# AWS's own names, as AWS documents them: Step Functions' predefined errors, the Lambda service
# errors its docs recommend retrying (Lambda.* and Sandbox.Timedout), and the SQS integration's
# (service exceptions and the SDK client's). Written here from the docs, independently of
# statemachine/definition.py, so a typo there ("Lambda.ServiceExeption") fails.
AWS_DOCUMENTED = {
    "States.ALL",
    "States.Timeout",
    "States.TaskFailed",
    "States.Runtime",
    "States.HeartbeatTimeout",
    "States.Permissions",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Sandbox.Timedout",
    "SQS.SdkClientException",
    "SQS.AmazonSQSException",
}


def test_every_aws_error_name_the_workflows_match_is_one_aws_documents() -> None:
    # Given every name the workflows' Retry and Catch clauses match that is AWS's own
    matched = {
        name
        for _, state in task_states()
        for clause in state.get("Retry", []) + state.get("Catch", [])
        for name in clause["ErrorEquals"]
        if AWS_ERRORS.fullmatch(name)
    }

    # Then each is spelled as AWS documents it (and the definition does name some of them)
    assert matched - AWS_DOCUMENTED == set()
    assert {"States.ALL", "Lambda.ServiceException", "Sandbox.Timedout"} <= matched
