"""Shared ground of the rules: refusals, effects, state sets, stage fields, the action registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from caseflow.workflows.kpis import WORKING as WORKING  # the states a case is worked in
from caseflow.workflows.model import MAX_FIELD_NAME as MAX_FIELD_NAME
from caseflow.workflows.model import MAX_FIELD_VALUE as MAX_FIELD_VALUE
from caseflow.workflows.model import MAX_TEXT as MAX_TEXT
from caseflow.workflows.model import (
    CaseState,
    CaseStatus,
    EmailRequest,
    EntitlementChange,
    FollowUpRequest,
    ParentNotice,
    Stage,
    TimelineEvent,
)

ACTIVE = frozenset(
    {CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.AWAITING_CUSTOMER, CaseStatus.ON_HOLD}
)


PAUSED_BY_WAITING = frozenset({CaseStatus.AWAITING_CUSTOMER, CaseStatus.ON_HOLD})


FINAL = frozenset({CaseStatus.CLOSED, CaseStatus.CANCELLED, CaseStatus.MERGED})


STAGE_ORDER = (Stage.IDENTIFY, Stage.RESEARCH, Stage.RESOLVE)


STAGE_FIELDS: dict[Stage, tuple[str, ...]] = {
    Stage.IDENTIFY: ("category",),
    Stage.RESEARCH: ("diagnosis",),
    Stage.RESOLVE: (),
}


PRODUCT_FIELD = "product"  # a stage may require the case's product, which advance can set


ESCALATIONS_QUEUE = "escalations"


MAX_COPIED = 20  # copied addresses taken from one email, at most


UNVERIFIED_KEPT = 20  # unverified replies kept for an agent's decision, newest last


# The lifecycle rules a new case is created under (pinned in its state, see CaseContext). Rules
# that change what an event does are gated by the version, so running cases, created under an
# older one, replay their histories exactly. Version 1: resolving needs the fields of every
# stage before `resolve` (and moves the case to that stage); the customer's emails of a case
# without an address go to the account's primary contact, or are skipped with a timeline
# entry (an agent's reply is refused), never failed. Version 2: every change of status goes
# through one transition (`transitions.transition`), so a policy that pauses in a state pauses
# there however the case entered it (a reopened case, say, entered `open` without it).
# Version 3: a customer's reply to a resolved case reopens it only when the judge of its words
# (`replies.judge_reply`) says so, unless the case was pinned to `ResolvedReply.REOPEN`; a reply
# that leaves it resolved is said on the timeline and to its owner.
RULES_VERSION = 3


class Refusal(Exception):
    """An action the case refuses; `code` is machine-readable, `detail` says why to a person."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass
class Effects:
    events: list[TimelineEvent] = field(default_factory=list)
    emails: list[EmailRequest] = field(default_factory=list)
    entitlement_changes: list[EntitlementChange] = field(default_factory=list)
    follow_ups: list[FollowUpRequest] = field(default_factory=list)
    child_notices: list[ParentNotice] = field(default_factory=list)

    def event(
        self, kind: str, at: datetime, actor: str, summary: str, body: str = "", **data: str
    ) -> None:
        self.events.append(TimelineEvent(kind, at, actor, summary, body, dict(data)))


@dataclass(frozen=True)
class Action:
    """An agent action, declared once: the states it is allowed in, its check and what it does.
    One with a `request` type is offered as it is declared: the case workflow's update of that
    name, `POST /cases/{number}/<name>` with a body of the request's given fields
    (`model.given`), and `caseflow case <name>`, each derived from this entry, with `doc` as
    their help. Those without (activities, links and merges, which ask another case or answer
    with more than the case) keep handlers and routes of their own."""

    states: frozenset[CaseStatus]
    apply: Callable[[CaseState, Any, datetime], Effects]
    check: Callable[[CaseState, Any], None] | None = None
    supervisors_only: bool = False
    request: type[Any] | None = None
    doc: str = ""

    @property
    def summary(self) -> str:
        """The doc's first clause: the update's description, the command's short help."""
        return self.doc.split(". ")[0].split(": ")[0].split("; ")[0].rstrip(".")


def check_field_sizes(fields: dict[str, str]) -> None:
    # Unchanged since cases first advanced: running cases replay their recorded advances.
    for name, value in fields.items():
        if len(name) > MAX_FIELD_NAME or len(value) > MAX_FIELD_VALUE:
            raise Refusal("invalid_input", f"field {name[:MAX_FIELD_NAME]!r} is too long")


def set_fields(state: CaseState, fields: dict[str, str]) -> None:
    state.product = fields.get(PRODUCT_FIELD) or state.product
    state.fields.update({k: v for k, v in fields.items() if v and k != PRODUCT_FIELD})


def lateness(state: CaseState, due: datetime, now: datetime) -> str:
    late = now - due
    return humanize(late) if late >= state.timings.late_threshold else ""


def field_value(state: CaseState, fields: dict[str, str], name: str) -> str:
    if name == PRODUCT_FIELD:
        return fields.get(name) or state.product or ""
    return fields.get(name) or state.fields.get(name, "")


def check_text(name: str, value: str) -> None:
    if not value.strip():
        raise Refusal("invalid_input", f"{name} must not be empty")
    if len(value) > MAX_TEXT:
        raise Refusal("invalid_input", f"{name} is longer than {MAX_TEXT} characters")


def humanize(duration: timedelta) -> str:
    """`2 days 3 h 4 min` for people reading emails; seconds only below a minute."""
    seconds = int(duration.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes else []
    return " ".join(parts)


def required_fields(state: CaseState) -> tuple[str, ...]:
    """The fields the current stage needs before `advance`."""
    return stage_requirements(state, state.stage)


def stage_requirements(state: CaseState, stage: Stage) -> tuple[str, ...]:
    """The fields a stage needs before the case leaves it: pinned when the case was created;
    cases from before the pinning keep the built-in STAGE_FIELDS."""
    if state.stage_fields is None:
        return STAGE_FIELDS[stage]
    return tuple(state.stage_fields.get(str(stage), ()))


# Every agent action by name: each module of the rules registers its own.
ACTIONS: dict[str, Action] = {}
