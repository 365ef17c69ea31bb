"""The API's shared shapes: pages, bounded integers, the SLA status filter, assign's agent."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from caseflow.api import schemas
from caseflow.api.app import create_app
from caseflow.settings import Settings
from caseflow.workflows.bounds import MAX_INT, Count, Id
from caseflow.workflows.model import KpiStatus


class Numbers(BaseModel):
    count: Count = 0
    id: Id = 1


def test_a_page_cut_from_a_whole_list_says_how_many_there_are_in_all() -> None:
    page = schemas.Page[int].cut(list(range(10)), limit=3, offset=8)
    assert (page.items, page.total, page.limit, page.offset) == ([8, 9], 10, 3, 8)
    assert schemas.Page[int].cut([], limit=3, offset=MAX_INT).items == []


@pytest.mark.parametrize(
    "fields", [{"count": -1}, {"count": MAX_INT + 1}, {"count": 2**63}, {"id": 0}, {"id": 2**64}]
)
def test_integers_outside_what_the_databases_hold_are_refused(fields: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        Numbers.model_validate(fields)


def test_the_largest_integer_a_postgresql_integer_holds_is_accepted() -> None:
    assert Numbers(count=MAX_INT, id=MAX_INT).count == MAX_INT == 2**31 - 1


def test_the_sla_status_filter_knows_every_word_a_case_can_have() -> None:
    assert set(schemas.SlaStatus) == {"none"} | set(KpiStatus)


def test_assign_names_the_agent_and_still_understands_owner() -> None:
    assert schemas.Assign.model_validate({"agent": "ann"}).handle == "ann"
    assert schemas.Assign.model_validate({"owner": "ann"}).handle == "ann"
    assert schemas.Assign.model_validate({"agent": "ann", "owner": "ann"}).handle == "ann"


@pytest.mark.parametrize("body", [{}, {"comment": "x"}, {"agent": "ann", "owner": "bob"}])
def test_assign_refuses_no_agent_or_two_different_ones(body: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        schemas.Assign.model_validate(body)


@pytest.mark.slow
def test_every_list_the_api_answers_is_a_page_that_takes_limit_and_offset() -> None:
    spec = create_app(Settings()).openapi()
    pages = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            answer = operation["responses"].get("200", {}).get("content", {})
            schema = resolved(answer.get("application/json", {}).get("schema", {}), spec)
            assert schema.get("type") != "array", f"{method} {path} answers a bare list"
            if "items" in schema.get("properties", {}):
                pages.append(path)
                assert {"items", "total", "limit", "offset"} <= set(schema["properties"]), path
                taken = {p["name"] for p in operation.get("parameters", [])}
                assert {"limit", "offset"} <= taken, f"{method} {path} takes no paging"
    assert {"/cases", "/knowledge", "/cases/{number}/suggestions", "/quarantine"} <= set(pages)


def resolved(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema
