"""The fields each resolution stage requires before a case advances, as a configuration kind.

A stage without configuration requires the default (identify: product and category; research:
diagnosis). New cases pin the requirements they were created with, like their SLA policy.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.configuration.base import ConfigError, Kind, register
from caseflow.store.models import StageRequirement

FIELD_NAME = r"^[a-z][a-z0-9_]{0,63}$"


class StageConfig(BaseModel):
    """`product` is the case's product (advance may set it; it must be a known product); any
    other name is a free field of the case (`category`, `diagnosis`, ...)."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["identify", "research", "resolve"]
    required: list[str] = Field(default_factory=list, max_length=20)


def _save_stage(session: Session, spec: StageConfig) -> None:
    for name in spec.required:
        if not _is_field_name(name):
            raise ConfigError(
                "invalid", f"stage {spec.name}: {name!r} is not a field name (a-z, 0-9, _)"
            )
    twice = sorted({n for n in spec.required if spec.required.count(n) > 1})
    if twice:
        raise ConfigError("invalid", f"stage {spec.name}: {', '.join(twice)} listed twice")
    row = session.scalar(select(StageRequirement).where(StageRequirement.stage == spec.name))
    if row is None:
        session.add(StageRequirement(stage=spec.name, fields=list(spec.required)))
    elif list(row.fields) != spec.required:
        row.fields = list(spec.required)


def _is_field_name(name: str) -> bool:
    return re.fullmatch(FIELD_NAME, name) is not None


def _dump_stages(session: Session) -> list[StageConfig]:
    rows = session.scalars(select(StageRequirement).order_by(StageRequirement.stage))
    return [StageConfig.model_validate({"name": r.stage, "required": r.fields}) for r in rows]


def _delete_stage(session: Session, name: str) -> None:
    """Back to the default requirements; running cases keep the ones they were created with."""
    row = session.scalar(select(StageRequirement).where(StageRequirement.stage == name))
    session.delete(row)


stages = register(
    Kind(
        name="stages",
        spec=StageConfig,
        key=lambda s: s.name,
        save=_save_stage,
        dump=_dump_stages,
        delete=_delete_stage,
        describe="Fields each stage (identify, research, resolve) requires before advance.",
    )
)
