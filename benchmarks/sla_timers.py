"""SLA warnings of many cases falling due in the same instant: delay until the email reaches SMTP.

Design. The cases are opened while support is closed, and their clocks start when it reopens:
the database gets a calendar `bench-reopening`, open around the clock except for a one-off
closure that ends at a chosen instant (the reopening), and a default policy `bench` on it whose
first-response warning comes after WARN_AFTER of business time. Every case opened during the
closure has its first-response clock waiting for the reopening, so Caseflow's own business-time
arithmetic gives every warning the same instant, reopening + WARN_AFTER: the herd a support desk
meets on a Monday morning. The reopening is chosen before the first case exists, from an
assumed creation rate with a margin; the report checks that the warn instants the cases
recorded (`sla_instances.warn_at`) are one.

Caseflow: a real worker (`build_worker`, real activities) on a temporary SQLite seeded with the
demo organisation plus one agent in the `standard` queue (warnings go to the queue's members),
emails to an SMTP sink in this process that notes each arrival with `time.time()`. Cases are
created through update-with-start at CONCURRENCY, as the API does; their acknowledgements
arrive before the due instant and are not measured. For each warning: delay = arrival − warn_at,
split at `sla_instances.warned_at` (`workflow.now()` of the task the timer woke) into timer →
workflow task and workflow task → SMTP. Memory: this process's VmRSS before the first case and
once all are created and idle, their timers armed, per case; the worker's workflow cache
(`max_cached_workflows`) holds every one of them.

Baseline, on the same dev server in the same process afterwards: a minimal workflow per case
that sleeps until a common instant and runs one no-op activity (`timer_baseline`); its delay is
from the due instant until the activity runs.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import gc
import math
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from benchmarks.timer_baseline import Arrivals, SleepUntil, Wakeup
from caseflow.calendars import CalendarDefinition, save_calendar
from caseflow.client import create_case_and_wait, register_search_attributes
from caseflow.policies import Policy, Target, save_policy
from caseflow.settings import DEVELOPMENT_SECRET, Settings
from caseflow.signing import token_hash
from caseflow.store import cases, directory
from caseflow.store.db import make_engine, session_factory, transaction, upgrade
from caseflow.store.models import SlaInstance
from caseflow.store.seed import seed_demo
from caseflow.worker import ACTIVITY_THREADS, build_worker
from caseflow.workflows import search
from caseflow.workflows.calendar import Closure
from caseflow.workflows.model import Channel, KpiName, NewCase
from caseflow.workflows.payloads import DATA_CONVERTER
from tests.support.servers import SmtpSink, venv_binary

CASES = 1000
CONCURRENCY = 20  # creations in flight, as many API requests at once
WARN_AFTER = timedelta(seconds=10)  # of business time after the reopening
FAIL_AFTER = timedelta(hours=1)  # far beyond the measurement: only warnings fire
# The reopening must come after the last case is created: CALIBRATION cases opened first (on the
# demo's default policy, which warns hours later) give the creation time per case, which is
# scaled by CREATION_SAFETY, plus a margin. They also warm the worker up before it is weighed.
CALIBRATION = 2 * CONCURRENCY
CREATION_SAFETY = 1.5
CREATION_MARGIN = timedelta(seconds=10)
BASELINE_START_PER_WORKFLOW = timedelta(milliseconds=30)
WAIT_AFTER_DUE = timedelta(minutes=3)  # for the last warning, before giving up
RPC_TIMEOUT = timedelta(seconds=60)
AGENT = "ann@caseflow.test"
WARNING_SUBJECT = re.compile(r"^\[[^\]]+\] SLA warning:")
ACK_SUBJECT = re.compile(r"^\[[^\]]+\] We received your request:")


@dataclass(frozen=True)
class Arrival:
    at: float
    case: str
    subject: str


class ArrivalSink(SmtpSink):
    """An SMTP sink that keeps only the headers that matter here and when each message came,
    so that it adds next to nothing to the memory measured."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self._parser = email.parser.BytesHeaderParser(policy=email.policy.default)

    def received(self, recipients: list[str], raw: bytes) -> None:
        at = time.time()
        headers = self._parser.parsebytes(raw)
        arrival = Arrival(at, str(headers["X-Caseflow-Case"]), str(headers["Subject"]))
        with self._lock:
            self.arrivals.append(arrival)

    def matching(self, subject: re.Pattern[str]) -> list[Arrival]:
        with self._lock:
            return [a for a in self.arrivals if subject.match(a.subject)]


@dataclass
class Delays:
    """Seconds from the due instant to the effect, and to the workflow task in between."""

    name: str
    expected: int
    total: list[float] = field(default_factory=list)
    to_task: list[float] = field(default_factory=list)

    def line(self, values: Sequence[float], label: str) -> str:
        if not values:
            return f"  {label:<50} none arrived"
        ordered = sorted(values)
        p50, p99 = percentile(ordered, 0.50), percentile(ordered, 0.99)
        return (
            f"  {label:<50} {len(values):>5}/{self.expected:<5} p50 {p50:6.3f} s"
            f"  p99 {p99:6.3f} s  max {ordered[-1]:6.3f} s"
        )

    def lines(self, effect: str) -> list[str]:
        return [
            self.line(self.total, f"{self.name}: due → {effect}"),
            self.line(self.to_task, "    of which due → workflow task"),
        ]


@dataclass
class CaseflowRun:
    delays: Delays
    due: datetime
    spread: float  # seconds between the earliest and the latest warn instant
    duplicates: int
    creation_seconds: float
    rss_before: int
    rss_after: int
    cached_workflows: int

    @property
    def per_case(self) -> float:
        return (self.rss_after - self.rss_before) / self.delays.expected


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least `fraction` of the values at or below it."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def rss_bytes() -> int:
    """This process's resident set (VmRSS), after a full collection."""
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def until(check: Callable[[], bool], deadline: float, what: str) -> None:
    """Poll `check` until it holds; at `deadline` (time.time()) raise TimeoutError."""
    while not check():
        if time.time() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        await asyncio.sleep(0.2)


async def bounded(count: int, one: Callable[[int], Awaitable[None]]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def each(i: int) -> None:
        async with gate:
            await one(i)

    await asyncio.gather(*(each(i) for i in range(count)))


# -- Caseflow -------------------------------------------------------------------------------------


def prepare_directory(sessions: sessionmaker[Session]) -> None:
    """The demo organisation and an agent in the default queue, whom warnings go to."""
    with transaction(sessions) as session:
        seed_demo(session)
        directory.create_agent(
            session,
            "ann",
            AGENT,
            "agent",
            ["standard"],
            token_hash(DEVELOPMENT_SECRET, "bench-ann"),
        )


def prepare_policy(sessions: sessionmaker[Session], reopening: datetime) -> None:
    """The default policy from now on: on a calendar closed until `reopening`."""
    closed = Closure(reopening - timedelta(days=1), reopening, "benchmark: closed until then")
    kpis = {
        KpiName.FIRST_RESPONSE: Target(warn_after=WARN_AFTER, fail_after=FAIL_AFTER),
        KpiName.RESOLUTION: Target(warn_after=2 * FAIL_AFTER, fail_after=3 * FAIL_AFTER),
    }
    with transaction(sessions) as session:
        save_calendar(session, CalendarDefinition(name="bench-reopening", closures=[closed]))
        save_policy(
            session,
            Policy(name="bench", calendar="bench-reopening", default=True, kpis=kpis),
        )


def allocate(sessions: sessionmaker[Session], prefix: str, count: int) -> list[str]:
    with transaction(sessions) as session:
        return [cases.allocate_case_number(session, f"{prefix}:{i}") for i in range(count)]


def first_response_clocks(sessions: sessionmaker[Session], numbers: list[str]) -> list[SlaInstance]:
    with transaction(sessions, writes=False) as session:
        query = select(SlaInstance).where(
            SlaInstance.kpi == str(KpiName.FIRST_RESPONSE), SlaInstance.case_number.in_(numbers)
        )
        return list(session.scalars(query))


@dataclass
class Desk:
    """The Caseflow side of the run: database, SMTP sink, worker settings."""

    client: Client
    sessions: sessionmaker[Session]
    sink: ArrivalSink
    settings: Settings

    async def open_cases(self, numbers: list[str]) -> None:
        """Create the cases as the API does, and wait until all are acknowledged."""

        async def one(i: int) -> None:
            new = NewCase(
                channel=Channel.WEB,
                subject=f"Benchmark case {i}",
                description="Waiting for the desk to open.",
                customer_email=f"customer.{numbers[i].lower()}@globex.example",
            )
            queue = self.settings.task_queue
            await create_case_and_wait(self.client, numbers[i], new, RPC_TIMEOUT, queue)

        acknowledged = len(self.sink.matching(ACK_SUBJECT)) + len(numbers)
        await bounded(len(numbers), one)
        deadline = time.time() + WAIT_AFTER_DUE.total_seconds()
        await until(self.has(ACK_SUBJECT, acknowledged), deadline, "the acknowledgements")

    def has(self, subject: re.Pattern[str], count: int) -> Callable[[], bool]:
        return lambda: len(self.sink.matching(subject)) >= count

    def warnings_recorded(self, numbers: list[str]) -> Callable[[], bool]:
        def check() -> bool:
            clocks = first_response_clocks(self.sessions, numbers)
            return all(c.warned_at is not None for c in clocks)

        return check


async def caseflow(client: Client, home: Path, count: int) -> CaseflowRun:
    url = f"sqlite:///{home / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    prepare_directory(sessions)
    sink = ArrivalSink()
    sink.start()
    settings = Settings(
        home=home, database_url=url, smtp_port=sink.port, task_queue=f"bench-{uuid.uuid4().hex[:6]}"
    )
    try:
        with ThreadPoolExecutor(ACTIVITY_THREADS) as executor:
            worker = build_worker(client, sessions, settings, executor)
            async with worker:
                cached = int(worker.config()["max_cached_workflows"])
                return await measure(Desk(client, sessions, sink, settings), count, cached)
    finally:
        sink.stop()
        engine.dispose()


async def measure(desk: Desk, count: int, cached_workflows: int) -> CaseflowRun:
    """Calibrate, create the cases during the closure, weigh the worker, await the warnings."""
    started = time.perf_counter()
    await desk.open_cases(allocate(desk.sessions, "calibration", CALIBRATION))
    per_case = (time.perf_counter() - started) / CALIBRATION
    budget = timedelta(seconds=count * per_case * CREATION_SAFETY) + CREATION_MARGIN
    reopening = (datetime.now(UTC) + budget).replace(microsecond=0)
    prepare_policy(desk.sessions, reopening)
    numbers = allocate(desk.sessions, "bench", count)
    rss_before = rss_bytes()
    started = time.perf_counter()
    await desk.open_cases(numbers)
    creation_seconds = time.perf_counter() - started
    rss_after = rss_bytes()
    armed = {c.case_number: c.warn_at for c in first_response_clocks(desk.sessions, numbers)}
    deadline = (reopening + WARN_AFTER + WAIT_AFTER_DUE).timestamp()
    await until(desk.has(WARNING_SUBJECT, count), deadline, "the SLA warnings")
    await until(desk.warnings_recorded(numbers), deadline, "the warnings to be recorded")
    clocks = first_response_clocks(desk.sessions, numbers)
    warnings = desk.sink.matching(WARNING_SUBJECT)
    instants = [t.timestamp() for t in armed.values() if t is not None]
    return CaseflowRun(
        delays=caseflow_delays(
            count, armed, {c.case_number: c.warned_at for c in clocks}, warnings
        ),
        due=reopening + WARN_AFTER,
        spread=max(instants) - min(instants) if instants else math.nan,
        duplicates=len(warnings) - len({a.case for a in warnings}),
        creation_seconds=creation_seconds,
        rss_before=rss_before,
        rss_after=rss_after,
        cached_workflows=cached_workflows,
    )


def caseflow_delays(
    count: int,
    armed: dict[str, datetime | None],
    warned_at: dict[str, datetime | None],
    warnings: list[Arrival],
) -> Delays:
    delays = Delays("Caseflow", count)
    for arrival in warnings:
        due_at = armed[arrival.case]
        assert due_at is not None, f"{arrival.case} had no warning armed"
        delays.total.append(arrival.at - due_at.timestamp())
    for case, due_at in armed.items():
        task_at = warned_at[case]
        if due_at is not None and task_at is not None:
            delays.to_task.append((task_at - due_at).total_seconds())
    return delays


# -- the baseline ---------------------------------------------------------------------------------


async def baseline(client: Client, count: int) -> Delays:
    queue = f"bench-timer-{uuid.uuid4().hex[:6]}"
    arrivals = Arrivals()
    due = datetime.now(UTC) + count * BASELINE_START_PER_WORKFLOW + CREATION_MARGIN
    async with Worker(
        client, task_queue=queue, workflows=[SleepUntil], activities=[arrivals.woken]
    ):
        handles = []

        async def one(i: int) -> None:
            key = f"{queue}-{i}"
            wakeup = Wakeup(key, due)
            handles.append(
                await client.start_workflow(SleepUntil.run, wakeup, id=key, task_queue=queue)
            )

        await bounded(count, one)
        armed = await asyncio.gather(*(h.query(SleepUntil.armed) for h in handles))
        if not all(armed) or datetime.now(UTC) > due:
            raise RuntimeError("the baseline's timers were not all set before they fell due")
        await asyncio.wait_for(
            asyncio.gather(*(h.result() for h in handles)),
            timeout=(due + WAIT_AFTER_DUE - datetime.now(UTC)).total_seconds(),
        )
    delays = Delays("bare Temporal", count)
    for arrival in arrivals.by_key.values():
        delays.total.append(arrival.ran_at - due.timestamp())
        delays.to_task.append((arrival.woken_at - due).total_seconds())
    return delays


# -- the run --------------------------------------------------------------------------------------


async def run(count: int = CASES) -> str:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        search_attributes=search.ALL_KEYS,
        data_converter=DATA_CONVERTER,
        dev_server_log_level="error",
    )
    try:
        await register_search_attributes(env.client, env.client.namespace)
        with tempfile.TemporaryDirectory() as home:
            ours = await caseflow(env.client, Path(home), count)
        base = await baseline(env.client, count)
    finally:
        await env.shutdown()
    return report(ours, base)


def report(ours: CaseflowRun, base: Delays) -> str:
    count = ours.delays.expected
    spread = f"spread {ours.spread:.3f} s" + ("" if ours.spread < 1 else ", NOT one second")
    mib = 1024 * 1024
    return "\n".join(
        [
            f"SLA timers, {count} open cases, first-response warnings due at "
            f"{ours.due:%H:%M:%S} UTC ({spread}), Temporal dev server:",
            *ours.delays.lines("warning email at the SMTP server"),
            *base.lines("no-op activity runs"),
            f"  warning emails sent twice: {ours.duplicates}",
            f"  cases created (and acknowledged) in {ours.creation_seconds:.1f} s "
            f"at concurrency {CONCURRENCY}; activity slots {ACTIVITY_THREADS}",
            f"  worker RSS {ours.rss_before / mib:.1f} MiB before, {ours.rss_after / mib:.1f} MiB"
            f" with {count} cases idle, timers armed: {ours.per_case / 1024:.1f} KiB per open case"
            f" (workflow cache holds up to {ours.cached_workflows})",
        ]
    )
