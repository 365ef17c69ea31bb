"""Record the case histories that `tests/workflows/test_replay.py` replays.

Run from the project root:

    .venv/bin/python -m tests.support.record_history [SCENARIO ...]

It starts its own servers (a Temporal dev server, the time-skipping test server, an SMTP sink and
a fresh seeded SQLite database in a temporary directory), drives one case per scenario through the
real worker, and writes each full history as `tests/histories/<scenario>.json`:

- `email_to_closed` and `survey_answered`: created by email → pick → reply → wait → customer
  email → advance → resolve → rejected → resolve → accepted, where the case's workflow ends and
  hands the survey to a SurveyWorkflow; then that workflow: survey sent → answered (dev server,
  survey delay 1 s).
- `email_to_survey` (no longer recorded: kept from before surveys ran in a workflow of their
  own, so cases closed on the old code still replay): the same case, its survey in the case's
  workflow.
- `sla_warning_failure`: a Gold case nobody answers for 16 minutes (first-response warning and
  failure), then pick → reply → resolve, auto-close, survey, reminder and expiry (time-skipping).
- `strangers_and_bounce`: two replies tagged by strangers (one confirmed, one split into a new
  case) and a bounce while the case awaits the customer, then cancelled (dev server).
- `continued_as_new_run1` / `_run2`: notes and customer emails until the case continues as new;
  the first run ends with ContinuedAsNew, the second starts from the carried state.
- `merge_duplicate` and `merge_survivor`: a customer writes twice to a duplicate case, which a
  supervisor merges into the survivor (the duplicate ends merged, the survivor absorbs its
  people and messages), then the survivor is cancelled (dev server).
- `link_child` and `link_parent`: a case links to a parent; resolving the parent resolves the
  child with it; the child is reopened and cancelled, then the parent is reopened and cancelled
  (its notice skips the ended child) (dev server).
- `case_activities`: a call and a task added to a case, one completed, one cancelled, and one
  recorded as already done, then the case is cancelled (dev server).
- `escalated`: picked, escalated one step up into the escalations queue, assigned by a supervisor
  and escalated again to a priority, then cancelled (dev server).
- `policy_and_calendar_changes`: a business-hours case whose calendar is edited (open around the
  clock) and whose SLA policy is migrated to new targets, each re-timing its clocks, then
  cancelled (dev server).
- `replies_to_resolved`: a resolved case (rules version 3, judging replies) thanked by its
  customer stays resolved and its owner is emailed; a second reply saying it still fails
  reopens it; then cancelled (dev server).

Regenerate only after an intentional change that running cases will never replay against (for
example a new scenario, or once every case started on the old code has ended). A change that
reorders what the workflow does must instead go under `workflow.patched()`, and the existing files
must keep replaying: that is what the replay test is for. Keep the old files and add new ones when
in doubt.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from caseflow.activities.convert import sla_policy
from caseflow.calendars import definition_from_dict, retime_running_cases, save_calendar
from caseflow.client import (
    answer_survey,
    case_handle,
    register_search_attributes,
    signal_email,
)
from caseflow.policies import migrate_running_cases
from caseflow.settings import Settings
from caseflow.store.db import make_engine, session_factory, transaction, upgrade
from caseflow.store.directory import sla_policies
from caseflow.store.seed import seed_demo
from caseflow.workflows import search
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import (
    ActionRequest,
    ActivityDecision,
    ActivityRequest,
    AdvanceRequest,
    AssignRequest,
    CaseStatus,
    EmailDecision,
    EscalateRequest,
    InboundEmail,
    KpiName,
    MailClass,
    MergeRequest,
    MessageRequest,
    ParentRequest,
    ResolutionResponse,
    ResolveRequest,
    SurveyAnswer,
    SurveyStatus,
    WaitRequest,
)
from caseflow.workflows.payloads import DATA_CONVERTER
from caseflow.workflows.survey import SurveyWorkflow, survey_workflow_id
from tests.support.harness import (
    AGENT,
    CUSTOMER,
    GOLD_CUSTOMER,
    STAGES_DONE,
    SUPERVISOR,
    Harness,
    running_worker,
)
from tests.support.servers import SmtpSink, venv_binary

logger = logging.getLogger(__name__)

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
TASK_QUEUE = "caseflow-replay"
CAN_AFTER_EVENTS = 60


# -- the scenarios --------------------------------------------------------------------------------


async def email_to_closed(harness: Harness) -> dict[str, WorkflowHistory]:
    started = await harness.open_case(CUSTOMER, "Invoice shows the wrong VAT number")
    case = case_handle(harness.client, started.id)
    await case.execute_update(CaseWorkflow.created)
    await case.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await case.execute_update(
        CaseWorkflow.reply, MessageRequest(actor=AGENT, body="Which invoice is it?")
    )
    await case.execute_update(CaseWorkflow.wait, WaitRequest(actor=AGENT, reason="invoice id"))
    await signal_email(harness.client, case.id, customer_email(case.id, 1, "It is INV-2041."))
    await until(lambda: status_is(case.id, harness, CaseStatus.OPEN))
    await case.execute_update(
        CaseWorkflow.advance,
        AdvanceRequest(actor=AGENT, fields={"category": "billing", "product": "Billing"}),
    )
    await case.execute_update(
        CaseWorkflow.resolve,
        ResolveRequest(actor=AGENT, resolution="Corrected invoice sent.", fields=STAGES_DONE),
    )
    await case.execute_update(
        CaseWorkflow.respond_to_resolution,
        ResolutionResponse(episode=1, accept=False, comment="Still the old number"),
    )
    await case.execute_update(
        CaseWorkflow.resolve,
        ResolveRequest(actor=AGENT, resolution="Reissued INV-2041.", fields=STAGES_DONE),
    )
    await case.execute_update(
        CaseWorkflow.respond_to_resolution, ResolutionResponse(episode=2, accept=True)
    )
    await case.result()  # the case's workflow ends when it closes; its survey runs apart
    survey = harness.client.get_workflow_handle_for(
        SurveyWorkflow.run, survey_workflow_id(case.id, 2)
    )
    await until(lambda: survey_is(survey, SurveyStatus.SENT))
    thanks = SurveyAnswer(episode=2, rating=4, comment="Thanks")
    await answer_survey(harness.client, case.id, thanks, timedelta(seconds=10))
    await survey.result()
    return {
        "email_to_closed": await case.fetch_history(),
        "survey_answered": await survey.fetch_history(),
    }


async def sla_warning_failure(
    harness: Harness, env: WorkflowEnvironment
) -> dict[str, WorkflowHistory]:
    started = await harness.open_case(GOLD_CUSTOMER, "Production line stopped")
    case = case_handle(harness.client, started.id)
    await env.sleep(timedelta(minutes=16))  # gold: warn after 10, fail after 15 minutes
    await harness.sink.arrived(lambda ms: any("SLA failure" in str(m["Subject"]) for m in ms))
    await case.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await case.execute_update(CaseWorkflow.reply, MessageRequest(actor=AGENT, body="Sorry!"))
    await case.execute_update(
        CaseWorkflow.resolve,
        ResolveRequest(actor=AGENT, resolution="Restarted the PLC.", fields=STAGES_DONE),
    )
    # The test server answers `result()` only on the run's own handle; it never continues as new.
    await started.result()  # skips through auto-close, survey, reminder and expiry
    return {"sla_warning_failure": await started.fetch_history()}


async def strangers_and_bounce(harness: Harness) -> dict[str, WorkflowHistory]:
    started = await harness.open_case(CUSTOMER, "Router reboots at night")
    case = case_handle(harness.client, started.id)
    await case.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await case.execute_update(CaseWorkflow.reply, MessageRequest(actor=AGENT, body="Model?"))
    await case.execute_update(CaseWorkflow.wait, WaitRequest(actor=AGENT, reason="model"))
    for i in (1, 2):
        email = customer_email(case.id, i, f"Stranger {i}")
        email.sender, email.verified = f"colleague{i}@customer.example", False
        await signal_email(harness.client, case.id, email)
    bounce = customer_email(case.id, 3, "Mailbox full")
    bounce.sender, bounce.mail_class = "mailer-daemon@mx.customer.example", MailClass.BOUNCE
    bounce.failed_recipients, bounce.permanent_failure = [CUSTOMER], False
    await signal_email(harness.client, case.id, bounce)
    await until(lambda: signals_taken(case.id, harness, 3))
    await case.execute_update(
        CaseWorkflow.confirm, EmailDecision(actor=AGENT, key=f"replay:{case.id}:1")
    )
    await case.execute_update(
        CaseWorkflow.split, EmailDecision(actor=AGENT, key=f"replay:{case.id}:2")
    )
    await case.execute_update(CaseWorkflow.cancel, ActionRequest(actor=AGENT, comment="dup"))
    await case.result()
    return {"strangers_and_bounce": await case.fetch_history()}


async def signals_taken(number: str, harness: Harness, count: int) -> bool:
    """Whether the workflow has taken in `count` signals (a workflow task has run since)."""
    history = await case_handle(harness.client, number).fetch_history()
    kinds = [e.event_type for e in history.events]
    signalled = kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
    last_signal = (
        max(i for i, k in enumerate(kinds) if k == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
        if signalled
        else -1
    )
    completed = [
        i for i, k in enumerate(kinds) if k == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]
    return signalled >= count and bool(completed) and completed[-1] > last_signal


async def continued_as_new(harness: Harness) -> dict[str, WorkflowHistory]:
    started = await harness.open_case(CUSTOMER, "Label printer skips labels")
    case = case_handle(harness.client, started.id)
    await case.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    for i in range(1, 30):
        await case.execute_update(CaseWorkflow.note, MessageRequest(actor=AGENT, body=f"n{i}"))
        await signal_email(harness.client, case.id, customer_email(case.id, i, f"Still {i}"))
        runs = await run_ids(harness.client, case.id)
        if len(runs) >= 3:
            break
    else:
        raise RuntimeError("the case never continued as new twice")
    await case.execute_update(CaseWorkflow.cancel, ActionRequest(actor=AGENT))
    await case.result()
    first, second = runs[0], runs[1]
    return {
        "continued_as_new_run1": await harness.client.get_workflow_handle(
            case.id, run_id=first
        ).fetch_history(),
        "continued_as_new_run2": await harness.client.get_workflow_handle(
            case.id, run_id=second
        ).fetch_history(),
    }


async def merged(harness: Harness) -> dict[str, WorkflowHistory]:
    survivor = case_handle(harness.client, (await harness.open_case(CUSTOMER, "No VPN")).id)
    duplicate = case_handle(harness.client, (await harness.open_case(CUSTOMER, "VPN down")).id)
    await survivor.execute_update(CaseWorkflow.created)
    await duplicate.execute_update(CaseWorkflow.created)
    for i in (1, 2):
        await signal_email(
            harness.client, duplicate.id, customer_email(duplicate.id, i, f"Still down {i}")
        )
    await until(lambda: signals_taken(duplicate.id, harness, 2))
    await duplicate.execute_update(
        CaseWorkflow.merge, MergeRequest(actor=SUPERVISOR, into=survivor.id, comment="same")
    )
    await duplicate.result()
    await survivor.execute_update(CaseWorkflow.cancel, ActionRequest(actor=SUPERVISOR))
    await survivor.result()
    return {
        "merge_duplicate": await duplicate.fetch_history(),
        "merge_survivor": await survivor.fetch_history(),
    }


async def linked(harness: Harness) -> dict[str, WorkflowHistory]:
    parent = case_handle(harness.client, (await harness.open_case(CUSTOMER, "Outage")).id)
    child = case_handle(harness.client, (await harness.open_case(CUSTOMER, "Site down")).id)
    await parent.execute_update(CaseWorkflow.created)
    await child.execute_update(CaseWorkflow.created)
    await child.execute_update(
        CaseWorkflow.link_parent, ParentRequest(actor=AGENT, parent=parent.id)
    )
    await parent.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await parent.execute_update(
        CaseWorkflow.resolve,
        ResolveRequest(actor=AGENT, resolution="Power restored.", fields=STAGES_DONE),
    )
    await until(lambda: status_is(child.id, harness, CaseStatus.RESOLVED))
    await child.execute_update(CaseWorkflow.reopen, ActionRequest(actor=AGENT))
    await child.execute_update(CaseWorkflow.cancel, ActionRequest(actor=AGENT, comment="dup"))
    await child.result()
    await parent.execute_update(CaseWorkflow.reopen, ActionRequest(actor=AGENT))
    await parent.execute_update(CaseWorkflow.cancel, ActionRequest(actor=AGENT))
    await parent.result()
    return {
        "link_child": await child.fetch_history(),
        "link_parent": await parent.fetch_history(),
    }


async def case_activities(harness: Harness) -> dict[str, WorkflowHistory]:
    case = case_handle(harness.client, (await harness.open_case(CUSTOMER, "Move desk")).id)
    await case.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    due = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
    call = await case.execute_update(
        CaseWorkflow.add_activity,
        ActivityRequest(actor=AGENT, kind="phone_call", subject="Call Carol", due_at=due),
    )
    task = await case.execute_update(
        CaseWorkflow.add_activity,
        ActivityRequest(actor=AGENT, kind="task", subject="Order a cable", owner="ann"),
    )
    await case.execute_update(
        CaseWorkflow.complete_activity,
        ActivityDecision(actor=AGENT, activity_id=call.activity_id, comment="She picked up"),
    )
    await case.execute_update(
        CaseWorkflow.cancel_activity, ActivityDecision(actor=AGENT, activity_id=task.activity_id)
    )
    await case.execute_update(
        CaseWorkflow.add_activity,
        ActivityRequest(
            actor=AGENT, kind="phone_call", subject="Carol called back", completed=True
        ),
    )
    await case.execute_update(CaseWorkflow.cancel, ActionRequest(actor=AGENT))
    await case.result()
    return {"case_activities": await case.fetch_history()}


async def escalated(harness: Harness) -> dict[str, WorkflowHistory]:
    case = case_handle(harness.client, (await harness.open_case(CUSTOMER, "Data loss")).id)
    await case.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await case.execute_update(
        CaseWorkflow.escalate, EscalateRequest(actor=AGENT, reason="needs an engineer")
    )
    await case.execute_update(CaseWorkflow.assign, AssignRequest(actor=SUPERVISOR, owner="sam"))
    await case.execute_update(
        CaseWorkflow.escalate, EscalateRequest(actor=SUPERVISOR, reason="outage", priority=1)
    )
    await case.execute_update(CaseWorkflow.cancel, ActionRequest(actor=SUPERVISOR))
    await case.result()
    return {"escalated": await case.fetch_history()}


async def policy_and_calendar_changes(harness: Harness) -> dict[str, WorkflowHistory]:
    case = case_handle(harness.client, (await harness.open_case(CUSTOMER, "Slow disk")).id)
    await case.execute_update(CaseWorkflow.created)  # standard policy on business-hours-paris
    always_open = definition_from_dict({"name": "business-hours-paris", "timezone": "UTC"})
    with transaction(harness.sessions) as session:
        save_calendar(session, always_open)
    with transaction(harness.sessions, writes=False) as session:
        await retime_running_cases(harness.client, session, "business-hours-paris")
    await until(lambda: first_response_was(case.id, harness, "retargeted"))
    with transaction(harness.sessions) as session:
        row = next(p for p in sla_policies(session) if p.name == "standard")
        row.targets = {
            **row.targets,
            "first_response": {"warn_after": "PT5H", "fail_after": "PT9H"},
        }
    with transaction(harness.sessions, writes=False) as session:
        row = next(p for p in sla_policies(session) if p.name == "standard")
        await migrate_running_cases(harness.client, session, "standard", sla_policy(row))
    await until(lambda: first_response_fails_after(case.id, harness, timedelta(hours=9)))
    await case.execute_update(CaseWorkflow.cancel, ActionRequest(actor=AGENT))
    await case.result()
    return {"policy_and_calendar_changes": await case.fetch_history()}


async def replies_to_resolved(harness: Harness) -> dict[str, WorkflowHistory]:
    case = case_handle(harness.client, (await harness.open_case(CUSTOMER, "Paper jam")).id)
    await case.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
    await case.execute_update(
        CaseWorkflow.reply, MessageRequest(actor=AGENT, body="Please use the rear tray.")
    )
    await case.execute_update(
        CaseWorkflow.resolve,
        ResolveRequest(actor=AGENT, resolution="Rear tray it is.", fields=STAGES_DONE),
    )
    thanks = replace(customer_email(case.id, 1, "Thanks, it works now!"), subject=RESOLVED_RE)
    await signal_email(harness.client, case.id, thanks)
    await until(lambda: owner_told(harness))
    jams = replace(customer_email(case.id, 2, "Sorry, it still jams."), subject=RESOLVED_RE)
    await signal_email(harness.client, case.id, jams)
    await until(lambda: status_is(case.id, harness, CaseStatus.OPEN))
    await case.execute_update(CaseWorkflow.cancel, ActionRequest(actor=AGENT))
    await case.result()
    return {"replies_to_resolved": await case.fetch_history()}


RESOLVED_RE = "Re: Proposed resolution: Paper jam"


async def owner_told(harness: Harness) -> bool:
    return bool(harness.sink.with_subject("Customer replied to resolved case"))


# -- helpers --------------------------------------------------------------------------------------


def customer_email(number: str, i: int, text: str) -> InboundEmail:
    return InboundEmail(
        key=f"replay:{number}:{i}",
        sender=CUSTOMER,
        subject=f"Re: [{number}] reply {i}",
        received_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        text=text,
        message_id=f"<replay-{number}-{i}@customer.example>",
    )


async def status_is(number: str, harness: Harness, status: CaseStatus) -> bool:
    view = await case_handle(harness.client, number).query(CaseWorkflow.view)
    return view.status is status


async def survey_is(survey: WorkflowHandle[SurveyWorkflow, Any], status: SurveyStatus) -> bool:
    view = await survey.query(SurveyWorkflow.view)
    return view.survey_status is status


async def first_response_was(number: str, harness: Harness, event: str) -> bool:
    clocks = await case_handle(harness.client, number).query(CaseWorkflow.sla_clocks)
    first = next(c for c in clocks if c.kpi is KpiName.FIRST_RESPONSE)
    return bool(first.history) and first.history[-1].event == event


async def first_response_fails_after(number: str, harness: Harness, after: timedelta) -> bool:
    clocks = await case_handle(harness.client, number).query(CaseWorkflow.sla_clocks)
    first = next(c for c in clocks if c.kpi is KpiName.FIRST_RESPONSE)
    return first.fail_after == after


async def until(probe: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout
    while not await probe():
        if loop.time() > give_up:
            raise TimeoutError("the case did not get there in time")
        await asyncio.sleep(0.2)


async def run_ids(client: Client, number: str) -> list[str]:
    """The case's runs in order, from the first along its ContinuedAsNew events."""
    described = await client.get_workflow_handle(number).describe()
    run_id = described.raw_description.workflow_execution_info.first_run_id
    runs: list[str] = []
    while run_id:
        runs.append(run_id)
        history = await client.get_workflow_handle(number, run_id=run_id).fetch_history()
        last = history.events[-1]
        if last.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            break
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return runs


# -- servers and worker ---------------------------------------------------------------------------


@asynccontextmanager
async def worker_on(
    env: WorkflowEnvironment, workdir: Path, **timings: timedelta
) -> AsyncIterator[Harness]:
    """A worker with its own freshly seeded database and SMTP sink, so case numbers repeat."""
    workdir.mkdir(parents=True)
    url = f"sqlite:///{workdir / 'caseflow.db'}"
    upgrade(url)
    engine = make_engine(url)
    with transaction(session_factory(engine)) as session:
        seed_demo(session)
    engine.dispose()
    sink = SmtpSink()
    sink.start()
    try:
        settings = Settings(
            home=workdir / "home",
            database_url=url,
            task_queue=TASK_QUEUE,
            smtp_port=sink.port,
            **timings,  # type: ignore[arg-type]
        )
        async with running_worker(env.client, settings, sink) as harness:
            yield harness
    finally:
        sink.stop()


async def dev_server(*extra: str) -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        search_attributes=search.ALL_KEYS,
        data_converter=DATA_CONVERTER,
        dev_server_log_level="error",
        dev_server_extra_args=list(extra),
    )


Scenario = Callable[[Harness], Awaitable[dict[str, WorkflowHistory]]]
# The scenarios on one dev server and worker, by the histories each writes.
ON_THE_DEV_SERVER: list[tuple[tuple[str, ...], Scenario]] = [
    (("email_to_closed", "survey_answered"), email_to_closed),
    (("strangers_and_bounce",), strangers_and_bounce),
    (("merge_duplicate", "merge_survivor"), merged),
    (("link_child", "link_parent"), linked),
    (("case_activities",), case_activities),
    (("escalated",), escalated),
    (("policy_and_calendar_changes",), policy_and_calendar_changes),
    (("replies_to_resolved",), replies_to_resolved),
]


async def record_all(workdir: Path, only: list[str]) -> dict[str, WorkflowHistory]:
    """Every scenario, or those that write one of the histories named in `only`."""

    def wanted(*names: str) -> bool:
        return not only or any(name in only for name in names)

    histories: dict[str, WorkflowHistory] = {}
    if any(wanted(*names) for names, _ in ON_THE_DEV_SERVER):
        env = await dev_server()
        try:
            timings = {"survey_delay": timedelta(seconds=1)}
            async with worker_on(env, workdir / "dev", **timings) as harness:
                for names, scenario in ON_THE_DEV_SERVER:
                    if wanted(*names):
                        histories |= await scenario(harness)
        finally:
            await env.shutdown()
    if wanted("continued_as_new_run1", "continued_as_new_run2"):
        env = await dev_server(
            "--dynamic-config-value", f"limit.historyCount.suggestContinueAsNew={CAN_AFTER_EVENTS}"
        )
        try:
            async with worker_on(env, workdir / "can") as harness:
                histories |= await continued_as_new(harness)
        finally:
            await env.shutdown()
    if wanted("sla_warning_failure"):
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=venv_binary("temporal-test-server"),
            data_converter=DATA_CONVERTER,
        )
        try:
            await register_search_attributes(env.client, env.client.namespace)
            async with worker_on(env, workdir / "skipping") as harness:
                histories |= await sla_warning_failure(harness, env)
        finally:
            await env.shutdown()
    return histories


def write(histories: dict[str, WorkflowHistory], into: Path = HISTORIES) -> list[Path]:
    into.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, history in sorted(histories.items()):
        path = into / f"{name}.json"
        path.write_text(history.to_json() + "\n", encoding="utf-8")
        written.append(path)
        logger.info("wrote %s: %d events, %d bytes", path, len(history.events), path.stat().st_size)
    return written


async def main(only: list[str]) -> None:
    """Record every scenario; with names, record and write only those (the others stay as they
    are)."""
    with tempfile.TemporaryDirectory(prefix="caseflow-replay-") as tmp:
        histories = await record_all(Path(tmp), only)
    write({k: v for k, v in histories.items() if not only or k in only})


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command log
    asyncio.run(main(sys.argv[1:]))
