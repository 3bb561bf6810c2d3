"""cfn-lint on the synthesized template, with the repository's .cfnlintrc.yaml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CFN_LINT = str(Path(sys.executable).with_name("cfn-lint"))


def test_given_the_synthesized_template_when_linted_then_cfn_lint_reports_nothing(synthesized, tmp_path) -> None:
    _, template = synthesized
    template_file = tmp_path / "storyimages.template.json"
    template_file.write_text(json.dumps(template.to_json()))

    result = subprocess.run(
        [CFN_LINT, "--config-file", str(ROOT / ".cfnlintrc.yaml"), str(template_file)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
