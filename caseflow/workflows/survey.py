"""SurveyWorkflow: the satisfaction survey of a closed case, once its CaseWorkflow has ended.

A case's own workflow ends when the case closes, so that a running CaseWorkflow is an open case
in the Temporal UI. The survey episode (the delay, the email, one reminder, the expiry, the
answer) goes on here, on the case's final state and with the same lifecycle rules, recorded into
the same read model. Its id is `<case number>-survey-<episode>`.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from caseflow.workflows import lifecycle, views
    from caseflow.workflows.model import (
        CaseResult,
        CaseState,
        CaseView,
        SurveyAnswer,
        SurveyInput,
    )
# Workflow code like this module: re-imported per run, inside the sandbox's restrictions.
from caseflow.workflows.runner import StateRunner, refusing


def survey_workflow_id(number: str, episode: int) -> str:
    return f"{number}-survey-{episode}"


@workflow.defn
class SurveyWorkflow(StateRunner):
    @workflow.init
    def __init__(self, inp: SurveyInput) -> None:
        self._state: CaseState | None = inp.state
        self._wake = False

    @workflow.run
    async def run(self, inp: SurveyInput) -> CaseResult:
        self._publish()
        lanes = [
            asyncio.create_task(self._drain_records()),
            asyncio.create_task(self._drain_emails()),
        ]
        while not self.state.finished:
            await self._sleep_until_next_timer()
            self._fire_timers()
        state = self.state
        await workflow.wait_condition(
            lambda: (
                workflow.all_handlers_finished()
                and not state.pending_records
                and not state.pending_emails
            )
        )
        for lane in lanes:
            lane.cancel()
        survey = state.survey
        return CaseResult(state.number, state.status, survey.rating if survey else None)

    async def _drain_records(self) -> None:
        state = self.state
        while True:
            await workflow.wait_condition(lambda: bool(state.pending_records))
            await self._record(state.pending_records[0])

    @workflow.update
    async def answer_survey(self, answer: SurveyAnswer) -> CaseView:
        self._fire_timers()
        effects = refusing(lambda: lifecycle.answer_survey(self.state, answer, workflow.now()))
        return await self._committed(effects, "customer", "answer_survey")

    @answer_survey.validator
    def _validate_answer_survey(self, answer: SurveyAnswer) -> None:
        state = self._as_it_is_now()
        refusing(lambda: lifecycle.check_survey_answer(state, answer))

    @workflow.query
    def view(self) -> CaseView:
        return views.view(self.state)
