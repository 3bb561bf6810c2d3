"""Our code reaches third-party libraries through their public API only: no `obj._name` on an
object that is not ours, no `getattr`/`setattr` of such a name, no import of a private module or
name. (Private attributes change without notice; the authorizer and the resolver once patched
firebase-admin's and Powertools' internals, which is what this guards against.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "storyimages"
OWN = "storyimages"
# Exceptions, each with its reason: none today.
ALLOWED: dict[tuple[str, str], str] = {}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _own_names(tree: ast.Module) -> set[str]:
    """`self`, `cls`, and the names this module binds to our own modules and objects."""
    names = {"self", "cls"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == OWN:
            names |= {alias.asname or alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.asname or alias.name for alias in node.names if alias.name.split(".")[0] == OWN}
    return names


def private_uses(source: str) -> list[str]:
    tree = ast.parse(source)
    own = _own_names(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            if not (isinstance(node.value, ast.Name) and node.value.id in own):
                found.append(ast.unparse(node))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in {"getattr", "setattr", "hasattr", "delattr"} and len(node.args) >= 2:
                target, name = node.args[0], node.args[1]
                named = isinstance(name, ast.Constant) and isinstance(name.value, str) and _private(name.value)
                if named and not (isinstance(target, ast.Name) and target.id in own):
                    found.append(ast.unparse(node))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] != OWN and node.level == 0:
            module = node.module or ""
            if any(_private(part) for part in module.split(".")) or any(_private(a.name) for a in node.names):
                found.append(f"from {module} import {', '.join(a.name for a in node.names)}")
        elif isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if any(_private(p) for p in a.name.split("."))]
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_given_our_code_when_scanned_then_no_private_name_of_another_library_is_used(path: Path) -> None:
    relative = str(path.relative_to(PACKAGE))
    uses = [use for use in private_uses(path.read_text()) if (relative, use) not in ALLOWED]

    assert uses == [], f"{relative} reaches into another library's private names: {uses}"


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from firebase_admin import auth\nauth._get_client(app)._token_verifier.x = 1", 2),
        ("app._request_validation_middleware = wrap(app._request_validation_middleware)", 2),
        ("setattr(app, '_request_validation_middleware', m)", 1),
        ("from firebase_admin._token_gen import TokenVerifier", 1),
        ("import firebase_admin._auth_utils", 1),
        ("self._client._transport", 1),
        ("self._settings.project_id; cls._cache; obj.__dict__", 0),
        ("from storyimages.adapters import secrets\nsecrets._provider(None)", 0),
    ],
)
def test_given_code_reaching_into_private_names_when_scanned_then_each_reach_is_found(source: str, found: int) -> None:
    assert len(private_uses(source)) == found
