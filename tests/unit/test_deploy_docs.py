"""docs/deploy.md's configuration table says what the code does: every key of the deployment's
configuration, with the default StackConfig really has."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic_core import PydanticUndefined

from infra.config import StackConfig

DEPLOY_DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
ROW = re.compile(r"^\| (`[^|]+`) \| ([^|]+) \|", re.MULTILINE)


def documented_defaults() -> dict[str, str]:
    """key -> its default as the table writes it."""
    section = DEPLOY_DOC.read_text().split("## Configure", 1)[1].split("\n## ", 1)[0]
    table: dict[str, str] = {}
    for keys, defaults in ROW.findall(section):
        names = [k.strip().strip("`") for k in keys.split(" / ")]
        values = [v.strip() for v in defaults.split(" / ")]
        assert len(names) == len(values), f"row {keys} has {len(values)} defaults for {len(names)} keys"
        table.update(zip(names, values, strict=True))
    return table


def parsed(written: str) -> Any:
    """`5` -> 5, `null` -> None, `[]` -> [], `dev` -> "dev"."""
    text = written.strip("`")
    try:
        return json.loads(text)
    except ValueError:
        return text


def context_keys() -> dict[str, Any]:
    """cdk.json key -> the field's default."""
    return {field.alias or name: field.default for name, field in StackConfig.model_fields.items()}


def test_given_the_configuration_table_when_read_then_it_lists_every_key_with_the_codes_default() -> None:
    table = documented_defaults()

    defaults = context_keys()

    assert set(table) == set(defaults)
    for key, written in table.items():
        default = defaults[key]
        if default is PydanticUndefined:
            assert written == "(required)", key
            continue
        assert parsed(written) == (list(default) if isinstance(default, tuple) else default), key
