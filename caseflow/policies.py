"""SLA policies as people write them (YAML) and as the database keeps them, checked when saved.

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

from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from temporalio.client import Client

from caseflow.client import tell_cases
from caseflow.store import cases
from caseflow.store.models import Calendar, Queue, SlaPolicy
from caseflow.workflows.fanout import BATCH_SIZE, batches, policy_change
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

PAUSABLE = {CaseStatus.AWAITING_CUSTOMER, CaseStatus.ON_HOLD, CaseStatus.NEW, CaseStatus.OPEN}
_DURATION = TypeAdapter(timedelta)
_CONDITIONS = TypeAdapter(PolicyConditions)
_ACTIONS = TypeAdapter(SlaActions)


class PolicyError(ValueError):
    """A policy that cannot be used: the message says why; `code` is "unknown_reference" when
    it names a calendar or queue that does not exist, else "invalid"."""

    def __init__(self, detail: str, code: str = "invalid") -> None:
        super().__init__(detail)
        self.code = code


@dataclass
class PolicyDefinition:
    name: str
    calendar: str = "24x7"
    default: bool = False
    pause_states: list[CaseStatus] = field(
        default_factory=lambda: [CaseStatus.AWAITING_CUSTOMER, CaseStatus.ON_HOLD]
    )
    targets: list[KpiTarget] = field(default_factory=list)
    position: int = 100
    conditions: PolicyConditions = field(default_factory=PolicyConditions)
    on_warning: SlaActions | None = None  # None: the default (notify the owner)
    on_failure: SlaActions | None = None  # None: the default (owner and supervisors)


def load_policy(path: Path) -> PolicyDefinition:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise PolicyError(f"cannot read policy {path}: {err}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: a policy is a mapping with name, calendar and kpis")
    return policy_from_dict(data)


def policy_from_dict(data: dict[str, Any]) -> PolicyDefinition:
    name = str(data.get("name") or "").strip()
    if not name:
        raise PolicyError("a policy needs a name")
    kpis = data.get("kpis")
    if not isinstance(kpis, dict) or not kpis:
        raise PolicyError(f"policy {name!r} has no kpis")
    states = data.get("pause_states")
    definition = PolicyDefinition(
        name=name,
        calendar=str(data.get("calendar") or "24x7"),
        default=bool(data.get("default", False)),
        targets=[_target(name, str(kpi), spec) for kpi, spec in kpis.items()],
    )
    if states is not None:
        definition.pause_states = [_state(s) for s in states]
    definition.position = _int(name, "position", data.get("position", 100))
    definition.conditions = _conditions(name, data.get("conditions") or {})
    for what in ("on_warning", "on_failure"):
        if data.get(what) is not None:
            setattr(definition, what, _actions(name, what, data[what]))
    check(definition)
    return definition


def check(definition: PolicyDefinition) -> None:
    for target in definition.targets:
        if target.warn_after <= timedelta(0) or target.fail_after <= timedelta(0):
            raise PolicyError(f"{definition.name}: {target.kpi} durations must be positive")
        if target.warn_after >= target.fail_after:
            raise PolicyError(
                f"{definition.name}: the {target.kpi} warning ({_iso(target.warn_after)}) must "
                f"come before its failure ({_iso(target.fail_after)})"
            )
    kpis = [t.kpi for t in definition.targets]
    if len(kpis) != len(set(kpis)):
        raise PolicyError(f"{definition.name}: a KPI is listed twice")


def _int(policy: str, what: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise PolicyError(f"{policy}: {what} must be a whole number, not {value!r}") from None


def _conditions(policy: str, data: Any) -> PolicyConditions:
    known = {f.name for f in fields(PolicyConditions)}
    if isinstance(data, dict) and set(data) - known:
        unknown = sorted(set(data) - known)
        raise PolicyError(f"{policy}: bad conditions: unknown {unknown} (known: {sorted(known)})")
    try:
        conditions = _CONDITIONS.validate_python(data)
    except ValidationError as err:
        raise PolicyError(f"{policy}: bad conditions: {_first_error(err)}") from None
    if any(p not in Priority.ALL for p in conditions.priorities):
        raise PolicyError(f"{policy}: priorities are {Priority.ALL}")
    return conditions


def _actions(policy: str, what: str, data: Any) -> SlaActions:
    known = {f.name for f in fields(SlaActions)}
    if isinstance(data, dict) and set(data) - known:
        raise PolicyError(f"{policy}: {what}: unknown {sorted(set(data) - known)}")
    try:
        actions = _ACTIONS.validate_python(data)
    except ValidationError as err:
        raise PolicyError(f"{policy}: bad {what}: {_first_error(err)}") from None
    unknown = set(actions.notify) - {NOTIFY_OWNER, NOTIFY_QUEUE, NOTIFY_SUPERVISORS}
    if unknown:
        raise PolicyError(f"{policy}: {what} cannot notify {sorted(unknown)}")
    if actions.raise_priority_to is not None and actions.raise_priority_to not in Priority.ALL:
        raise PolicyError(f"{policy}: {what} raise_priority_to must be one of {Priority.ALL}")
    return actions


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"


def _target(policy: str, kpi: str, spec: Any) -> KpiTarget:
    try:
        name = KpiName(kpi)
    except ValueError:
        known = ", ".join(k.value for k in KpiName)
        raise PolicyError(f"{policy}: unknown KPI {kpi!r} (known: {known})") from None
    if not isinstance(spec, dict) or {"warn_after", "fail_after"} - set(spec):
        raise PolicyError(f"{policy}: {kpi} needs warn_after and fail_after")
    return KpiTarget(
        name, _duration(policy, spec["warn_after"]), _duration(policy, spec["fail_after"])
    )


def _duration(policy: str, value: Any) -> timedelta:
    try:
        return _DURATION.validate_python(str(value))
    except ValidationError:
        raise PolicyError(f"{policy}: {value!r} is not an ISO 8601 duration such as PT4H") from None


def _state(value: Any) -> CaseStatus:
    try:
        state = CaseStatus(str(value))
    except ValueError:
        state = None
    if state not in PAUSABLE:
        allowed = ", ".join(sorted(s.value for s in PAUSABLE))
        raise PolicyError(f"{value!r} cannot pause SLA clocks (use one of {allowed})")
    return state


def _dump_actions(actions: SlaActions | None) -> dict[str, Any] | None:
    return None if actions is None else dict(_ACTIONS.dump_python(actions, mode="json"))


def _require_queue(session: Session, policy: str, name: str) -> None:
    if session.scalar(select(Queue.id).where(Queue.name == name)) is None:
        raise PolicyError(f"{policy}: unknown queue {name!r}", "unknown_reference")


def _iso(value: timedelta) -> str:
    return str(_DURATION.dump_python(value, mode="json"))


# -- the database ---------------------------------------------------------------------------------


def save_policy(session: Session, definition: PolicyDefinition) -> SlaPolicy:
    """Create or replace the policy of this name, after checking it against the database."""
    check(definition)
    calendar = session.scalar(select(Calendar).where(Calendar.name == definition.calendar))
    if calendar is None:
        raise PolicyError(
            f"{definition.name}: unknown calendar {definition.calendar!r}", "unknown_reference"
        )
    if definition.default:  # one default policy
        others = (SlaPolicy.name != definition.name) & SlaPolicy.is_default.is_(True)
        session.execute(update(SlaPolicy).where(others).values(is_default=False))
    row = session.scalar(select(SlaPolicy).where(SlaPolicy.name == definition.name))
    if row is None:
        row = SlaPolicy(name=definition.name)
    row.calendar_id = calendar.id
    row.is_default = definition.default
    row.pause_states = [str(s) for s in definition.pause_states]
    row.targets = {
        str(t.kpi): {"warn_after": _iso(t.warn_after), "fail_after": _iso(t.fail_after)}
        for t in definition.targets
    }
    row.position = definition.position
    conditions = _CONDITIONS.dump_python(definition.conditions, mode="json")
    row.conditions = {k: v for k, v in conditions.items() if v}
    row.on_warning = _dump_actions(definition.on_warning)
    row.on_failure = _dump_actions(definition.on_failure)
    if definition.on_failure and definition.on_failure.move_to_queue:
        _require_queue(session, definition.name, definition.on_failure.move_to_queue)
    if definition.on_warning and definition.on_warning.move_to_queue:
        _require_queue(session, definition.name, definition.on_warning.move_to_queue)
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
    change = policy_change(policy, migrated_by)
    numbers = cases.cases_under_policy(session, name)
    for batch in batches(numbers, BATCH_SIZE):
        await tell_cases(client, change, batch)
    return numbers
