"""The ASL checked by npm asl-validator: schema, reachability and transition targets.

The raw file's numeric placeholders are strings until rendered, so the validator reads the
rendered definition (function ARNs still as `${...}`, as CDK would receive it)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from statemachine import definition

VALIDATOR = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "asl-validator"


def validate(asl: dict, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if not VALIDATOR.exists():
        pytest.fail("asl-validator is missing: run `make install`")
    path = tmp_path / "definition.asl.json"
    path.write_text(json.dumps(asl))
    return subprocess.run([str(VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("name", definition.STATE_MACHINES)
def test_given_the_rendered_definition_when_validated_then_it_is_valid(name: str, tmp_path: Path) -> None:
    result = validate(json.loads(definition.render(name)), tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr


def test_given_a_state_pointing_nowhere_when_validated_then_the_validator_catches_it(tmp_path: Path) -> None:
    asl = json.loads(definition.render())
    asl["States"]["Finalize job"]["Next"] = "Celebrate"

    result = validate(asl, tmp_path)

    assert result.returncode != 0
    assert "MISSING_TRANSITION_TARGET" in result.stdout + result.stderr
