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
# reads and checks calendar definitions (YAML, database) into the workflows' CalendarSpec, as
# `policies` does SLA policies into the workflows' SlaPolicy;
# `reporting` turns the store's metrics into goal progress and tables; `passwords` hashes and
# checks agents' passwords (argon2); `client` is how the API, the intake, activities and the
# edits of calendars and policies reach the workflows through Temporal (not workflow code);
# `admission` is whether a new case may open, for the API and the intake alike; `retrying` is
# the backoff (tenacity) of the processes that wait for a server; `surfaces` derives the agent
# actions' HTTP bodies and CLI options from the lifecycle's action registry; `i18n` chooses the
# customer's language and holds its catalogues (Babel, Jinja), for customers' pages and emails.
ALLOWED = {
    "workflows": set(),
    "client": {"workflows"},
    "admission": {"workflows", "store"},
    "surfaces": {"workflows"},
    "activities": {
        "workflows",
        "client",
        "store",
        "mail",
        "settings",
        "signing",
        "calendars",
        "policies",
        "i18n",
    },  # fmt: skip
    "intake": {
        "workflows",
        "client",
        "admission",
        "store",
        "mail",
        "settings",
        "signing",
        "retrying",
        "i18n",
    },  # fmt: skip
    "api": {
        "workflows",
        "client",
        "admission",
        "store",
        "mail",
        "settings",
        "signing",
        "configuration",
        "reporting",
        "passwords",
        "surfaces",
        "i18n",
    },  # fmt: skip
    "store": set(),
    "mail": {"settings", "signing", "i18n"},
    "i18n": set(),
    "signing": set(),
    "passwords": set(),
    "settings": set(),
    "retrying": set(),
    "calendars": {"workflows", "client", "store"},
    "policies": {"workflows", "client", "store"},
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


# -- what the sandbox loads -------------------------------------------------------------------
# The worker passes the pure rules and data through the sandbox (`worker.PASSED_THROUGH`):
# imported once, outside the sandbox's restrictions, so nothing stops a call to the clock or
# the network in them but this check. The workflow modules stay in the sandbox; they are
# checked too, so that a mistake fails here rather than in a running case.

# Modules workflow code never needs (I/O, threads, randomness, the process, the clock), and
# members of others that read the clock, the environment or entropy. `datetime.time` and
# `datetime.datetime(...)` are values, not the clock: resolved names tell them apart.
FORBIDDEN_MODULES = {
    "os", "sys", "time", "random", "secrets", "socket", "ssl", "select", "selectors",
    "threading", "_thread", "multiprocessing", "concurrent", "subprocess", "signal", "sqlite3",
    "smtplib", "imaplib", "http", "urllib", "shutil", "tempfile", "glob", "pathlib",
}  # fmt: skip
FORBIDDEN_MEMBERS = {
    "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today",
    "datetime.date.today", "uuid.uuid1", "uuid.uuid4", "io.open", "builtins.open",
    "builtins.input", "builtins.breakpoint", "asyncio.sleep", "asyncio.wait",
    "asyncio.as_completed",
}  # fmt: skip
BUILTINS_FORBIDDEN = {"open", "input", "breakpoint"}


def forbidden(qualified: str) -> bool:
    parts = qualified.split(".")
    prefixes = {".".join(parts[: i + 1]) for i in range(len(parts))}
    return parts[0] in FORBIDDEN_MODULES or bool(prefixes & FORBIDDEN_MEMBERS)


def imported_names(tree: ast.AST) -> dict[str, str]:
    """What each name a module binds by importing stands for: `dt` → `datetime.datetime`."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def dotted(node: ast.expr) -> list[str] | None:
    """`a.b.c` as ["a", "b", "c"]; None for anything but names and attributes."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute) and (base := dotted(node.value)) is not None:
        return [*base, node.attr]
    return None


def non_deterministic_uses(source: str) -> set[str]:
    """Every import of, or reference to, something forbidden, by its resolved name."""
    tree = ast.parse(source)
    names = imported_names(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if forbidden(alias.name)}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            qualified = [f"{node.module}.{alias.name}" for alias in node.names]
            found |= {name for name in qualified if forbidden(name)}
        elif isinstance(node, (ast.Name, ast.Attribute)) and (parts := dotted(node)):
            if parts[0] in names:
                resolved = ".".join([names[parts[0]], *parts[1:]])
            elif parts[0] in BUILTINS_FORBIDDEN:
                resolved = f"builtins.{'.'.join(parts)}"
            else:
                continue
            if forbidden(resolved):
                found.add(resolved)
    return found


def module_path(name: str) -> Path:
    relative = Path(*name.split(".")[1:])
    package = ROOT / relative / "__init__.py"
    return package if package.exists() else ROOT / relative.with_suffix(".py")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(["caseflow", *(parts[:-1] if parts[-1] == "__init__" else parts)])


def sandbox_modules() -> list[Path]:
    """The project's modules a workflow run loads: its workflows' modules and, transitively,
    what they import from the project (a passed-through package with all its modules)."""
    from caseflow.worker import WORKFLOWS

    todo = [module_path(workflow.__module__) for workflow in WORKFLOWS]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        if path.name == "__init__.py":
            todo += list(path.parent.rglob("*.py"))
        todo += [module_path(name) for name in caseflow_imports(path)]
    return sorted(p for p in seen if p.exists())


def caseflow_imports(path: Path) -> set[str]:
    """Full names of the project modules this module imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("caseflow.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("caseflow"):
                continue
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if module_path(full).exists() else node.module)
    return {name for name in found if name != "caseflow"}


def passed_through(path: Path) -> bool:
    from caseflow.worker import PASSED_THROUGH

    name = module_name(path)
    return any(name == p or name.startswith(f"{p}.") for p in PASSED_THROUGH)


def is_workflow_code(path: Path) -> bool:
    """A module that uses Temporal's workflow API: workflow definitions and their helpers."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        else:
            continue
        if "temporalio.workflow" in names:
            return True
    return False


@pytest.mark.parametrize("path", sandbox_modules(), ids=module_name)
def test_what_a_workflow_run_loads_calls_nothing_non_deterministic(path: Path) -> None:
    found = non_deterministic_uses(path.read_text())
    assert not found, f"{module_name(path)} uses {found}: use workflow.now(), workflow.uuid4(), ..."


@pytest.mark.parametrize("path", sandbox_modules(), ids=module_name)
def test_rules_and_data_pass_through_the_sandbox_and_workflow_code_stays_in_it(
    path: Path,
) -> None:
    if is_workflow_code(path):
        assert not passed_through(path), f"{module_name(path)} is workflow code: sandbox it"
    elif path.name != "__init__.py":
        assert passed_through(path), f"{module_name(path)} is pure: add it to PASSED_THROUGH"


def test_the_workflow_modules_themselves_stay_in_the_sandbox() -> None:
    from caseflow.worker import PASSED_THROUGH, WORKFLOWS

    for workflow in WORKFLOWS:
        assert not passed_through(module_path(workflow.__module__)), workflow.__module__
    assert {"caseflow.workflows.case", "caseflow.workflows.survey"}.isdisjoint(PASSED_THROUGH)


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("from time import time\nstarted = time()\n", "time.time"),
        ("import time as clock\nclock.monotonic()\n", "time.monotonic"),
        ("from uuid import uuid4\nkey = uuid4()\n", "uuid.uuid4"),
        ("import uuid\nkey = uuid.uuid1()\n", "uuid.uuid1"),
        ("from os import environ\nhome = environ['HOME']\n", "os.environ"),
        ("import os\nhome = os.getenv('HOME')\n", "os.getenv"),
        ("import random\nrandom.choice([1, 2])\n", "random"),
        ("from random import choice\n", "random.choice"),
        ("import secrets\n", "secrets"),
        ("from datetime import datetime\nnow = datetime.now()\n", "datetime.datetime.now"),
        ("import datetime\nnow = datetime.datetime.utcnow()\n", "datetime.datetime.utcnow"),
        ("from datetime import date\ntoday = date.today()\n", "datetime.date.today"),
        ("from datetime import date as day\nday.today()\n", "datetime.date.today"),
        ("with open('cases.json') as f:\n    pass\n", "builtins.open"),
        ("import io\nio.open('cases.json')\n", "io.open"),
        ("import threading\nthreading.Lock()\n", "threading"),
        ("from threading import Thread\n", "threading.Thread"),
        ("from concurrent.futures import ThreadPoolExecutor\n", "concurrent.futures"),
        ("import subprocess\n", "subprocess"),
        ("import socket\n", "socket"),
        ("from pathlib import Path\nPath('x').read_text()\n", "pathlib.Path"),
        ("import asyncio\nasyncio.sleep(1)\n", "asyncio.sleep"),
        ("from asyncio import wait\n", "asyncio.wait"),
    ],
)
def test_the_determinism_check_catches(source: str, caught: str) -> None:
    found = non_deterministic_uses(source)
    assert any(name == caught or name.startswith(f"{caught}.") for name in found), found


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import UTC, datetime, time, timedelta\n"
        "opens = time(9, 0)\nday = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=1)\n",
        "from temporalio import workflow\nnow = workflow.now()\nkey = workflow.uuid4()\n",
        "import asyncio\nasyncio.create_task(run())\n",
        "from zoneinfo import ZoneInfo\nparis = ZoneInfo('Europe/Paris')\n",
        "def f(time: int) -> int:\n    return time + 1\n",
    ],
)
def test_the_determinism_check_lets_pure_code_pass(source: str) -> None:
    assert non_deterministic_uses(source) == set()
