"""What the agent's case pages derive and judge without I/O: each action's form from its JSON body
(the same pydantic model the API takes), which actions a case's state offers (`lifecycle.ACTIONS`),
whether a form is stale (the case changed since the page was rendered), and SLA countdowns."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from annotated_types import Ge, Le, MaxLen, MinLen
from pydantic import AwareDatetime, BaseModel, ValidationError

from caseflow.workflows import lifecycle
from caseflow.workflows.model import CaseStatus, Role

STAGE_FIELD = "fields."  # a stage field's input is `fields.<name>`
STALE = lifecycle.STALE  # the case refuses an action from an older page (`Actor.saw`)
# Text longer than this is a text area rather than a line.
LINE = 1000


@dataclass(frozen=True)
class FormField:
    """One input of an action's form, from one field of its JSON body."""

    name: str
    label: str
    kind: Literal["text", "textarea", "number", "select", "checkbox", "datetime", "stage"]
    required: bool
    help: str = ""
    min_length: int | None = None
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()


def form_fields(model: type[BaseModel]) -> list[FormField]:
    """The inputs of a form that fills this body: one per field, deprecated names left out."""
    fields: list[FormField] = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("deprecated"):
            continue
        bounds = {type(m): m for m in info.metadata}
        kind, choices = _kind(info.annotation)
        longest = _bound(bounds, MaxLen, "max_length")
        if kind == "text" and (longest is None or longest > LINE):
            kind = "textarea"
        fields.append(
            FormField(
                name=name,
                label=name.replace("_", " ").capitalize(),
                kind=kind,
                required=info.is_required(),
                help=info.description or "",
                min_length=_bound(bounds, MinLen, "min_length"),
                max_length=longest,
                minimum=_bound(bounds, Ge, "ge"),
                maximum=_bound(bounds, Le, "le"),
                choices=choices,
            )
        )
    return fields


def _bound(bounds: Mapping[type, Any], kind: type, attribute: str) -> int | None:
    found = bounds.get(kind)
    value = getattr(found, attribute, None) if found is not None else None
    return value if isinstance(value, int) else None


def _kind(annotation: Any) -> tuple[Any, tuple[str, ...]]:
    """The input for a field's type (`int | None` is a number, a Literal or enum a choice)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "select", tuple(str(a) for a in typing.get_args(annotation))
    if origin is not None and origin is not dict and len(args) == 1:  # X | None
        return _kind(args[0])
    if origin is dict or annotation is dict:
        return "stage", ()
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return "select", tuple(str(v) for v in annotation)
    if annotation is bool:
        return "checkbox", ()
    if annotation is int:
        return "number", ()
    if annotation is AwareDatetime or (
        isinstance(annotation, type) and issubclass(annotation, datetime)
    ):
        return "datetime", ()
    return "text", ()


def body_of_form(model: type[BaseModel], form: Mapping[str, str]) -> BaseModel:
    """The body a form gives, validated as the API validates it (raises ValidationError). An
    empty optional input is the field's default; stage inputs (`fields.<name>`) make a dict of
    the ones filled in."""
    given: dict[str, Any] = {}
    for field in form_fields(model):
        if field.kind == "stage":
            given[field.name] = {
                key[len(STAGE_FIELD) :]: value.strip()
                for key, value in form.items()
                if key.startswith(STAGE_FIELD) and value.strip()
            }
        elif field.kind == "checkbox":
            given[field.name] = field.name in form
        elif (value := form.get(field.name, "")).strip() or field.required:
            given[field.name] = _value(field, value)
    return model.model_validate(given)


def _value(field: FormField, value: str) -> str:
    """What an input gives: a text area's text as typed, other inputs trimmed, a browser's
    local date and time (`datetime-local`, no zone) read as UTC, as the form says."""
    if field.kind == "textarea":
        return value
    value = value.strip()
    if field.kind == "datetime" and value and not re.search(r"(Z|[+-]\d\d:?\d\d)$", value):
        return f"{value}+00:00"
    return value


def problem_of(err: ValidationError) -> str:
    """A validation error as one sentence, naming each field wrong."""
    said = []
    for error in err.errors():
        where = ".".join(str(part) for part in error["loc"]) or "the form"
        said.append(f"{where}: {error['msg']}")
    return "the form has wrong or missing fields: " + "; ".join(said)


def offered_in(status: str, role: str, rules: Mapping[str, str]) -> list[str]:
    """The actions (name → the entry of `lifecycle.ACTIONS` that rules it) allowed in this state
    to this role, in the given order; what the case then judges of the request it still
    judges."""
    try:
        state = CaseStatus(status)
    except ValueError:
        return []
    supervisor = role in (Role.SUPERVISOR, Role.ADMIN)
    offered = []
    for name, rule in rules.items():
        action = lifecycle.ACTIONS.get(rule)
        if action is None or state not in action.states:
            continue
        if supervisor or not action.supervisors_only:
            offered.append(name)
    return offered


# -- staleness ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One recorded change of a case (an audit entry): its version, who and what."""

    seq: int
    actor: str
    action: str


def stale_refusal(rendered: int, current: int, since: Iterable[Change]) -> str | None:
    """Why an action from a form rendered at version `rendered` is refused now that the case is
    at `current` (None: it is not stale); `since`: the changes recorded after `rendered`."""
    if rendered >= current:
        return None
    changes = sorted((c for c in since if c.seq > rendered), key=lambda c: c.seq)
    said = ", ".join(f"{c.action} by {c.actor}" for c in changes[-3:]) or "changes"
    if len(changes) > 3:
        said = f"{len(changes) - 3} more and {said}"
    return (
        f"this case changed since you opened it: {said}. Nothing was done; "
        "reload the case to see it, then act again"
    )


def changed_by(since: Iterable[Change]) -> Change | None:
    """The latest of these changes, for the banner of a page open while the case changed."""
    return max(since, key=lambda c: c.seq, default=None)


# -- SLA countdowns ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Countdown:
    """An SLA due time as the page shows it: words, a colour class, seconds left (negative:
    late), the due time for a script to count down from."""

    text: str
    tone: Literal["", "nearing", "breached", "paused", "met"]
    seconds: int | None
    due: datetime | None


def countdown(
    due: datetime | None, status: str, now: datetime, warn: datetime | None = None
) -> Countdown:
    """The SLA state of a case or KPI at `now`: the status the workflow recorded, and the time
    left to the due time it recorded (late as soon as it passed, before the timer's record)."""
    if status == "paused":
        return Countdown("paused", "paused", None, None)
    if status == "succeeded":
        return Countdown("met", "met", None, None)
    if due is None:
        return Countdown("—" if status in ("none", "") else status, "", None, None)
    left = int((due - now).total_seconds())
    if left <= 0 or status == "noncompliant":
        return Countdown(f"breached {duration(-left)} ago", "breached", left, due)
    nearing = status == "nearing_noncompliance" or (warn is not None and warn <= now)
    return Countdown(f"due in {duration(left)}", "nearing" if nearing else "", left, due)


def duration(seconds: int) -> str:
    """`2 d 3 h`, `1 h 20 min`, `5 min`, `less than a minute`."""
    span = timedelta(seconds=max(0, seconds))
    days, hours, minutes = span.days, span.seconds // 3600, span.seconds % 3600 // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else "less than a minute"
