"""What the case's workflows share: timers from the state, commits, and carrying effects out.

`CaseWorkflow` (an open case) and `SurveyWorkflow` (the survey of a closed one) both hold a
`CaseState` and change it only through `lifecycle`; this base sleeps until the state's next timer,
commits what the rules return, and carries out the records and emails each commit queued, in
order, through activities.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from caseflow.workflows import lifecycle, views
    from caseflow.workflows.model import (
        ActivityName,
        CaseRecord,
        CaseState,
        CaseView,
        EmailOutcome,
        EmailRequest,
    )

RECORD_TIMEOUT = timedelta(seconds=30)
EMAIL_TIMEOUT = timedelta(seconds=60)
DATABASE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)
EMAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["InvalidRecipient", "InvalidEmail"],
)
# workflow.patched() id: an email the activity withheld (its address at its daily limit) is
# said on the timeline; before, the activity had no such answer.
WITHHELD_EMAILS = "withheld-emails-said-on-the-timeline"
T = TypeVar("T")


class StateRunner:
    """Timers, commits and the email lane of a workflow that holds one case's state."""

    _state: CaseState | None
    _wake: bool

    @property
    def state(self) -> CaseState:
        assert self._state is not None, "the case is not created yet"
        return self._state

    # -- timers -------------------------------------------------------------------------------

    def _fire_timers(self) -> None:
        """Carry out what fell due; also before any event, so it applies to the state it found."""
        for action, effects in lifecycle.fire_timers(self.state, workflow.now()):
            self._commit(effects, "system", action)

    async def _sleep_until_next_timer(self, also: Callable[[], bool] = lambda: False) -> None:
        """Until the state's next timer falls due, a commit wakes us, or `also` holds."""
        wake_at = lifecycle.next_wakeup(self.state)
        self._wake = False

        def woken() -> bool:
            return self._wake or self.state.finished or also()

        if wake_at is None:
            await workflow.wait_condition(woken)
            return
        timeout = wake_at - workflow.now()
        if timeout <= timedelta(0):
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(woken, timeout=timeout, timeout_summary="next case timer")

    def _as_it_is_now(self) -> CaseState:
        """The state with the timers that fell due applied: what a validator must judge, since
        the handler fires them first. A copy: validators change nothing."""
        due = lifecycle.next_wakeup(self.state)
        if due is None or due > workflow.now():
            return self.state
        state = copy.deepcopy(self.state)
        lifecycle.fire_timers(state, workflow.now())
        return state

    # -- commits ------------------------------------------------------------------------------

    def _commit(self, effects: lifecycle.Effects, actor: str, action: str) -> int:
        seq = lifecycle.commit(self.state, effects, actor, action, workflow.now())
        self._publish()
        self._wake = True
        return seq

    def _publish(self) -> None:
        """Keep what the Temporal UI shows in step with the state."""
        workflow.set_current_details(views.details(self.state))

    async def _committed(self, effects: lifecycle.Effects, actor: str, action: str) -> CaseView:
        """Commit, then answer once the read model has it, so a read after the answer agrees."""
        seq = self._commit(effects, actor, action)
        await workflow.wait_condition(lambda: self.state.recorded_seq >= seq)
        return views.view(self.state)

    # -- carrying effects out -----------------------------------------------------------------

    async def _record(self, record: CaseRecord) -> None:
        """Write one committed transition to the read model; the lane then moves past it."""
        await workflow.execute_activity(
            ActivityName.RECORD_CASE,
            record,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=DATABASE_RETRY,
            summary=f"record {record.action}",
        )
        self.state.pending_records.pop(0)
        self.state.recorded_seq = record.seq

    async def _drain_emails(self) -> None:
        """The email lane: a mail outage never blocks the records (nor an agent waiting)."""
        state = self.state
        while True:
            await workflow.wait_condition(lambda: bool(state.pending_emails))
            email = state.pending_emails[0]
            try:
                outcome = await self._send(email)
            except ActivityError as err:
                reason = str(err.cause) if err.cause else str(err)
                self._commit(
                    lifecycle.email_failed(state, email, reason, workflow.now()),
                    "system",
                    "email_failed",
                )
            else:
                # None: the answer of an activity from before there were outcomes.
                if outcome is not None and outcome.withheld and workflow.patched(WITHHELD_EMAILS):
                    self._commit(
                        lifecycle.ack_withheld(outcome, workflow.now()), "system", "ack_withheld"
                    )
            state.pending_emails.pop(0)

    async def _send(self, email: EmailRequest) -> EmailOutcome | None:
        outcome: EmailOutcome | None = await workflow.execute_activity(
            ActivityName.SEND_EMAIL,
            email,
            result_type=EmailOutcome,
            start_to_close_timeout=EMAIL_TIMEOUT,
            retry_policy=EMAIL_RETRY,
            summary=f"email {email.template}",
        )
        return outcome


def refusing(step: Callable[[], T]) -> T:
    """Run a rule; its refusal becomes an ApplicationError, which fails only the update."""
    try:
        return step()
    except lifecycle.Refusal as refusal:
        raise ApplicationError(refusal.detail, type=refusal.code, non_retryable=True) from None
