"""A timer that falls due while no worker runs fires once when one returns, and says how late."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from caseflow.settings import Settings
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import SlaPolicy
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import ActionRequest, MessageRequest
from tests.support.harness import AGENT, CUSTOMER, running_worker
from tests.support.servers import SmtpSink


def quick_standard_policy(settings: Settings) -> None:
    """The standard policy with a first-response warning 3 seconds after creation, 24x7."""
    engine = make_engine(settings.effective_database_url)
    with transaction(session_factory(engine)) as session:
        policy = session.scalar(select(SlaPolicy).where(SlaPolicy.name == "standard"))
        gold = session.scalar(select(SlaPolicy).where(SlaPolicy.name == "gold"))
        assert policy is not None and gold is not None
        policy.calendar_id = gold.calendar_id  # 24x7
        policy.targets = {"first_response": {"warn_after": "PT3S", "fail_after": "PT1H"}}
    engine.dispose()


@pytest.mark.slow
async def test_a_warning_due_while_no_worker_runs_fires_once_on_return_and_says_how_late(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    settings = settings.model_copy(update={"late_timer_threshold": timedelta(seconds=1)})
    quick_standard_policy(settings)
    async with running_worker(dev_env.client, settings, smtp_sink) as harness:
        handle = await harness.open_case(CUSTOMER)
        await handle.execute_update(CaseWorkflow.created)
    await asyncio.sleep(6)  # due at 3 s, while no worker runs
    assert not smtp_sink.with_subject("SLA warning")
    async with running_worker(dev_env.client, settings, smtp_sink, agents=False):
        await asyncio.to_thread(
            smtp_sink.wait_for, lambda ms: any("SLA warning" in str(m["Subject"]) for m in ms)
        )
        # A later email of the case: the case sends its emails in order, so a second warning,
        # had the timer fired twice, would have come before it.
        await handle.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))
        await handle.execute_update(CaseWorkflow.reply, MessageRequest(actor=AGENT, body="Hi"))
        await asyncio.to_thread(
            smtp_sink.wait_for, lambda ms: any("Re: " in str(m["Subject"]) for m in ms)
        )
    [warning] = smtp_sink.with_subject("SLA warning")
    text = warning.get_body(preferencelist=("plain",))
    assert text is not None and "late by" in text.get_content()
