"""Caseflow's search attributes: the keys the workflow keeps current and ops query in the UI."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

CASE_STATE = SearchAttributeKey.for_keyword("CaseState")
CASE_STAGE = SearchAttributeKey.for_keyword("CaseStage")
CASE_QUEUE = SearchAttributeKey.for_keyword("CaseQueue")
CASE_OWNER = SearchAttributeKey.for_keyword("CaseOwner")
CASE_CHANNEL = SearchAttributeKey.for_keyword("CaseChannel")
CASE_PRODUCT = SearchAttributeKey.for_keyword("CaseProduct")
SLA_STATUS = SearchAttributeKey.for_keyword("SlaStatus")
CASE_PRIORITY = SearchAttributeKey.for_int("CasePriority")
SLA_DUE_AT = SearchAttributeKey.for_datetime("SlaDueAt")

ALL_KEYS: tuple[SearchAttributeKey[Any], ...] = (
    CASE_STATE,
    CASE_STAGE,
    CASE_QUEUE,
    CASE_OWNER,
    CASE_CHANNEL,
    CASE_PRODUCT,
    SLA_STATUS,
    CASE_PRIORITY,
    SLA_DUE_AT,
)
_BY_NAME = {key.name: key for key in ALL_KEYS}


def dev_server_args() -> list[str]:
    """`--search-attribute Name=Type` arguments for `temporal server start-dev`."""
    args: list[str] = []
    for key in ALL_KEYS:
        args += ["--search-attribute", f"{key.name}={_type_name(key)}"]
    return args


def cli_types() -> dict[str, str]:
    """Name → type as `temporal operator search-attribute create` spells it."""
    return {key.name: _type_name(key) for key in ALL_KEYS}


def updates(values: dict[str, str | int | datetime | None]) -> list[SearchAttributeUpdate[Any]]:
    """Upserts for the given values; None unsets the attribute."""
    result: list[SearchAttributeUpdate[Any]] = []
    for name, value in values.items():
        key = _BY_NAME[name]
        result.append(key.value_unset() if value is None else key.value_set(value))
    return result


def initial(values: dict[str, str | int | datetime | None]) -> TypedSearchAttributes:
    pairs = [SearchAttributePair(_BY_NAME[n], v) for n, v in values.items() if v is not None]
    return TypedSearchAttributes(pairs)


def _type_name(key: SearchAttributeKey[Any]) -> str:
    return {
        "KEYWORD": "Keyword",
        "INT": "Int",
        "DATETIME": "Datetime",
    }[key.indexed_value_type.name]
