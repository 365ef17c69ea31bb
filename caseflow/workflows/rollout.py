"""ChangeRolloutWorkflow: tells every running case of an edited calendar or SLA policy about it,
in batches, one page of cases per run (continuing as new between pages), its progress in the
Temporal UI and in a query.

Its id names the target (`fanout.rollout_id`); requests start it with a notice (signal-with-
start), so an edit saved while it runs joins it: the rollout reads the target again before its
next batch and, when it changed, starts over from the first case.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from caseflow.workflows import fanout
    from caseflow.workflows.fanout import (
        CasePage,
        ChangeRead,
        ChangeRequest,
        PageRequest,
        RolloutActivity,
        RolloutInput,
        RolloutNotice,
        RolloutProgress,
        RolloutResult,
        TellOutcome,
        TellRequest,
    )

READ_TIMEOUT = timedelta(seconds=30)
# A batch signals its cases at once, each signal within starter.SIGNAL: a worker that dies
# mid-batch is noticed after this, and the batch is told again (the cases told ignore it).
TELL_TIMEOUT = timedelta(seconds=30)
# Unlimited attempts: while the database or Temporal is away, the rollout waits, then goes on.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)


@workflow.defn
class ChangeRolloutWorkflow:
    @workflow.init
    def __init__(self, inp: RolloutInput) -> None:
        self._state = inp

    @workflow.run
    async def run(self, inp: RolloutInput) -> RolloutResult:
        state = self._state
        self._publish()
        while True:
            if state.reread and not await self._read_change():
                return RolloutResult(state.target, state.progress, found=False)
            page = await self._list_page()
            await self._tell_page(page)
            if fanout.finished(state, page):
                assert state.change is not None
                return RolloutResult(state.target, state.progress, state.change.digest)
            workflow.continue_as_new(state)

    @workflow.signal(name=fanout.NOTICE)
    def changed(self, notice: RolloutNotice) -> None:
        self._state.reread = True
        self._state.by = notice.by

    @workflow.query
    def progress(self) -> RolloutProgress:
        return self._state.progress

    async def _read_change(self) -> bool:
        """Read the target as it is saved now; False when it no longer exists."""
        state = self._state
        state.reread = False
        read = await workflow.execute_activity(
            RolloutActivity.READ_CHANGE,
            ChangeRequest(state.target, state.by),
            result_type=ChangeRead,
            start_to_close_timeout=READ_TIMEOUT,
            retry_policy=RETRY,
            summary=f"read {state.target.kind} {state.target.name}",
        )
        if read.change is None:
            return False
        fanout.adopt(state, read.change)
        self._publish()
        return True

    async def _list_page(self) -> CasePage:
        state = self._state
        page: CasePage = await workflow.execute_activity(
            RolloutActivity.LIST_CASES,
            PageRequest(state.target, state.progress.after, state.page_size),
            result_type=CasePage,
            start_to_close_timeout=READ_TIMEOUT,
            retry_policy=RETRY,
            summary=f"list running cases after {state.progress.after or 'the first'}",
        )
        return page

    async def _tell_page(self, page: CasePage) -> None:
        """Tell the page's cases batch by batch; a notice stops it before the next batch."""
        state = self._state
        change = state.change
        assert change is not None
        state.progress = fanout.with_page(state.progress, page)
        self._publish()
        for batch in fanout.batches(page.numbers, state.batch_size):
            if state.reread:
                return
            outcome = await workflow.execute_activity(
                RolloutActivity.TELL_CASES,
                TellRequest(change, batch),
                result_type=TellOutcome,
                start_to_close_timeout=TELL_TIMEOUT,
                retry_policy=RETRY,
                summary=f"tell {batch[0]} … {batch[-1]}",
            )
            state.progress = fanout.counted(state.progress, batch, outcome)
            self._publish()

    def _publish(self) -> None:
        workflow.set_current_details(fanout.details(self._state))
