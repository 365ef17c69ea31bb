"""SLA policies in their one shape, `Policy`: as people write them (YAML, the admin API,
`caseflow import`), as the database keeps them and, pinned, as a case carries them.

```yaml
name: gold
calendar: 24x7                       # a calendar saved before (`caseflow calendar load`)
default: false                       # the policy of cases no entitlement chooses
pause_states: [awaiting_customer, on_hold]
position: 10                         # chosen by the first policy whose conditions all hold
conditions: {priorities: [1, 2], customers: ["@acme.example"], channels: [email]}
on_warning: {notify: [owner]}        # owner (the queue while unassigned), queue, supervisors
on_failure: {notify: [owner, supervisors], raise_priority_to: 1, move_to_queue: escalations}
kpis:
  first_response: {warn_after: PT10M, fail_after: PT15M}
  next_response:  {warn_after: PT45M, fail_after: PT1H}
  resolution:     {warn_after: PT6H,  fail_after: PT8H}
```
A policy whose warning does not come before its failure, an unknown KPI, state or calendar, or a
duration that is not ISO 8601 is refused with a sentence saying why, never at run time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from caseflow.workflows.bounds import MAX_INT
from caseflow.workflows.calendar import CalendarSpec
from caseflow.workflows.model import (
    NOTIFY_OWNER,
    NOTIFY_QUEUE,
    NOTIFY_SUPERVISORS,
    CaseStatus,
    KpiName,
    KpiTarget,
    PolicyConditions,
    Priority,
    SlaActions,
)
from caseflow.workflows.model import SlaPolicy as ModelPolicy

# The database and Temporal are imported by the functions that use them: reading a policy file,
# or catching PolicyError as the `caseflow` command does, imports neither.
if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from temporalio.client import Client

    from caseflow.store.models import SlaPolicy

PAUSABLE = {CaseStatus.AWAITING_CUSTOMER, CaseStatus.ON_HOLD, CaseStatus.NEW, CaseStatus.OPEN}
_DURATION = TypeAdapter(timedelta)
_CONDITIONS = TypeAdapter(PolicyConditions)


class PolicyError(ValueError):
    """A policy that cannot be used: the message says why; `code` is "unknown_reference" when
    it names a calendar or queue that does not exist, else "invalid"."""

    def __init__(self, detail: str, code: str = "invalid") -> None:
        super().__init__(detail)
        self.code = code


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    try:
        return _DURATION.validate_python(str(value))
    except ValidationError:
        raise ValueError(f"{value!r} is not an ISO 8601 duration such as PT4H") from None


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class Target(BaseModel):
    """A KPI's warning and failure, after its start, in the policy's calendar's business time."""

    model_config = ConfigDict(extra="forbid")
    warn_after: Duration
    fail_after: Duration

    @model_validator(mode="before")
    @classmethod
    def _both(cls, data: Any) -> Any:
        if not isinstance(data, dict) or {"warn_after", "fail_after"} - set(data):
            raise ValueError("needs warn_after and fail_after")
        return data


class Policy(BaseModel):
    """An SLA policy in its one written shape: YAML (`caseflow sla load`), the admin API and
    `caseflow import` take it, the database keeps its fields (`save_policy`, `Policy.of_row`),
    and a case pins it as the workflow's `SlaPolicy` (`pinned`), its calendar resolved. Its
    fields' types say what is well formed (a malformed body is the API's `invalid_request`);
    `check` the rules a well-formed policy must keep (`invalid`), before it is used or saved.
    Every integer is bounded (priorities 1 to 4, a position that fits the database)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    calendar: str = Field(default="24x7", min_length=1, max_length=100)
    default: bool = False  # the policy of cases that nothing else chooses one for
    position: int = Field(default=100, ge=0, le=MAX_INT)
    pause_states: list[CaseStatus] = Field(
        default_factory=lambda: [CaseStatus.AWAITING_CUSTOMER, CaseStatus.ON_HOLD]
    )
    kpis: dict[KpiName, Target]
    conditions: PolicyConditions = Field(default_factory=PolicyConditions)
    on_warning: SlaActions | None = None  # None: the default (notify the owner)
    on_failure: SlaActions | None = None  # None: the default (owner and supervisors)

    @field_validator("position", mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"position must be a whole number, not {value!r}")
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"position must be a whole number, not {value!r}") from None

    @field_validator("kpis", mode="before")
    @classmethod
    def _known_kpis(cls, kpis: Any) -> Any:
        if not isinstance(kpis, dict) or not kpis:
            raise ValueError("has no kpis")
        for kpi in kpis:
            if str(kpi) not in {k.value for k in KpiName}:
                known = ", ".join(k.value for k in KpiName)
                raise ValueError(f"unknown KPI {kpi!r} (known: {known})")
        return kpis

    @field_validator("conditions", mode="before")
    @classmethod
    def _known_conditions(cls, data: Any) -> Any:
        known = {f.name for f in fields(PolicyConditions)}
        if isinstance(data, dict) and set(data) - known:
            unknown = sorted(set(data) - known)
            raise ValueError(f"bad conditions: unknown {unknown} (known: {sorted(known)})")
        priorities = data.get("priorities") if isinstance(data, dict) else None
        if isinstance(priorities, list) and any(
            isinstance(p, int) and p not in Priority.ALL for p in priorities
        ):
            raise ValueError(f"bad conditions: priorities are {Priority.ALL}")
        return data or {}

    @field_validator("on_warning", "on_failure", mode="before")
    @classmethod
    def _known_actions(cls, data: Any) -> Any:
        known = {f.name for f in fields(SlaActions)}
        if isinstance(data, dict) and set(data) - known:
            raise ValueError(f"unknown {sorted(set(data) - known)}")
        return data

    def check(self) -> None:
        """The rules a well-formed policy must also keep; PolicyError saying which it breaks."""
        if not self.name.strip():
            raise PolicyError("a policy needs a name")
        for problem in self._problems():
            raise PolicyError(f"{self.name}: {problem}")

    def _problems(self) -> Iterator[str]:
        for kpi, target in self.kpis.items():
            if target.warn_after <= timedelta(0) or target.fail_after <= timedelta(0):
                yield f"{kpi} durations must be positive"
            if target.warn_after >= target.fail_after:
                yield (
                    f"the {kpi} warning ({_iso(target.warn_after)}) must come before its "
                    f"failure ({_iso(target.fail_after)})"
                )
        for state in self.pause_states:
            if state not in PAUSABLE:
                allowed = ", ".join(sorted(s.value for s in PAUSABLE))
                yield f"{state.value!r} cannot pause SLA clocks (use one of {allowed})"
        for what, actions in (("on_warning", self.on_warning), ("on_failure", self.on_failure)):
            if actions is None:
                continue
            unknown = set(actions.notify) - {NOTIFY_OWNER, NOTIFY_QUEUE, NOTIFY_SUPERVISORS}
            if unknown:
                yield f"{what} cannot notify {sorted(unknown)}"

    @field_serializer("conditions")
    def _written_conditions(self, conditions: PolicyConditions) -> dict[str, Any]:
        written = _CONDITIONS.dump_python(conditions, mode="json")
        return {k: v for k, v in written.items() if v}

    @property
    def targets(self) -> list[KpiTarget]:
        return [KpiTarget(kpi, t.warn_after, t.fail_after) for kpi, t in self.kpis.items()]

    def pinned(self, calendar: CalendarSpec) -> ModelPolicy:
        """The policy as a case carries it, counted in `calendar` (this policy's, resolved)."""
        policy = ModelPolicy(
            name=self.name,
            calendar=calendar,
            targets=sorted(self.targets, key=lambda t: t.kpi.value),
            pause_states=list(self.pause_states),
            position=self.position,
            conditions=self.conditions,
        )
        if self.on_warning is not None:
            policy.on_warning = self.on_warning
        if self.on_failure is not None:
            policy.on_failure = self.on_failure
        return policy

    @classmethod
    def of_row(cls, row: SlaPolicy) -> Policy:
        """The policy as the database keeps it (checked when it was saved)."""
        return cls.model_validate(
            {
                "name": row.name,
                "calendar": row.calendar.name,
                "default": row.is_default,
                "position": row.position,
                "pause_states": row.pause_states,
                "kpis": row.targets,
                "conditions": row.conditions or {},
                "on_warning": row.on_warning,
                "on_failure": row.on_failure,
            }
        )


def load_policy(path: Path) -> Policy:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise PolicyError(f"cannot read policy {path}: {err}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: a policy is a mapping with name, calendar and kpis")
    return policy_from_dict(data)


def policy_from_dict(data: dict[str, Any]) -> Policy:
    """The policy written as `data`, checked; PolicyError saying what is wrong, and where."""
    try:
        policy = Policy.model_validate(data)
    except ValidationError as err:
        raise PolicyError(problem(data, err)) from None
    policy.check()
    return policy


def problem(data: Any, err: ValidationError) -> str:
    """The first problem of a policy as one sentence, naming the policy and where it is."""
    first = err.errors()[0]
    name = (data.get("name") if isinstance(data, dict) else None) or "a policy"
    where = ".".join(str(p) for p in first["loc"])
    if first["type"] == "value_error":
        said = str(first["ctx"]["error"])
        # A sentence that names its field says where it is; the others are told where.
        named = where in ("", "kpis", "conditions", "position")
        return f"{name}: {said}" if named else f"{name}: {where}: {said}"
    return f"{name}: bad {where}: {first['msg']}"


def _require_queue(session: Session, policy: str, name: str) -> None:
    from sqlalchemy import select

    from caseflow.store.models import Queue

    if session.scalar(select(Queue.id).where(Queue.name == name)) is None:
        raise PolicyError(f"{policy}: unknown queue {name!r}", "unknown_reference")


def _iso(value: timedelta) -> str:
    return str(_DURATION.dump_python(value, mode="json"))


# -- the database ---------------------------------------------------------------------------------


def save_policy(session: Session, policy: Policy) -> SlaPolicy:
    """Create or replace the policy of this name, after checking it and what it names."""
    from sqlalchemy import select, update

    from caseflow.store.models import Calendar, SlaPolicy

    policy.check()
    calendar = session.scalar(select(Calendar).where(Calendar.name == policy.calendar))
    if calendar is None:
        raise PolicyError(
            f"{policy.name}: unknown calendar {policy.calendar!r}", "unknown_reference"
        )
    for actions in (policy.on_warning, policy.on_failure):
        if actions is not None and actions.move_to_queue:
            _require_queue(session, policy.name, actions.move_to_queue)
    if policy.default:  # one default policy
        others = (SlaPolicy.name != policy.name) & SlaPolicy.is_default.is_(True)
        session.execute(update(SlaPolicy).where(others).values(is_default=False))
    row = session.scalar(select(SlaPolicy).where(SlaPolicy.name == policy.name))
    if row is None:
        row = SlaPolicy(name=policy.name)
    written = policy.model_dump(mode="json")
    row.calendar_id = calendar.id
    row.is_default = policy.default
    row.pause_states = written["pause_states"]
    row.targets = written["kpis"]
    row.position = policy.position
    row.conditions = written["conditions"]
    row.on_warning = written["on_warning"]
    row.on_failure = written["on_failure"]
    session.add(row)
    session.flush()
    return row


# -- running cases ----------------------------------------------------------------------------


async def migrate_running_cases(
    client: Client, session: Session, name: str, policy: ModelPolicy, migrated_by: str = "admin"
) -> list[str]:
    """Move the running cases of this policy onto its current version (`policy`): an explicit
    step, recorded on each case, from this process and at once; answers the case numbers told.
    `caseflow sla migrate` starts a rollout instead (`start_rollout`), batched and resumable."""
    from caseflow.client import tell_cases
    from caseflow.store import cases
    from caseflow.workflows.fanout import BATCH_SIZE, batches, policy_change

    change = policy_change(policy, migrated_by)
    numbers = cases.cases_under_policy(session, name)
    for batch in batches(numbers, BATCH_SIZE):
        await tell_cases(client, change, batch)
    return numbers
