"""Composition root of the worker: the case and survey workflows and their activities."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from caseflow.activities.cases import CaseActivities
from caseflow.activities.email import EmailActivities
from caseflow.settings import Settings
from caseflow.store.db import make_engine, session_factory
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.starter import connect
from caseflow.workflows.survey import SurveyWorkflow

logger = logging.getLogger(__name__)

ACTIVITY_THREADS = 20
WORKFLOWS = [CaseWorkflow, SurveyWorkflow]
# The sandbox re-imports, for every run it starts, each module not passed through. The pure
# rules and data are passed through (imported once, shared by every run); the sandbox does not
# restrict what they call, so tests/unit/test_architecture.py checks them for anything
# non-deterministic. The workflow modules themselves (`case`, `survey`, `runner`: the code that
# calls Temporal's workflow API) stay in the sandbox, re-imported per run and restricted.
PASSED_THROUGH = tuple(
    f"caseflow.workflows.{name}"
    for name in (
        "model", "lifecycle", "sla", "calendar", "routing", "views", "search", "visibility",
        "bounds",
    )
)  # fmt: skip
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)
)
GRACEFUL_SHUTDOWN = timedelta(seconds=10)


def build_worker(
    client: Client,
    sessions: sessionmaker[Session],
    settings: Settings,
    executor: ThreadPoolExecutor,
    **options: object,
) -> Worker:
    """The worker with everything registered; tests pass extra Worker options."""
    case_activities = CaseActivities(sessions, settings, client)
    email_activities = EmailActivities(sessions, settings)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[
            case_activities.load_case_context,
            case_activities.record_case,
            case_activities.open_follow_up,
            case_activities.adopt_child,
            case_activities.merge_case,
            case_activities.notify_children,
            email_activities.send_email,
        ],
        activity_executor=executor,
        max_concurrent_activities=ACTIVITY_THREADS,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        workflow_runner=WORKFLOW_RUNNER,
        **options,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def build_worker_for(client: Client, settings: Settings) -> AsyncIterator[Worker]:
    """The worker with its own engine and thread pool, both closed when it is done."""
    engine = make_engine(settings.effective_database_url)
    try:
        with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
            logger.info(
                "worker polling task queue %s at %s", settings.task_queue, settings.temporal_address
            )
            yield build_worker(client, session_factory(engine), settings, executor)
    finally:
        engine.dispose()


async def run_worker(settings: Settings) -> None:
    """Run until cancelled, finishing activities in flight first."""
    client = await connect(settings.temporal_address, settings.temporal_namespace)
    async with build_worker_for(client, settings) as worker:
        await worker.run()
