"""The import boundaries of DESIGN §4, checked on the source: who may import what."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "caseflow"
THIRD_PARTY_OF_WORKFLOWS = {"temporalio", "pydantic"}
# Project modules each place may import, besides its own package. `signing` (HMAC tokens for
# links, reply addresses and API tokens) is stdlib-only and shared by every adapter; `calendars`
# reads and checks calendar definitions (YAML, database) into the workflows' CalendarSpec;
# `reporting` turns the store's metrics into goal progress and tables; `passwords` hashes and
# checks agents' passwords (argon2).
ALLOWED = {
    "workflows": set(),
    "activities": {"workflows", "store", "mail", "settings", "signing", "calendars"},
    "intake": {"workflows", "store", "mail", "settings", "signing"},
    "api": {"workflows", "store", "settings", "signing", "configuration", "reporting", "passwords"},
    "store": set(),
    "mail": {"settings", "signing"},
    "signing": set(),
    "passwords": set(),
    "settings": set(),
    "calendars": {"workflows", "store"},
    "policies": {"workflows", "store"},
    "simulate": {"workflows", "store"},
    "configuration": {"workflows", "store", "calendars", "policies", "reporting"},
    "reporting": {"store"},
    "__init__": set(),
}
NOBODY_IMPORTS = {"api", "intake", "devstack", "worker", "cli"}
IMPORTERS_OF_ANYTHING = {"devstack", "worker", "cli"}


def place(path: Path) -> str:
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def project_imports(path: Path) -> set[str]:
    """Top-level places of `caseflow` this module imports, at any depth in its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "caseflow":
                names = [f"caseflow.{alias.name}" for alias in node.names]
        found |= {n.split(".")[1] for n in names if n.startswith("caseflow.")}
    return found


def external_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found - {"caseflow", "__future__"}


MODULES = sorted(p for p in ROOT.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_module_imports_only_what_its_place_may(path: Path) -> None:
    here = place(path)
    imported = project_imports(path) - {here}
    if here in IMPORTERS_OF_ANYTHING:
        return
    assert here in ALLOWED, f"{here} has no rule in DESIGN §4"
    assert imported <= ALLOWED[here], f"{path.name} imports {imported - ALLOWED[here]}"
    assert not imported & NOBODY_IMPORTS


@pytest.mark.parametrize(
    "path", [p for p in MODULES if place(p) == "workflows"], ids=lambda p: p.name
)
def test_workflows_import_only_stdlib_temporalio_and_pydantic(path: Path) -> None:
    outside = {
        name
        for name in external_imports(path)
        if name not in sys.stdlib_module_names and name not in THIRD_PARTY_OF_WORKFLOWS
    }
    assert not outside, f"{path.name} imports {outside}"


@pytest.mark.parametrize("path", [p for p in MODULES if place(p) == "store"], ids=lambda p: p.name)
def test_the_store_imports_only_sqlalchemy_alembic_and_stdlib(path: Path) -> None:
    allowed = {"sqlalchemy", "alembic"}
    outside = {n for n in external_imports(path) if n not in sys.stdlib_module_names} - allowed
    assert not outside, f"{path.name} imports {outside}"


# The worker passes caseflow.workflows through the sandbox (imported once, not per run), so the
# sandbox no longer stops these in workflow code: this test does.
NON_DETERMINISTIC = {
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("time", "time"), ("time", "monotonic"), ("time", "sleep"), ("time", "perf_counter"),
    ("uuid", "uuid1"), ("uuid", "uuid4"), ("os", "urandom"), ("os", "environ"),
    ("os", "getenv"), ("asyncio", "sleep"), ("asyncio", "wait"), ("secrets", "token_hex"),
}  # fmt: skip
NON_DETERMINISTIC_MODULES = {"random", "secrets", "socket", "threading", "subprocess"}


@pytest.mark.parametrize(
    "path", [p for p in MODULES if place(p) == "workflows"], ids=lambda p: p.name
)
def test_workflow_code_calls_nothing_non_deterministic(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    found = {
        f"{node.value.id}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and (node.value.id, node.attr) in NON_DETERMINISTIC
    }
    found |= {
        name for name in external_imports(path) if name in NON_DETERMINISTIC_MODULES
    } | {"open()" for node in ast.walk(tree)
         if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
         and node.func.id == "open"}  # fmt: skip
    assert not found, f"{path.name} uses {found}: use workflow.now(), workflow.uuid4(), ..."
