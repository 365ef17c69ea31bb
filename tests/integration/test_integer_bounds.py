"""Every integer the API takes in is bounded, so an attacker's number answers 422 instead of
reaching the database (2**63 was an OverflowError in SQLite, a 500). The test walks the app's
OpenAPI schema: every integer path and query parameter and every integer field of every body,
sent out of range, must be refused by name; the largest accepted value of every parameter of
every read must not fail either. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from caseflow.api.app import create_app
from caseflow.settings import DEVELOPMENT_SECRET, Settings
from caseflow.signing import token_hash
from caseflow.store import directory
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.workflows.bounds import MAX_INT
from tests.support.api import bearer, serving
from tests.support.read_model import add_case

ADMIN = bearer("admin-token")
NUMBER = "CAS-000001"
OUT_OF_RANGE = [-1, MAX_INT + 1, 2**63, 10**30]
# A value for each path parameter that names something real, so a request gets past its lookups.
PATH_VALUES = {"number": NUMBER, "name": "standard", "key": "standard", "token": "x"}
SAMPLE_STRINGS = ["CAS-000001", "ann@example.com", "x"]  # the first a pattern accepts
PARAMETER = re.compile(r"\{(\w+)(:\w+)?\}")  # in a path: {number}, {key:path}


@dataclass(frozen=True)
class Target:
    """One integer the API takes in: a parameter, or a field of a body (`place`: its path)."""

    method: str
    path: str
    operation: dict[str, Any]
    where: str  # path, query, or the body's media type
    place: tuple[str, ...]  # a parameter's name; a body field's keys ("*": any key, "[]": item)
    schema: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path} {self.where}:{'.'.join(self.place)}"


@pytest.fixture
async def http(
    database_url: str, dev_env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The API over this database and a real Temporal client (no worker: nothing out of range
    may get as far as a workflow), with a case, an admin, and reprocessing that must not run."""
    engine = make_engine(database_url)
    with transaction(session_factory(engine)) as session:
        directory.create_agent(
            session, "ada", "ada@x.test", "admin", [], token_hash(DEVELOPMENT_SECRET, "admin-token")
        )
        add_case(session, NUMBER)
    engine.dispose()

    async def never(*_: Any) -> Any:
        raise AssertionError("an out-of-range message id reached the intake")

    settings = Settings(home=tmp_path / "home", database_url=database_url)
    async with serving(create_app(settings, dev_env.client, reprocess=never)) as client:
        yield client


# -- walking the schema ---------------------------------------------------------------------------


def resolved(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def integers(
    schema: dict[str, Any], spec: dict[str, Any], place: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """(where, schema) of every integer in a schema, through references, unions, objects,
    maps and lists."""
    schema = resolved(schema, spec)
    if schema.get("type") == "integer":
        yield place, schema
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        yield from integers(branch, spec, place)
    for name, field in schema.get("properties", {}).items():
        yield from integers(field, spec, (*place, name))
    if isinstance(schema.get("additionalProperties"), dict):
        yield from integers(schema["additionalProperties"], spec, (*place, "*"))
    if isinstance(schema.get("items"), dict):
        yield from integers(schema["items"], spec, (*place, "[]"))


def targets(spec: dict[str, Any]) -> list[Target]:
    found: list[Target] = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                for _, schema in integers(parameter["schema"], spec):
                    name = (parameter["name"],)
                    found.append(Target(method, path, operation, parameter["in"], name, schema))
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                for place, schema in integers(content.get("schema", {}), spec):
                    found.append(Target(method, path, operation, media, place, schema))
    return found


# -- building requests ----------------------------------------------------------------------------


def sample(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """A value the schema accepts: required fields only, the first of a choice."""
    schema = resolved(schema, spec)
    if "enum" in schema:
        return schema["enum"][0]
    for union in ("anyOf", "oneOf"):
        if union in schema:
            return sample(next(s for s in schema[union] if s.get("type") != "null"), spec)
    kind = schema.get("type")
    if kind == "object":
        fields = schema.get("properties", {})
        return {name: sample(fields[name], spec) for name in schema.get("required", [])}
    if kind == "string":
        return _sample_string(schema)
    simple = {"integer": max(1, schema.get("minimum", 1)), "number": 1, "boolean": False}
    return simple.get(str(kind), [] if kind == "array" else None)


def _sample_string(schema: dict[str, Any]) -> str:
    formats = {"date": "2026-03-02", "date-time": "2026-03-02T09:00:00Z", "duration": "PT1H"}
    if schema.get("format") in formats:
        return formats[schema["format"]]
    pattern = schema.get("pattern")
    fitting = [s for s in SAMPLE_STRINGS if pattern is None or re.fullmatch(pattern, s)]
    return (fitting or ["x"])[0] * max(1, schema.get("minLength", 1) if not fitting else 1)


def with_value(body: Any, place: tuple[str, ...], value: int) -> Any:
    """The body with the integer at `place` (made if missing) set to `value`."""
    if not place:
        return value
    step, rest = place[0], place[1:]
    if step == "[]":
        return [with_value(None, rest, value)]
    node = dict(body) if isinstance(body, dict) else {}
    node["k" if step == "*" else step] = with_value(node.get(step), rest, value)
    return node


def request_for(target: Target, value: int, spec: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of `http.request` sending `value` where the target is, with every
    other required part sampled."""
    params = {
        p["name"]: sample(p["schema"], spec)
        for p in target.operation.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }
    if target.where == "query":
        params[target.place[0]] = value
    arguments: dict[str, Any] = {"url": url_for(target, value), "params": params}
    if target.where not in ("path", "query"):
        schema = target.operation["requestBody"]["content"][target.where]["schema"]
        body = with_value(sample(schema, spec), target.place, value)
        arguments["data" if "form" in target.where else "json"] = body
    return arguments


def url_for(target: Target, value: int) -> str:
    def fill(parameter: re.Match[str]) -> str:
        if target.where == "path" and parameter[1] == target.place[0]:
            return str(value)
        return PATH_VALUES.get(parameter[1], "1")

    return PARAMETER.sub(fill, target.path)


def refused_by_name(answer: httpx.Response, target: Target) -> bool:
    """A 422 naming the target among the fields it refused."""
    if answer.status_code != 422:
        return False
    name = target.place[-1] if target.place[-1] not in ("*", "[]") else target.place[0]
    return any(name in [str(part) for part in field["loc"]] for field in answer.json()["fields"])


# -- the tests ------------------------------------------------------------------------------------


async def test_every_integer_the_api_takes_in_has_bounds_that_fit_the_databases(
    http: httpx.AsyncClient,
) -> None:
    spec = (await http.get("/openapi.json")).json()
    found = targets(spec)
    unbounded = [
        str(t) for t in found if not 0 <= t.schema.get("minimum", -1) <= t.schema.get(
            "maximum", MAX_INT + 1) <= MAX_INT
    ]  # fmt: skip
    assert len(found) > 40 and unbounded == []


async def test_every_integer_out_of_range_is_refused_by_name_and_nothing_fails(
    http: httpx.AsyncClient,
) -> None:
    spec = (await http.get("/openapi.json")).json()
    problems: list[str] = []
    for target in targets(spec):
        for value in OUT_OF_RANGE:
            answer = await http.request(target.method, headers=ADMIN,
                                        **request_for(target, value, spec))  # fmt: skip
            if not refused_by_name(answer, target):
                problems.append(f"{target} = {value}: {answer.status_code} {answer.text[:200]}")
    assert problems == []


async def test_the_largest_value_of_every_read_parameter_is_answered(
    http: httpx.AsyncClient,
) -> None:
    spec = (await http.get("/openapi.json")).json()
    problems: list[str] = []
    for target in targets(spec):
        if target.method != "get" or target.where not in ("path", "query"):
            continue
        largest = int(target.schema["maximum"])
        answer = await http.get(headers=ADMIN, **request_for(target, largest, spec))
        if answer.status_code >= 500:
            problems.append(f"{target} = {largest}: {answer.status_code} {answer.text[:200]}")
    assert problems == []
