"""The baseline for timers: a minimal workflow that sleeps until an instant, then runs one no-op."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import activity, workflow

WOKEN_TIMEOUT = timedelta(seconds=60)


@dataclass
class Wakeup:
    key: str
    due: datetime


@dataclass
class Woken:
    key: str
    woken_at: datetime  # workflow.now() in the task the timer woke: the server's view


@dataclass
class Arrival:
    woken_at: datetime
    ran_at: float  # time.time() in the activity: where Caseflow would hand over its email


class Arrivals:
    """The no-op activity, remembering when each workflow's call reached it."""

    def __init__(self) -> None:
        self.by_key: dict[str, Arrival] = {}

    @activity.defn(name="timer_baseline_woken")
    async def woken(self, woken: Woken) -> None:
        self.by_key[woken.key] = Arrival(woken.woken_at, time.time())


@workflow.defn
class SleepUntil:
    def __init__(self) -> None:
        self.sleeping = False

    @workflow.run
    async def run(self, wakeup: Wakeup) -> None:
        self.sleeping = True
        delay = wakeup.due - workflow.now()
        if delay > timedelta(0):
            await workflow.sleep(delay)
        await workflow.execute_activity(
            "timer_baseline_woken",
            Woken(wakeup.key, workflow.now()),
            start_to_close_timeout=WOKEN_TIMEOUT,
        )

    @workflow.query
    def armed(self) -> bool:
        """True once the first task has run: the timer is set and the worker has it cached."""
        return self.sleeping
