"""docs/openapi.json is generated from the code; it must not drift from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_openapi_document_is_what_the_code_generates() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.openapi", "--check"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'functions'}:{ROOT}"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr


def test_the_document_describes_every_route_with_bearer_auth_and_one_error_shape() -> None:
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())

    from storyimages.api.routes import ROUTES

    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert documented == {(r.method, r.resource) for r in ROUTES}
    assert document["security"] == [{"firebaseIdToken": []}]
    for item in document["paths"].values():
        for operation in item.values():
            errors = {code: r for code, r in operation["responses"].items() if code.startswith(("4", "5"))}
            assert "401" in errors
            for response in errors.values():
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorResponse"
                }
