"""Composition root of the worker: the case, survey and change rollout workflows and their
activities."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from caseflow.activities.cases import CaseActivities
from caseflow.activities.email import SLA_LATENESS_BUCKETS, SLA_LATENESS_METRIC, EmailActivities
from caseflow.activities.rollout import RolloutActivities
from caseflow.client import connect
from caseflow.settings import Settings, WorkerRole
from caseflow.store.db import make_engine, session_factory
from caseflow.workflows.case import (
    INTAKE_LAG_BUCKETS,
    INTAKE_LAG_METRIC,
    STATE_BYTES_BUCKETS,
    STATE_BYTES_METRIC,
    CaseWorkflow,
)
from caseflow.workflows.fanout import RolloutActivity
from caseflow.workflows.model import ActivityName
from caseflow.workflows.rollout import ChangeRolloutWorkflow
from caseflow.workflows.survey import SurveyWorkflow

logger = logging.getLogger(__name__)

ACTIVITY_THREADS = 20
WORKFLOWS = [CaseWorkflow, SurveyWorkflow, ChangeRolloutWorkflow]
# Every activity the workflows call, by its name.
Activities = dict[str, Callable[..., Any]]
# The sandbox re-imports, for every run it starts, each module not passed through. The pure
# rules and data are passed through (imported once, shared by every run); the sandbox does not
# restrict what they call, so tests/unit/test_architecture.py checks them for anything
# non-deterministic. The workflow modules themselves (`case`, `survey`, `runner`: the code that
# calls Temporal's workflow API) stay in the sandbox, re-imported per run and restricted.
PASSED_THROUGH = tuple(
    f"caseflow.workflows.{name}"
    for name in (
        "model", "lifecycle", "sla", "calendar", "routing", "views", "search", "visibility",
        "bounds", "fanout", "kpis",
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
    swap: Callable[[Activities], Activities] | None = None,
    role: WorkerRole | None = None,
    **options: object,
) -> Worker:
    """The worker of its role (`settings.worker_role` unless given): the workflows, their
    activities, or both, polling the one task queue; any number of each may run. Its cache
    of workflows in memory is bounded (`settings.max_cached_workflows`): a case evicted is
    replayed from its history when it next has work. Tests pass extra Worker options, and
    `swap` to run other activities by name (one that waits for the test, a faulty one
    wrapping the real one)."""
    role = role or settings.worker_role
    runs_workflows = role in (WorkerRole.BOTH, WorkerRole.WORKFLOWS)
    runs_activities = role in (WorkerRole.BOTH, WorkerRole.ACTIVITIES)
    found = activities(client, sessions, settings) if runs_activities else {}
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS if runs_workflows else [],
        activities=list((swap or _as_they_are)(found).values()) if runs_activities else [],
        activity_executor=executor if runs_activities else None,
        max_concurrent_activities=ACTIVITY_THREADS,
        max_cached_workflows=settings.max_cached_workflows if runs_workflows else 0,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        workflow_runner=WORKFLOW_RUNNER,
        **options,  # type: ignore[arg-type]
    )


def activities(client: Client, sessions: sessionmaker[Session], settings: Settings) -> Activities:
    """Every activity the workflows call, bound to what it needs, by its name."""
    cases = CaseActivities(sessions, settings, client)
    emails = EmailActivities(sessions, settings)
    rollouts = RolloutActivities(sessions, client)
    return {
        ActivityName.LOAD_CASE_CONTEXT: cases.load_case_context,
        ActivityName.RECORD_CASE: cases.record_case,
        ActivityName.OPEN_FOLLOW_UP: cases.open_follow_up,
        ActivityName.ADOPT_CHILD: cases.adopt_child,
        ActivityName.MERGE_CASE: cases.merge_case,
        ActivityName.NOTIFY_CHILDREN: cases.notify_children,
        ActivityName.SEND_EMAIL: emails.send_email,
        RolloutActivity.READ_CHANGE: rollouts.read_rollout_change,
        RolloutActivity.LIST_CASES: rollouts.list_rollout_cases,
        RolloutActivity.TELL_CASES: rollouts.tell_rollout_cases,
    }


def _as_they_are(found: Activities) -> Activities:
    return found


@asynccontextmanager
async def build_worker_for(client: Client, settings: Settings) -> AsyncIterator[Worker]:
    """The worker with its own engine and thread pool, both closed when it is done."""
    engine = make_engine(
        settings.effective_database_url, settings.database_pool_size, settings.database_max_overflow
    )
    try:
        with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
            logger.info(
                "worker (%s) polling task queue %s at %s",
                settings.worker_role,
                settings.task_queue,
                settings.temporal_address,
            )
            yield build_worker(client, session_factory(engine), settings, executor)
    finally:
        engine.dispose()


def metrics_runtime(settings: Settings) -> Runtime | None:
    """The SDK runtime serving Prometheus metrics at CASEFLOW_WORKER_METRICS_ADDRESS: the SDK's
    own (task latencies, pollers, cache, activity failures) and Caseflow's, the histograms of
    each case's state size, of intake lag (an email reaching the intake to its case hearing of
    it) and of SLA emails' lateness (due to sent); or None."""
    if not settings.worker_metrics_address:
        return None
    buckets = {
        STATE_BYTES_METRIC: STATE_BYTES_BUCKETS,
        INTAKE_LAG_METRIC: INTAKE_LAG_BUCKETS,
        SLA_LATENESS_METRIC: SLA_LATENESS_BUCKETS,
    }
    prometheus = PrometheusConfig(
        bind_address=settings.worker_metrics_address, histogram_bucket_overrides=buckets
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


async def run_worker(settings: Settings) -> None:
    """Run until cancelled, finishing activities in flight first."""
    runtime = metrics_runtime(settings)
    client = await connect(settings.temporal_address, settings.temporal_namespace, runtime)
    async with build_worker_for(client, settings) as worker:
        await worker.run()
