"""No logging call in the Lambda code passes a key that `logging.LogRecord` reserves: such a call
raises KeyError at every level where it emits (the deployed INFO among them), not at import."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
LEVELS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
# Keywords that `Logger.<level>()` itself takes; every other keyword becomes a LogRecord extra.
LOGGING_KEYWORDS = {"exc_info", "stack_info", "stacklevel", "extra"}
RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def reserved_keys(source: str, filename: str = "<source>") -> list[str]:
    """`file:line key` for each extra a logger call passes under a reserved name."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LEVELS):
            continue
        if "logger" not in ast.unparse(node.func.value).lower():
            continue
        keys = [k.arg for k in node.keywords if k.arg and k.arg not in LOGGING_KEYWORDS]
        for keyword in node.keywords:
            if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                keys += [
                    k.value for k in keyword.value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)
                ]
        found += [f"{filename}:{node.lineno} {key}" for key in keys if key in RESERVED]
    return found


def test_given_the_lambda_code_when_its_logging_calls_are_read_then_none_passes_a_reserved_record_key() -> None:
    sources = sorted(FUNCTIONS.rglob("*.py"))
    assert sources, "no Lambda code found"

    found = [hit for path in sources for hit in reserved_keys(path.read_text(), str(path.relative_to(FUNCTIONS)))]

    assert found == []


@pytest.mark.parametrize(
    "call",
    [
        'logger.info("started", created=True)',
        'self.logger.warning("x", name="n")',
        'logger.exception("failed", extra={"module": "m"})',
        'logger.log(20, "x", msg="m")',
    ],
)
def test_given_a_call_with_a_reserved_key_when_checked_then_it_is_found(call: str) -> None:
    assert len(reserved_keys(call)) == 1


@pytest.mark.parametrize("key", ["created", "name", "levelname", "message"])
def test_given_a_reserved_key_when_logged_at_info_then_logging_itself_refuses_it(key: str) -> None:
    # The premise of the check: the standard library raises for these names.
    logger = logging.getLogger("reserved-key-premise")
    logger.setLevel(logging.INFO)
    with pytest.raises(KeyError, match="Attempt to overwrite"):
        logger.info("x", extra={key: 1})


def test_given_ordinary_keys_when_checked_then_nothing_is_found() -> None:
    assert reserved_keys('logger.info("ok", masterJobId="j", jobCreated=True, exc_info=True)') == []
