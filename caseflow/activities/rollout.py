"""Activities of the change rollout: read the edited calendar or policy, list its running cases a
page at a time from the read model, tell a batch of them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import Client

from caseflow.activities import convert
from caseflow.calendars import calendar_rollout_change
from caseflow.client import tell_cases
from caseflow.store import cases
from caseflow.store.db import transaction
from caseflow.store.models import SlaPolicy
from caseflow.workflows.fanout import (
    CasePage,
    ChangeRead,
    ChangeRequest,
    PageRequest,
    RolloutActivity,
    RolloutChange,
    RolloutKind,
    RolloutTarget,
    TellOutcome,
    TellRequest,
    policy_change,
)


class RolloutActivities:
    def __init__(self, sessions: sessionmaker[Session], client: Client) -> None:
        self._sessions = sessions
        self._client = client

    @activity.defn(name=RolloutActivity.READ_CHANGE)
    def read_rollout_change(self, request: ChangeRequest) -> ChangeRead:
        with transaction(self._sessions, writes=False) as session:
            return ChangeRead(_change(session, request.target, request.by))

    @activity.defn(name=RolloutActivity.LIST_CASES)
    def list_rollout_cases(self, request: PageRequest) -> CasePage:
        target = request.target
        numbers = (
            cases.counting_in(target.name)
            if target.kind is RolloutKind.CALENDAR
            else cases.under_policy(target.name)
        )
        with transaction(self._sessions, writes=False) as session:
            page, remaining = cases.numbers_after(session, numbers, request.after, request.limit)
        return CasePage(page, remaining)

    @activity.defn(name=RolloutActivity.TELL_CASES)
    async def tell_rollout_cases(self, request: TellRequest) -> TellOutcome:
        return await tell_cases(self._client, request.change, request.numbers)


def _change(session: Session, target: RolloutTarget, by: str) -> RolloutChange | None:
    if target.kind is RolloutKind.CALENDAR:
        return calendar_rollout_change(session, target.name, by)
    row = session.scalar(select(SlaPolicy).where(SlaPolicy.name == target.name))
    return None if row is None else policy_change(convert.case_sla_policy(row), by)
