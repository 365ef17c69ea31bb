"""The worker's activities run alone in `ActivityEnvironment`, with no worker and no workflow:
against this test's SQLite database and SMTP sink, and a stand-in Temporal client that records
what it is asked. Each is safe to retry: run twice, it does its effect once."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from caseflow.activities.cases import CaseActivities
from caseflow.activities.email import EmailActivities
from caseflow.activities.rollout import RolloutActivities
from caseflow.settings import Settings
from caseflow.store import cases, messages
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import Case, CaseEvent
from caseflow.workflows import lifecycle
from caseflow.workflows.fanout import (
    ChangeRequest,
    PageRequest,
    RolloutKind,
    RolloutTarget,
    TellRequest,
)
from caseflow.workflows.model import (
    ActionRequest,
    CaseState,
    Channel,
    ChildRequest,
    ContextRequest,
    EmailRequest,
    FollowUpRequest,
    InboundEmail,
    MergeTransfer,
    NewCase,
    ParentNotice,
    Recipients,
    ResolvedReply,
)
from tests.support.harness import AGENT, CUSTOMER, GOLD_CUSTOMER, add_agents
from tests.support.servers import SmtpSink, free_port

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


# -- a stand-in for the Temporal client -----------------------------------------------------------


@dataclass
class Asked:
    """One call an activity made on a case's workflow."""

    number: str
    name: str  # the update's or signal's name
    request: Any
    update_id: str | None = None


@dataclass
class FakeTemporal:
    """Answers updates and signals on cases; `failing` raises for a case number."""

    failing: dict[str, BaseException] = field(default_factory=dict)
    asked: list[Asked] = field(default_factory=list)

    def get_workflow_handle_for(self, _run: object, workflow_id: str, **_: object) -> FakeHandle:
        return FakeHandle(self, workflow_id)

    @property
    def client(self) -> Client:
        return cast(Client, self)


@dataclass
class FakeHandle:
    temporal: FakeTemporal
    id: str

    async def execute_update(
        self, update: Callable[..., Any], request: Any, *, id: str | None = None, **_: object
    ) -> None:
        self._ask(update.__name__, request, id)

    async def signal(self, signal: Callable[..., Any], request: Any, **_: object) -> None:
        self._ask(signal.__name__, request, None)

    def _ask(self, name: str, request: Any, update_id: str | None) -> None:
        self.temporal.asked.append(Asked(self.id, name, request, update_id))
        if self.id in self.temporal.failing:
            raise self.temporal.failing[self.id]


def rpc_error(status: RPCStatusCode) -> RPCError:
    return RPCError(f"{status.name} (a test's)", status, b"")


def refused(code: str) -> WorkflowUpdateFailedError:
    return WorkflowUpdateFailedError(ApplicationError("refused", type=code, non_retryable=True))


# -- fixtures and builders ------------------------------------------------------------------------


@pytest.fixture
def env() -> ActivityEnvironment:
    return ActivityEnvironment()


@pytest.fixture
def temporal() -> FakeTemporal:
    return FakeTemporal()


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """The test's database with its agents (ann, sam), as the worker's harness has them."""
    engine = make_engine(settings.effective_database_url)
    made = session_factory(engine)
    add_agents(made)
    yield made
    engine.dispose()


@pytest.fixture
def case_activities(
    sessions: sessionmaker[Session], settings: Settings, temporal: FakeTemporal
) -> CaseActivities:
    return CaseActivities(sessions, settings, temporal.client)


@pytest.fixture
def email_activities(sessions: sessionmaker[Session], settings: Settings) -> EmailActivities:
    return EmailActivities(sessions, settings)


def new_case(sessions: sessionmaker[Session], customer: str = CUSTOMER) -> tuple[str, NewCase]:
    key = f"test:{uuid.uuid4().hex}"
    with transaction(sessions) as session:
        number = cases.allocate_case_number(session, key)
    email = InboundEmail(
        key=key,
        sender=customer,
        subject="Printer on fire",
        received_at=NOW,
        text="It is on fire.",
        message_id=f"<{uuid.uuid4().hex}@customer.example>",
    )
    new = NewCase(
        channel=Channel.EMAIL,
        subject="Printer on fire",
        description="It is on fire.",
        customer_email=customer,
        email=email,
    )
    return number, new


def created_case(
    env: ActivityEnvironment, activities: CaseActivities, sessions: sessionmaker[Session]
) -> CaseState:
    """A case as the workflow creates it: its context from the real activity, its first
    transition committed by the pure rules (not recorded, not mailed yet)."""
    number, new = new_case(sessions)
    request = ContextRequest(new.customer_email, new.customer_name, new.channel, new.account)
    context = env.run(activities.load_case_context, request)
    state, effects = lifecycle.create(number, new, context, NOW)
    lifecycle.commit(state, effects, "customer", "create", NOW)
    return state


def rows(sessions: sessionmaker[Session], number: str) -> tuple[int, int]:
    """How many case rows and timeline events the read model has of the case."""
    with transaction(sessions, writes=False) as session:
        found = session.scalar(select(func.count()).where(Case.number == number))
        events = session.scalar(select(func.count()).where(CaseEvent.case_number == number))
    return int(found or 0), int(events or 0)


# -- the case activities --------------------------------------------------------------------------


def test_the_context_of_a_gold_customer_names_their_entitlement_and_the_policies(
    env: ActivityEnvironment, case_activities: CaseActivities
) -> None:
    context = env.run(case_activities.load_case_context, ContextRequest(GOLD_CUSTOMER))

    assert context.customer.email == GOLD_CUSTOMER
    assert context.entitlement is not None
    assert {"standard", "gold"} <= {p.name for p in context.policies}
    assert context.rules_version == lifecycle.RULES_VERSION


@pytest.mark.parametrize("mode", list(ResolvedReply))
def test_the_context_pins_what_a_reply_to_the_resolution_does_as_the_settings_say(
    env: ActivityEnvironment,
    sessions: sessionmaker[Session],
    settings: Settings,
    temporal: FakeTemporal,
    mode: ResolvedReply,
) -> None:
    configured = settings.model_copy(update={"resolved_reply": str(mode)})
    activities = CaseActivities(sessions, configured, temporal.client)

    context = env.run(activities.load_case_context, ContextRequest(CUSTOMER))

    assert context.resolved_reply is mode
    assert Settings.model_fields["resolved_reply"].default == "judge"


def test_recording_a_case_twice_records_it_once(
    env: ActivityEnvironment, case_activities: CaseActivities, sessions: sessionmaker[Session]
) -> None:
    state = created_case(env, case_activities, sessions)
    [record] = state.pending_records

    env.run(case_activities.record_case, record)
    once = rows(sessions, state.number)
    env.run(case_activities.record_case, record)  # a retry after a lost answer

    assert once[0] == 1 and once[1] >= 1
    assert rows(sessions, state.number) == once


def test_recording_a_later_transition_twice_records_it_once_and_an_old_one_changes_nothing(
    env: ActivityEnvironment, case_activities: CaseActivities, sessions: sessionmaker[Session]
) -> None:
    state = created_case(env, case_activities, sessions)
    effects = lifecycle.perform(state, "pick", ActionRequest(actor=AGENT), NOW)
    lifecycle.commit(state, effects, AGENT.handle, "pick", NOW)
    created, picked = state.pending_records
    env.run(case_activities.record_case, created)
    env.run(case_activities.record_case, picked)
    once = rows(sessions, state.number)

    env.run(case_activities.record_case, picked)  # retried
    env.run(case_activities.record_case, created)  # a late retry of the first

    assert rows(sessions, state.number) == once
    with transaction(sessions, writes=False) as session:
        row = cases.get_case(session, state.number)
        assert row is not None and (row.status, row.owner) == ("open", "ann")


async def test_adopting_a_child_asks_the_parent_by_one_update_id_however_often_retried(
    env: ActivityEnvironment, case_activities: CaseActivities, temporal: FakeTemporal
) -> None:
    request = ChildRequest(AGENT, parent="CAS-000001", child="CAS-000002", customer_email=CUSTOMER)

    for _ in range(2):
        await env.run(case_activities.adopt_child, request)

    asked = [(a.number, a.name, a.update_id) for a in temporal.asked]
    assert asked == [("CAS-000001", "add_child", "CAS-000002:child-of:CAS-000001")] * 2


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (refused("parent_closed"), "parent_closed"),
        (rpc_error(RPCStatusCode.NOT_FOUND), "parent_ended"),
    ],
    ids=["refused", "ended"],
)
async def test_a_parent_that_refuses_or_has_ended_fails_the_adoption_for_good(
    env: ActivityEnvironment,
    case_activities: CaseActivities,
    temporal: FakeTemporal,
    failure: BaseException,
    code: str,
) -> None:
    temporal.failing["CAS-000001"] = failure
    request = ChildRequest(AGENT, parent="CAS-000001", child="CAS-000002", customer_email=CUSTOMER)

    with pytest.raises(ApplicationError) as raised:
        await env.run(case_activities.adopt_child, request)

    assert (raised.value.type, raised.value.non_retryable) == (code, True)


async def test_temporal_unavailable_fails_the_adoption_to_be_retried(
    env: ActivityEnvironment, case_activities: CaseActivities, temporal: FakeTemporal
) -> None:
    temporal.failing["CAS-000001"] = rpc_error(RPCStatusCode.UNAVAILABLE)
    request = ChildRequest(AGENT, parent="CAS-000001", child="CAS-000002", customer_email=CUSTOMER)

    with pytest.raises(RPCError) as raised:
        await env.run(case_activities.adopt_child, request)

    assert raised.value.status == RPCStatusCode.UNAVAILABLE  # not an ApplicationError: retried


async def test_a_merge_gives_the_survivor_the_duplicates_customer_messages_under_one_update_id(
    env: ActivityEnvironment,
    case_activities: CaseActivities,
    sessions: sessionmaker[Session],
    temporal: FakeTemporal,
) -> None:
    duplicate = created_case(env, case_activities, sessions)
    env.run(case_activities.record_case, duplicate.pending_records[0])
    transfer = MergeTransfer(
        actor=AGENT, survivor="CAS-000001", duplicate=duplicate.number, subject="Printer on fire"
    )

    for _ in range(2):
        await env.run(case_activities.merge_case, transfer)

    first, again = temporal.asked
    assert first.update_id == again.update_id == f"{duplicate.number}:merge-into:CAS-000001"
    assert first.name == "absorb"
    assert [m.body for m in first.request.messages] == ["It is on fire."]
    assert first.request == again.request


async def test_notifying_children_skips_those_that_have_ended(
    env: ActivityEnvironment, case_activities: CaseActivities, temporal: FakeTemporal
) -> None:
    temporal.failing["CAS-000003"] = rpc_error(RPCStatusCode.NOT_FOUND)
    notice = ParentNotice(
        key="p:1", parent="CAS-000001", children=["CAS-000002", "CAS-000003"], resolved=True
    )

    result = await env.run(case_activities.notify_children, notice)

    assert (result.notified, result.ended) == (["CAS-000002"], ["CAS-000003"])
    assert {a.name for a in temporal.asked} == {"parent_changed"}


async def test_a_follow_up_opened_twice_is_one_case(
    env: ActivityEnvironment,
    sessions: sessionmaker[Session],
    settings: Settings,
    dev_env: WorkflowEnvironment,
) -> None:
    activities = CaseActivities(sessions, settings, dev_env.client)  # no worker: it only starts
    _, new = new_case(sessions)
    assert new.email is not None
    request = FollowUpRequest(
        f"late:{uuid.uuid4().hex}", follow_up_of="CAS-000001", email=new.email
    )

    first = await env.run(activities.open_follow_up, request)
    again = await env.run(activities.open_follow_up, request)

    assert first == again
    handle = dev_env.client.get_workflow_handle(first.number)
    described = await handle.describe()
    assert described.raw_description.workflow_execution_info.first_run_id == described.run_id
    kinds = [event.event_type async for event in handle.fetch_history_events()]
    assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) == 1


# -- the email activity ---------------------------------------------------------------------------


def test_sending_an_email_twice_sends_it_once(
    env: ActivityEnvironment,
    case_activities: CaseActivities,
    email_activities: EmailActivities,
    sessions: sessionmaker[Session],
    smtp_sink: SmtpSink,
) -> None:
    state = created_case(env, case_activities, sessions)
    env.run(case_activities.record_case, state.pending_records[0])
    [ack] = state.pending_emails

    env.run(email_activities.send_email, ack)
    env.run(email_activities.send_email, ack)  # a retry after a lost answer

    assert [rcpts for rcpts, _ in smtp_sink.messages] == [[CUSTOMER]]
    with transaction(sessions, writes=False) as session:
        assert messages.outbox_status(session, ack.key) == messages.SENT


def test_an_email_to_nobody_fails_for_good_and_sends_nothing(
    env: ActivityEnvironment, email_activities: EmailActivities, smtp_sink: SmtpSink
) -> None:
    request = EmailRequest(
        key=f"test:{uuid.uuid4().hex}",
        case_number="CAS-000001",
        template="reply",
        to=Recipients(),
        subject="Nobody",
        context={"body": "Hello"},
    )

    with pytest.raises(ApplicationError) as raised:
        env.run(email_activities.send_email, request)

    assert (raised.value.type, raised.value.non_retryable) == ("InvalidRecipient", True)
    assert smtp_sink.messages == []


def test_an_email_not_sent_while_smtp_is_down_is_sent_once_by_the_retry(
    env: ActivityEnvironment,
    case_activities: CaseActivities,
    sessions: sessionmaker[Session],
    settings: Settings,
    smtp_sink: SmtpSink,
) -> None:
    state = created_case(env, case_activities, sessions)
    env.run(case_activities.record_case, state.pending_records[0])
    [ack] = state.pending_emails
    down = EmailActivities(sessions, settings.model_copy(update={"smtp_port": free_port()}))

    with pytest.raises(Exception) as raised:
        env.run(down.send_email, ack)

    assert not (isinstance(raised.value, ApplicationError) and raised.value.non_retryable)
    with transaction(sessions, writes=False) as session:
        assert messages.outbox_status(session, ack.key) != messages.SENT
    up = EmailActivities(sessions, settings)
    env.run(up.send_email, ack)
    env.run(up.send_email, ack)
    assert len(smtp_sink.messages) == 1


# -- the rollout activities -----------------------------------------------------------------------


def test_a_rollout_reads_its_calendar_and_knows_an_unknown_one(
    env: ActivityEnvironment, sessions: sessionmaker[Session], temporal: FakeTemporal
) -> None:
    rollouts = RolloutActivities(sessions, temporal.client)
    paris = RolloutTarget(RolloutKind.CALENDAR, "business-hours-paris")
    unknown = RolloutTarget(RolloutKind.SLA_POLICY, "no-such-policy")

    read = env.run(rollouts.read_rollout_change, ChangeRequest(paris, by="ada"))

    assert read.change is not None and read.change.calendar is not None
    assert read.change.calendar.changed_by == "ada"
    assert env.run(rollouts.read_rollout_change, ChangeRequest(unknown)).change is None


def test_a_rollout_lists_the_running_cases_of_its_policy_a_page_after_its_cursor(
    env: ActivityEnvironment,
    case_activities: CaseActivities,
    sessions: sessionmaker[Session],
    temporal: FakeTemporal,
) -> None:
    recorded = []
    for _ in range(3):
        state = created_case(env, case_activities, sessions)  # standard policy
        env.run(case_activities.record_case, state.pending_records[0])
        recorded.append(state.number)
    rollouts = RolloutActivities(sessions, temporal.client)
    standard = RolloutTarget(RolloutKind.SLA_POLICY, "standard")

    first = env.run(rollouts.list_rollout_cases, PageRequest(standard, limit=2))
    rest = env.run(rollouts.list_rollout_cases, PageRequest(standard, after=first.numbers[-1]))

    assert (first.numbers, first.remaining) == (sorted(recorded)[:2], 3)
    assert (rest.numbers, rest.remaining) == (sorted(recorded)[2:], 1)


async def test_telling_a_batch_twice_tells_each_case_its_change_and_counts_the_ended(
    env: ActivityEnvironment, sessions: sessionmaker[Session], temporal: FakeTemporal
) -> None:
    rollouts = RolloutActivities(sessions, temporal.client)
    paris = RolloutTarget(RolloutKind.CALENDAR, "business-hours-paris")
    read = env.run(rollouts.read_rollout_change, ChangeRequest(paris))
    assert read.change is not None
    temporal.failing["CAS-000002"] = rpc_error(RPCStatusCode.NOT_FOUND)
    batch = TellRequest(read.change, ["CAS-000001", "CAS-000002"])

    outcomes = [await env.run(rollouts.tell_rollout_cases, batch) for _ in range(2)]

    assert [(o.told, o.ended, o.failed) for o in outcomes] == [(1, 1, [])] * 2
    told = [(a.number, a.name) for a in temporal.asked]
    assert told == [("CAS-000001", "calendar_changed"), ("CAS-000002", "calendar_changed")] * 2
