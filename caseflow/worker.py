"""Composition root of the worker: the case, survey and change rollout workflows and their
activities."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from caseflow.activities.cases import CaseActivities
from caseflow.activities.email import EmailActivities
from caseflow.activities.rollout import RolloutActivities
from caseflow.settings import Settings
from caseflow.store.db import make_engine, session_factory
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.rollout import ChangeRolloutWorkflow
from caseflow.workflows.starter import connect
from caseflow.workflows.survey import SurveyWorkflow

logger = logging.getLogger(__name__)

ACTIVITY_THREADS = 20
# The sandbox re-imports a workflow's module for every run it starts (case creation, and each
# run rebuilt after eviction from the cache). Caseflow's workflow package imports nothing
# non-deterministic (tests/unit/test_architecture.py), so it is passed through whole: imported
# once, shared by every run.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("caseflow.workflows")
)
GRACEFUL_SHUTDOWN = timedelta(seconds=10)


WORKFLOWS = [CaseWorkflow, SurveyWorkflow, ChangeRolloutWorkflow]


def worker_activities(
    client: Client, sessions: sessionmaker[Session], settings: Settings
) -> list[Callable[..., Any]]:
    """Every activity the workflows call, bound to what it needs."""
    case_activities = CaseActivities(sessions, settings, client)
    email_activities = EmailActivities(sessions, settings)
    rollout_activities = RolloutActivities(sessions, client)
    return [
        case_activities.load_case_context,
        case_activities.record_case,
        case_activities.open_follow_up,
        case_activities.adopt_child,
        case_activities.merge_case,
        case_activities.notify_children,
        email_activities.send_email,
        rollout_activities.read_rollout_change,
        rollout_activities.list_rollout_cases,
        rollout_activities.tell_rollout_cases,
    ]


def build_worker(
    client: Client,
    sessions: sessionmaker[Session],
    settings: Settings,
    executor: ThreadPoolExecutor,
    activities: Sequence[Callable[..., Any]] | None = None,
    **options: object,
) -> Worker:
    """The worker with everything registered; tests pass other activities (a faulty one among
    the real ones) and extra Worker options."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=activities or worker_activities(client, sessions, settings),
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
