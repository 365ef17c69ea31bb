"""The baseline: a minimal workflow that runs one no-op activity and answers an update."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def no_op(value: str) -> str:
    return value


@workflow.defn
class Minimal:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self, value: str) -> str:
        await workflow.execute_activity(no_op, value, start_to_close_timeout=timedelta(seconds=10))
        self.done = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return value

    @workflow.signal
    def nudge(self) -> None:
        """What signal-with-start delivers: an email for the case, in the baseline."""

    @workflow.update
    async def created(self) -> bool:
        await workflow.wait_condition(lambda: self.done)
        return True
