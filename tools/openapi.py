"""Generate the OpenAPI document of the REST API from the code: the routes and models the API
Lambdas register with Powertools, merged into one document with the bearer-token scheme.

    make openapi           # writes docs/openapi.json; tests/unit/test_openapi.py checks it is current
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"

DESCRIPTION = (
    "Illustrate every slide of a story with the OpenAI Images API. Start a job, poll it, cancel it or "
    "retry its failed slides. Every route needs a Firebase ID token (`Authorization: Bearer <token>`); "
    "users see and act on their own stories and jobs only. Errors are "
    '`{"success": false, "error": {"code", "message", "details"?}}`.'
)


def openapi_document() -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    from infra.function_catalogue import function_specs
    from storyimages.api.routes import ROUTES
    from tools.handler_environment import DEPLOYMENT, placeholder_environment

    # Each API module reads its settings on import: its function's environment in the template
    # (placeholders for the resources it names, so nothing is contacted).
    specs = function_specs(DEPLOYMENT)
    for function in dict.fromkeys(route.function for route in ROUTES):
        for name, value in placeholder_environment(specs[function]).items():
            os.environ.setdefault(name, value)
    document: dict[str, Any] = {}
    for module_name in dict.fromkeys(route.handler.partition(":")[0] for route in ROUTES):
        app = importlib.import_module(module_name).app
        schema = app.get_openapi_schema(
            title="storyimages API",
            version="1.0.0",
            description=DESCRIPTION,
            security_schemes={"firebaseIdToken": HTTPBearer(bearerFormat="Firebase ID token (JWT)")},
            security=[{"firebaseIdToken": []}],
        ).model_dump(mode="json", by_alias=True, exclude_none=True)
        if not document:
            document = schema
            continue
        document["paths"].update(schema["paths"])
        document["components"]["schemas"].update(schema["components"]["schemas"])
    document.pop("servers", None)
    return _without_powertools_422(document)


def _without_powertools_422(document: dict[str, Any]) -> dict[str, Any]:
    """Powertools documents its own 422 body; ours (ErrorResponse) is what the API sends."""
    schemas = document["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(name, None)
    for operation in (op for path in document["paths"].values() for op in path.values()):
        response = operation["responses"].get("422")
        if response and "HTTPValidationError" in json.dumps(response):
            operation["responses"]["422"] = {
                "description": "Invalid request: `details` names each field",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
            }
    return document


def render() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    """Write the document, or with --check say whether the committed one is current."""
    if "--check" in sys.argv[1:]:
        if OUTPUT.read_text() != render():
            print(f"{OUTPUT} is out of date with the code: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
