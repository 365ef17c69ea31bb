"""How an edited calendar or SLA policy fans out to the running cases it concerns: which rollout
carries it, the pages and batches it tells, what a signal's outcome means, and what its progress
says. Pure rules and the data that crosses the Temporal boundary; `rollout.ChangeRolloutWorkflow`
carries them out.

One rollout per calendar or policy at a time (its id names the target, not the edit): a later
edit joins the running rollout, which reads the target again and, when it changed, starts over
from the first case. So the cases are told the edits in the order they were saved, and the last
one saved is the last one every case hears. Telling a case twice is harmless: a case ignores a
calendar or policy it already has (`lifecycle.calendar_changed`, `lifecycle.migrate_policy`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import StrEnum

from pydantic import TypeAdapter
from temporalio.service import RPCStatusCode

from caseflow.workflows.calendar import CalendarSpec
from caseflow.workflows.model import CalendarChange, PolicyMigration, SlaPolicy

# A batch is one activity: 50 signals take 0.1 s unloaded and about 2 s under load, and a retry
# repeats at most 50. A page is one run of the workflow (then it continues as new): 10 batches,
# about 70 history events, however many cases there are.
BATCH_SIZE = 50
PAGE_SIZE = 500
LISTED_FAILURES = 20  # failed cases named in the progress; the others are only counted


class RolloutKind(StrEnum):
    CALENDAR = "calendar"
    SLA_POLICY = "sla_policy"


@dataclass
class RolloutTarget:
    """What was edited: a calendar (its running cases re-time) or an SLA policy (they migrate)."""

    kind: RolloutKind
    name: str


@dataclass
class RolloutNotice:
    """Signal: the target was saved, or its migration asked for; read it again and tell it."""

    by: str = "admin"


@dataclass
class RolloutChange:
    """What the cases are told, as the database has it, and a digest of it (without who asked)."""

    digest: str
    calendar: CalendarChange | None = None
    migration: PolicyMigration | None = None


@dataclass
class RolloutProgress:
    total: int = 0  # the cases handled so far plus those still listed after them
    told: int = 0
    ended: int = 0  # their workflow had ended: nothing to tell, not a failure
    failed: int = 0
    failed_cases: list[str] = field(default_factory=list)  # the first LISTED_FAILURES
    after: str = ""  # the last case number handled: the next page starts after it

    @property
    def handled(self) -> int:
        return self.told + self.ended + self.failed


@dataclass
class RolloutInput:
    """The rollout's whole state, also what continue-as-new carries to the next page."""

    target: RolloutTarget
    by: str = "admin"
    change: RolloutChange | None = None  # None until read
    progress: RolloutProgress = field(default_factory=RolloutProgress)
    reread: bool = True  # a notice came since the change was read
    page_size: int = PAGE_SIZE
    batch_size: int = BATCH_SIZE


@dataclass
class RolloutResult:
    target: RolloutTarget
    progress: RolloutProgress
    digest: str = ""  # of the change told; "" when the target no longer exists
    found: bool = True


@dataclass
class ChangeRequest:
    target: RolloutTarget
    by: str = "admin"


@dataclass
class ChangeRead:
    change: RolloutChange | None = None  # None: the target no longer exists


@dataclass
class PageRequest:
    target: RolloutTarget
    after: str = ""
    limit: int = PAGE_SIZE


@dataclass
class CasePage:
    numbers: list[str]
    remaining: int  # the cases listed after the cursor, this page's included


@dataclass
class TellRequest:
    change: RolloutChange
    numbers: list[str]


@dataclass
class TellOutcome:
    told: int = 0
    ended: int = 0
    failed: list[str] = field(default_factory=list)


NOTICE = "changed"  # the rollout's signal: the target was saved (again)


class RolloutActivity:
    READ_CHANGE = "read_rollout_change"
    LIST_CASES = "list_rollout_cases"
    TELL_CASES = "tell_rollout_cases"


class SignalOutcome(StrEnum):
    TOLD = "told"
    ENDED = "ended"
    FAILED = "failed"  # this case cannot be told: counted, named, and the rollout goes on
    RETRY = "retry"  # Temporal is unwell: the whole batch is tried again


# A signal refused for what it is (too big, malformed, not allowed): telling it again would not
# help. Anything else but NOT_FOUND (the case's workflow has ended) is worth another try.
PERMANENT = {
    RPCStatusCode.INVALID_ARGUMENT,
    RPCStatusCode.FAILED_PRECONDITION,
    RPCStatusCode.PERMISSION_DENIED,
    RPCStatusCode.UNIMPLEMENTED,
    RPCStatusCode.OUT_OF_RANGE,
}


def rollout_id(target: RolloutTarget) -> str:
    return f"rollout:{target.kind}:{target.name}"


def digest_of(value: CalendarSpec | SlaPolicy) -> str:
    """The same calendar or policy gives the same digest, whoever saved it and when."""
    encoded = TypeAdapter(type(value)).dump_json(value)
    return hashlib.sha256(encoded).hexdigest()[:16]


def calendar_change(spec: CalendarSpec, by: str) -> RolloutChange:
    """What the running cases counting in a calendar are told: the calendar as saved now."""
    return RolloutChange(digest_of(spec), calendar=CalendarChange(calendar=spec, changed_by=by))


def policy_change(policy: SlaPolicy, by: str) -> RolloutChange:
    """What the running cases of an SLA policy are told: its current version."""
    migration = PolicyMigration(policy=policy, migrated_by=by)
    return RolloutChange(digest_of(policy), migration=migration)


def signal_outcome(status: RPCStatusCode | None) -> SignalOutcome:
    """What a signal's answer means for the rollout; None: it was delivered."""
    if status is None:
        return SignalOutcome.TOLD
    if status == RPCStatusCode.NOT_FOUND:
        return SignalOutcome.ENDED
    return SignalOutcome.FAILED if status in PERMANENT else SignalOutcome.RETRY


def tally(outcomes: dict[str, SignalOutcome]) -> TellOutcome:
    """A batch told: how many cases heard it, had ended, and which failed (none to retry)."""
    values = list(outcomes.values())
    failed = [number for number, outcome in outcomes.items() if outcome is SignalOutcome.FAILED]
    return TellOutcome(values.count(SignalOutcome.TOLD), values.count(SignalOutcome.ENDED), failed)


def batches(numbers: list[str], size: int) -> list[list[str]]:
    return [numbers[i : i + size] for i in range(0, len(numbers), max(size, 1))]


def adopt(state: RolloutInput, change: RolloutChange) -> bool:
    """Take the change just read; a different one than the rollout was telling starts over from
    the first case. True when it starts over."""
    if state.change is not None and state.change.digest == change.digest:
        return False
    state.change = change
    state.progress = RolloutProgress()
    return True


def with_page(progress: RolloutProgress, page: CasePage) -> RolloutProgress:
    return replace(progress, total=progress.handled + page.remaining)


def counted(progress: RolloutProgress, batch: list[str], outcome: TellOutcome) -> RolloutProgress:
    """The progress once a batch is told; the next page starts after its last case."""
    room = max(LISTED_FAILURES - len(progress.failed_cases), 0)
    return replace(
        progress,
        told=progress.told + outcome.told,
        ended=progress.ended + outcome.ended,
        failed=progress.failed + len(outcome.failed),
        failed_cases=[*progress.failed_cases, *outcome.failed[:room]],
        after=batch[-1] if batch else progress.after,
    )


def finished(state: RolloutInput, page: CasePage) -> bool:
    """The last page told to its last case, and no notice came since the change was read (a
    notice stops the telling at the next batch, so its change is read first)."""
    return not state.reread and page.remaining <= len(page.numbers)


def describe(target: RolloutTarget) -> str:
    what = "re-time the running cases counting in calendar"
    if target.kind is RolloutKind.SLA_POLICY:
        what = "migrate the running cases of SLA policy"
    return f"{what} {target.name}"


def summary(target: RolloutTarget, progress: RolloutProgress) -> str:
    """One line: how far the rollout got."""
    line = (
        f"{target.kind} {target.name}: {progress.told} of {progress.total} running cases told, "
        f"{progress.ended} had ended, {progress.failed} failed"
    )
    if progress.failed_cases:
        more = progress.failed - len(progress.failed_cases)
        line += f" ({', '.join(progress.failed_cases)}{f' and {more} more' if more else ''})"
    return line


def details(state: RolloutInput) -> str:
    """The rollout's current details in the Temporal UI (markdown)."""
    digest = state.change.digest if state.change else "not read yet"
    progress = summary(state.target, state.progress)
    return f"**{describe(state.target)}** (version {digest})\n\n{progress}"
