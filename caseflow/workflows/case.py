"""CaseWorkflow: one durable workflow per case, from creation until the case closes.

The workflow decides and never does I/O. Handlers call a rule in `lifecycle` and commit what it
returns; two drainers carry the committed effects out in order through activities (database
records in one lane, emails in the other, so a mail outage never blocks an agent). Every timer
(SLA warnings and failures, auto-close) is derived from the state by `lifecycle.next_wakeup`, so
the main loop sleeps on one durable timer at a time. When the case closes, its survey continues
in a `SurveyWorkflow` of its own and this workflow ends: a running CaseWorkflow is an open case.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from caseflow.workflows import lifecycle, search, views
    from caseflow.workflows.model import (
        ActedOn,
        ActionRequest,
        ActivityAdded,
        ActivityDecision,
        ActivityName,
        ActivityRequest,
        AdvanceRequest,
        AssignRequest,
        CalendarChange,
        CaseContext,
        CaseInput,
        CaseResult,
        CaseState,
        CaseView,
        ChildrenNotified,
        ChildRequest,
        ContextRequest,
        EmailDecision,
        EscalateRequest,
        FollowUpRequest,
        FollowUpResult,
        InboundEmail,
        KpiClock,
        MergeRequest,
        MergeTransfer,
        MessageRequest,
        NewCase,
        ParentNotice,
        ParentRequest,
        PolicyMigration,
        ResolutionResponse,
        ResolveRequest,
        SurveyAnswer,
        SurveyInput,
        WaitRequest,
    )
# Workflow code like this module: re-imported per run, inside the sandbox's restrictions.
from caseflow.workflows.runner import DATABASE_RETRY, StateRunner, refusing
from caseflow.workflows.survey import SurveyWorkflow, survey_workflow_id

CONTEXT_TIMEOUT = timedelta(seconds=30)
FOLLOW_UP_TIMEOUT = timedelta(seconds=30)
RELATED_TIMEOUT = timedelta(seconds=30)
# Asking another case (link, merge) answers an agent waiting on it: a few tries, then a refusal.
RELATED_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=5), maximum_attempts=4
)
# How big a case's state is after each change, as a histogram of the worker's metrics (a case
# stays far below Temporal's limits: 200 emails and 50 transitions make about 57 KB).
STATE_BYTES_METRIC = "caseflow_case_state_bytes"
STATE_BYTES_BUCKETS = [2.0**n for n in range(10, 21)]  # 1 KiB to 1 MiB
# From a customer's email reaching the intake to its case hearing of it, in seconds.
INTAKE_LAG_METRIC = "caseflow_intake_lag_seconds"
INTAKE_LAG_BUCKETS = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0]

# workflow.patched() ids: each marks a change in what the workflow does, for runs in flight.
CAN_WITH_EMAILS_PENDING = "continue-as-new-with-emails-pending"
SURVEY_OF_ITS_OWN = "survey-in-a-workflow-of-its-own"
KEEP_EARLY_SIGNALS = "keep-signals-that-come-before-creation"
_UNSET = object()

RequestT = TypeVar("RequestT")
if TYPE_CHECKING:
    from temporalio.workflow import UpdateMethodMultiParam

    Update = UpdateMethodMultiParam[[Any, RequestT], CaseView]


def _action_update(name: str, action: lifecycle.Action) -> Any:
    """The update `name` of an agent action declared in `lifecycle.ACTIONS`: its validator
    refuses what the case's state does not allow; its handler carries it out."""

    async def update(self: CaseWorkflow, request: Any) -> CaseView:
        return await self._act(name, request)

    def validate(self: CaseWorkflow, request: Any) -> None:
        self._validate(name, request)

    # The SDK reads the request type from the annotations, and checks that the validator's match.
    update.__name__ = update.__qualname__ = name
    update.__annotations__ = {"request": action.request, "return": CaseView}
    validate.__annotations__ = {"request": action.request, "return": None}
    handler = workflow.update(name=name, description=action.summary)(update)
    handler.validator(validate)
    return handler


def _updates_for_actions(cls: type[CaseWorkflow]) -> type[CaseWorkflow]:
    """Every agent action with a request type (`lifecycle.Action.request`) is an update of its
    name, derived here before `workflow.defn` reads the class."""
    for name, action in lifecycle.ACTIONS.items():
        if action.request is not None:
            setattr(cls, name, _action_update(name, action))
    return cls


@workflow.defn
@_updates_for_actions
class CaseWorkflow(StateRunner):
    # The updates `_updates_for_actions` adds, typed for Python callers (tests, scripts); an
    # action without a line here is an update all the same.
    if TYPE_CHECKING:
        pick: Update[ActionRequest]
        assign: Update[AssignRequest]
        reply: Update[MessageRequest]
        note: Update[MessageRequest]
        wait: Update[WaitRequest]
        hold: Update[WaitRequest]
        resume: Update[ActionRequest]
        advance: Update[AdvanceRequest]
        resolve: Update[ResolveRequest]
        reopen: Update[ActionRequest]
        cancel: Update[ActionRequest]
        escalate: Update[EscalateRequest]
        confirm: Update[EmailDecision]
        split: Update[EmailDecision]

    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        self._state: CaseState | None = inp.state
        self._early: list[Callable[[], None]] = []  # signals that came before the case existed
        self._wake = False
        self._visible: dict[str, object] = {}
        self._relating = False  # asking another case to take a link or a merge
        # Once the case has closed and hands its survey on, it changes no more: updates are
        # refused, and a customer's late email only opens a follow-up case (`_late_mail`).
        self._survey_elsewhere = False
        self._late_mail: list[FollowUpRequest] = []

    @workflow.run
    async def run(self, inp: CaseInput) -> CaseResult:
        if self._state is None:
            assert inp.new is not None, "a new case needs its origin"
            await self._create(inp.number, inp.new)
        else:
            self._publish()
        drainers = [
            asyncio.create_task(self._drain_records()),
            asyncio.create_task(self._drain_emails()),
        ]
        continue_as_new = await self._live()
        # Emails still to send travel in the state, so continuing as new does not wait out an
        # SMTP outage (timers would stand still meanwhile); the outbox makes a resend a no-op.
        emails_too = not continue_as_new or not workflow.patched(CAN_WITH_EMAILS_PENDING)
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and self._drained(emails_too)
        )
        if self._survey_elsewhere:
            await self._start_survey()
            await self._follow_up_late_mail()
        for task in drainers:
            task.cancel()
        if continue_as_new:
            workflow.continue_as_new(CaseInput(number=self.state.number, state=self.state))
        survey = self.state.survey
        return CaseResult(
            number=self.state.number,
            status=self.state.status,
            survey_rating=survey.rating if survey else None,
        )

    # -- the main loop: timers ----------------------------------------------------------------

    async def _live(self) -> bool:
        """Fire timers as they fall due until the case is finished; True to continue as new."""
        while not self.state.finished:
            if lifecycle.survey_to_hand_off(self.state) and workflow.patched(SURVEY_OF_ITS_OWN):
                self._survey_elsewhere = True
                return False
            if workflow.info().is_continue_as_new_suggested():
                return True
            await self._sleep_until_next_timer(
                also=lambda: workflow.info().is_continue_as_new_suggested()
            )
            self._fire_timers()
        return False

    async def _start_survey(self) -> None:
        """The closed case's survey goes on in a child workflow that outlives this one (the UI
        shows it under the case)."""
        state = self.state
        await workflow.start_child_workflow(
            SurveyWorkflow.run,
            SurveyInput(state=state),
            id=survey_workflow_id(state.number, state.episode),
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"Survey of {views.summary(state.number, state.subject)}",
        )

    async def _follow_up_late_mail(self) -> None:
        """Customers' emails that came while the survey was handed on: each opens a follow-up
        case, as it would once this workflow has ended (the intake does it then)."""
        while True:
            await workflow.wait_condition(
                lambda: bool(self._late_mail) or workflow.all_handlers_finished()
            )
            if not self._late_mail:
                return
            await self._open_follow_up(self._late_mail.pop(0))

    async def _open_follow_up(self, request: FollowUpRequest) -> FollowUpResult:
        result: FollowUpResult = await workflow.execute_activity(
            ActivityName.OPEN_FOLLOW_UP,
            request,
            result_type=FollowUpResult,
            start_to_close_timeout=FOLLOW_UP_TIMEOUT,
            retry_policy=DATABASE_RETRY,
            summary="open a follow-up case",
        )
        return result

    def _refuse_once_ended(self) -> None:
        if self._survey_elsewhere:
            raise ApplicationError(
                "the case is closed and takes no more actions", type="case_closed",
                non_retryable=True,
            )  # fmt: skip

    # -- creation and commits -----------------------------------------------------------------

    async def _create(self, number: str, new: NewCase) -> None:
        context = await workflow.execute_activity(
            ActivityName.LOAD_CASE_CONTEXT,
            ContextRequest(new.customer_email, new.customer_name, new.channel, new.account),
            result_type=CaseContext,
            start_to_close_timeout=CONTEXT_TIMEOUT,
            retry_policy=DATABASE_RETRY,
            summary="look up customer, entitlement, routing and SLA policy",
        )
        self._state, effects = lifecycle.create(number, new, context, workflow.now())
        self._commit(effects, new.created_by, "create")
        if new.email is not None:
            _intake_lag(new.email)
        for signal in self._early:  # in the order they came
            signal()
        self._early.clear()

    def _publish(self) -> None:
        """Keep search attributes and the UI's current details in step with the state."""
        super()._publish()
        if not self._visible:
            current = workflow.info().typed_search_attributes
            self._visible = {key.name: current.get(key) for key in search.ALL_KEYS}
        values = views.visibility(self.state)
        if not workflow.unsafe.is_replaying():  # a metric, not a command: replay skips it
            size = len(workflow.payload_converter().to_payloads([self.state])[0].data)
            workflow.metric_meter().create_histogram(
                STATE_BYTES_METRIC, "the size of a case's workflow state after a change", "By"
            ).record(size)
        changed = {k: v for k, v in values.items() if self._visible.get(k, _UNSET) != v}
        if changed:
            workflow.upsert_search_attributes(search.updates(changed))
            self._visible.update(changed)

    def _drained(self, emails_too: bool = True) -> bool:
        state = self.state
        emails = bool(state.pending_emails) and emails_too
        return not (
            state.pending_records or emails or state.pending_follow_ups
            or state.pending_child_notices
        )  # fmt: skip

    # -- drainers: carry effects out, in order ------------------------------------------------

    async def _drain_records(self) -> None:
        state = self.state
        while True:
            await workflow.wait_condition(
                lambda: bool(
                    state.pending_records or state.pending_follow_ups or state.pending_child_notices
                )  # fmt: skip
            )
            if state.pending_records:
                await self._record(state.pending_records[0])
            elif state.pending_follow_ups:
                request = state.pending_follow_ups[0]
                result = await self._open_follow_up(request)
                state.pending_follow_ups.pop(0)
                effects = lifecycle.follow_up_opened(state, request, result.number, workflow.now())
                self._commit(effects, "system", "follow_up")
            else:
                await self._notify_children(state.pending_child_notices[0])
                state.pending_child_notices.pop(0)

    async def _notify_children(self, notice: ParentNotice) -> None:
        result = await workflow.execute_activity(
            ActivityName.NOTIFY_CHILDREN,
            notice,
            result_type=ChildrenNotified,
            start_to_close_timeout=RELATED_TIMEOUT,
            retry_policy=DATABASE_RETRY,
            summary="tell the child cases",
        )
        effects = lifecycle.children_notified(self.state, notice, result, workflow.now())
        self._commit(effects, "system", "children_notified")

    # -- facts: signals -----------------------------------------------------------------------

    def _before_creation(self, signal: Callable[[], None], always: bool = False) -> bool:
        """Whether the case is still being created: then the signal is kept, to be applied
        once it is, in the order signals came. Emails were `always` kept; other signals were
        dropped before KEEP_EARLY_SIGNALS, and still are when a recorded history replays."""
        if self._state is not None:
            return False
        if always or workflow.patched(KEEP_EARLY_SIGNALS):
            self._early.append(signal)
        return True

    @workflow.signal
    def email_received(self, email: InboundEmail) -> None:
        if self._before_creation(lambda: self.email_received(email), always=True):
            return
        if self._survey_elsewhere:
            late = lifecycle.follow_up_for(self.state, email)
            if late is not None and late not in self._late_mail:
                self._late_mail.append(late)
            return
        self._fire_timers()
        _intake_lag(email)
        effects = lifecycle.receive_email(self.state, email, workflow.now())
        if effects is not None:
            self._commit(effects, "customer", "email")

    @workflow.signal
    def calendar_changed(self, change: CalendarChange) -> None:
        if self._before_creation(lambda: self.calendar_changed(change)) or self._survey_elsewhere:
            return
        self._fire_timers()
        effects = lifecycle.calendar_changed(self.state, change, workflow.now())
        if effects is not None:
            self._commit(effects, change.changed_by, "calendar_changed")

    @workflow.signal
    def policy_migrated(self, migration: PolicyMigration) -> None:
        if self._before_creation(lambda: self.policy_migrated(migration)) or self._survey_elsewhere:
            return
        self._fire_timers()
        effects = lifecycle.migrate_policy(self.state, migration, workflow.now())
        if effects is not None:
            self._commit(effects, migration.migrated_by, "policy_migrated")

    @workflow.signal
    def parent_changed(self, notice: ParentNotice) -> None:
        if self._before_creation(lambda: self.parent_changed(notice)) or self._survey_elsewhere:
            return
        self._fire_timers()
        effects = lifecycle.parent_changed(self.state, notice, workflow.now())
        if effects is not None:
            self._commit(effects, "system", "parent_changed")

    # -- agent actions: updates whose validators refuse what the state does not allow ----------

    async def _act(self, name: str, request: Any) -> CaseView:
        await workflow.wait_condition(lambda: self._state is not None)
        if self._acted_before() is not None:
            return views.view(self.state)
        # Again here: updates admitted in one task all passed their validators before any ran.
        refusing(lambda: lifecycle.check_seen(self.state, request.actor))
        self._fire_timers()
        effects = refusing(lambda: lifecycle.perform(self.state, name, request, workflow.now()))
        self._remember()
        return await self._committed(effects, request.actor.handle, name)

    def _validate(self, name: str, request: Any) -> None:
        if self._acted_before() is not None:
            return  # a retry of what this case did: answered as done, whatever the case is now
        self._refuse_once_ended()
        self._refuse_while_relating()
        if self._state is not None:
            committed = self._state
            refusing(lambda: lifecycle.check_seen(committed, request.actor))
            state = self._as_it_is_now()
            refusing(lambda: lifecycle.validate(state, name, request))

    def _acted_before(self) -> ActedOn | None:
        """This update's first outcome when it retries an agent action the case carried out in
        an earlier run: Temporal answers a repeated update id itself only within one run."""
        info = workflow.current_update_info()
        if info is None or self._state is None:
            return None
        return lifecycle.acted_before(self._state, info.id)

    def _remember(self, activity_id: int | None = None) -> None:
        """Remember this update's id with the action it commits, across continue-as-new."""
        info = workflow.current_update_info()
        if info is not None:
            lifecycle.remember_action(self.state, info.id, activity_id)

    # -- activities ---------------------------------------------------------------------------

    @workflow.update
    async def add_activity(self, request: ActivityRequest) -> ActivityAdded:
        await workflow.wait_condition(lambda: self._state is not None)
        if (done := self._acted_before()) is not None:
            return ActivityAdded(activity_id=done.activity_id or 0, case=views.view(self.state))
        refusing(lambda: lifecycle.check_seen(self.state, request.actor))
        self._fire_timers()
        effects = refusing(
            lambda: lifecycle.perform(self.state, "add_activity", request, workflow.now())
        )
        activity_id = self.state.activities[-1].id
        self._remember(activity_id)
        view = await self._committed(effects, request.actor.handle, "add_activity")
        return ActivityAdded(activity_id=activity_id, case=view)

    @add_activity.validator
    def _validate_add_activity(self, request: ActivityRequest) -> None:
        self._validate("add_activity", request)

    @workflow.update
    async def complete_activity(self, request: ActivityDecision) -> CaseView:
        return await self._act("complete_activity", request)

    @complete_activity.validator
    def _validate_complete_activity(self, request: ActivityDecision) -> None:
        self._validate("complete_activity", request)

    @workflow.update
    async def cancel_activity(self, request: ActivityDecision) -> CaseView:
        return await self._act("cancel_activity", request)

    @cancel_activity.validator
    def _validate_cancel_activity(self, request: ActivityDecision) -> None:
        self._validate("cancel_activity", request)

    # -- related cases: the agent's side, then the other case's ------------------------------

    @workflow.update
    async def link_parent(self, request: ParentRequest) -> CaseView:
        """Become a child of `request.parent`, once the parent has accepted the child."""

        def child(state: CaseState) -> ChildRequest:
            return ChildRequest(request.actor, request.parent, state.number, state.customer.email)

        return await self._relate(
            "link_parent", request, ActivityName.ADOPT_CHILD, child,
            f"link to parent {request.parent}",
        )  # fmt: skip

    @link_parent.validator
    def _validate_link_parent(self, request: ParentRequest) -> None:
        self._validate("link_parent", request)

    @workflow.update
    async def merge(self, request: MergeRequest) -> CaseView:
        """End as a duplicate of `request.into`, once the survivor has taken this case in."""

        def transfer(state: CaseState) -> MergeTransfer:
            return MergeTransfer(
                actor=request.actor,
                survivor=request.into,
                duplicate=state.number,
                subject=state.subject,
                participants=list(state.participants),
            )

        return await self._relate(
            "merge", request, ActivityName.MERGE_CASE, transfer, f"merge into {request.into}"
        )

    @merge.validator
    def _validate_merge(self, request: MergeRequest) -> None:
        self._validate("merge", request)

    @workflow.update
    async def add_child(self, request: ChildRequest) -> CaseView:
        await workflow.wait_condition(lambda: self._state is not None)
        self._fire_timers()
        effects = refusing(lambda: lifecycle.adopt_child(self.state, request, workflow.now()))
        if effects is None:
            return views.view(self.state)
        return await self._committed(effects, request.actor.handle, "add_child")

    @add_child.validator
    def _validate_add_child(self, request: ChildRequest) -> None:
        self._refuse_once_ended()
        self._refuse_while_relating()
        if self._state is not None:
            state = self._as_it_is_now()
            refusing(lambda: lifecycle.check_adopt(state, request))

    @workflow.update
    async def absorb(self, transfer: MergeTransfer) -> CaseView:
        await workflow.wait_condition(lambda: self._state is not None)
        self._fire_timers()
        effects = refusing(lambda: lifecycle.absorb(self.state, transfer, workflow.now()))
        if effects is None:
            return views.view(self.state)
        return await self._committed(effects, transfer.actor.handle, "absorb")

    @absorb.validator
    def _validate_absorb(self, transfer: MergeTransfer) -> None:
        self._refuse_once_ended()
        self._refuse_while_relating()
        if self._state is not None:
            state = self._as_it_is_now()
            refusing(lambda: lifecycle.check_absorb(state, transfer))

    async def _relate(
        self,
        name: str,
        request: Any,
        activity: str,
        ask: Callable[[CaseState], Any],
        summary: str,
    ) -> CaseView:
        """Ask another case to take a link or a merge, then carry out `name` here. From the
        first line to the commit this case takes no other action (validators refuse "busy");
        timers fire and signals arrive meanwhile, so once the other case has said yes, `name`
        is committed as judged before asking (`lifecycle.carry_out_accepted`), never refused."""
        if self._acted_before() is not None:
            return views.view(self.state)
        self._refuse_while_relating()  # before any await: two at once cannot both pass
        self._relating = True
        try:
            await workflow.wait_condition(lambda: self._state is not None)
            refusing(lambda: lifecycle.check_seen(self.state, request.actor))
            self._fire_timers()
            refusing(lambda: lifecycle.validate(self.state, name, request))
            seq = self.state.seq  # the other case may read this one's recorded timeline
            await workflow.wait_condition(lambda: self.state.recorded_seq >= seq)
            try:
                await workflow.execute_activity(
                    activity,
                    ask(self.state),
                    start_to_close_timeout=RELATED_TIMEOUT,
                    retry_policy=RELATED_RETRY,
                    summary=summary,
                )
            except ActivityError as err:
                raise _refusal_of(err) from None
            self._fire_timers()
            effects = lifecycle.carry_out_accepted(self.state, name, request, workflow.now())
            self._remember()
            return await self._committed(effects, request.actor.handle, name)
        finally:
            self._relating = False

    def _refuse_while_relating(self) -> None:
        if self._relating:
            raise ApplicationError(
                "the case is linking or merging with another case; try again",
                type="busy",
                non_retryable=True,
            )

    # -- the customer's signed links ----------------------------------------------------------

    @workflow.update
    async def respond_to_resolution(self, response: ResolutionResponse) -> CaseView:
        await workflow.wait_condition(lambda: self._state is not None)
        self._fire_timers()
        effects = refusing(
            lambda: lifecycle.respond_to_resolution(self.state, response, workflow.now())
        )
        return await self._committed(effects, "customer", "respond_to_resolution")

    @respond_to_resolution.validator
    def _validate_respond_to_resolution(self, response: ResolutionResponse) -> None:
        self._refuse_once_ended()
        if self._state is not None:
            state = self._as_it_is_now()
            refusing(lambda: lifecycle.check_resolution_response(state, response))

    @workflow.update
    async def answer_survey(self, answer: SurveyAnswer) -> CaseView:
        await workflow.wait_condition(lambda: self._state is not None)
        self._fire_timers()
        effects = refusing(lambda: lifecycle.answer_survey(self.state, answer, workflow.now()))
        return await self._committed(effects, "customer", "answer_survey")

    @answer_survey.validator
    def _validate_answer_survey(self, answer: SurveyAnswer) -> None:
        self._refuse_once_ended()
        if self._state is not None:
            state = self._as_it_is_now()
            refusing(lambda: lifecycle.check_survey_answer(state, answer))

    # -- reads --------------------------------------------------------------------------------

    @workflow.update
    async def created(self) -> CaseView:
        """Answers once the new case is recorded: the API's create waits on it."""
        await workflow.wait_condition(lambda: self._state is not None)
        await workflow.wait_condition(lambda: self.state.recorded_seq >= 1)
        return views.view(self.state)

    @workflow.query
    def view(self) -> CaseView:
        return views.view(self._created_state())

    @workflow.query
    def sla_clocks(self) -> list[KpiClock]:
        """Every KPI instance with its full timeline: started, paused, resumed, warned, failed."""
        return list(self._created_state().kpis)

    def _created_state(self) -> CaseState:
        if self._state is None:
            raise ApplicationError("the case is still being created", type="not_created")
        return self._state


def _intake_lag(email: InboundEmail) -> None:
    """How long the email took from the intake to its case, as a worker metric (a metric, not
    a command: replay skips it)."""
    if workflow.unsafe.is_replaying():
        return
    arrived = email.received_at
    if arrived.tzinfo is None:  # written without a zone: the intake writes UTC
        arrived = arrived.replace(tzinfo=UTC)
    lag = max((workflow.now() - arrived).total_seconds(), 0.0)
    workflow.metric_meter().create_histogram_float(
        INTAKE_LAG_METRIC, "from an email reaching the intake to its case hearing of it", "s"
    ).record(lag)


def _refusal_of(err: ActivityError) -> ApplicationError:
    """The other case's refusal, as this update's; anything else says it did not answer."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type and cause.non_retryable:
        return ApplicationError(cause.message, type=cause.type, non_retryable=True)
    return ApplicationError(
        f"the other case did not answer: {cause or err}", type="related_unavailable",
        non_retryable=True,
    )  # fmt: skip
