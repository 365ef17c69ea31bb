"""Timers: SLA warnings and failures, auto-close, the survey's send, reminder and expiry."""

from __future__ import annotations

from datetime import datetime

from caseflow.workflows import sla
from caseflow.workflows.lifecycle.base import Effects, lateness
from caseflow.workflows.lifecycle.outbound import email_customer, to_agents
from caseflow.workflows.lifecycle.policy import sla_escalation
from caseflow.workflows.lifecycle.transitions import close_case
from caseflow.workflows.model import (
    NOTIFY_OWNER,
    NOTIFY_QUEUE,
    NOTIFY_SUPERVISORS,
    CaseState,
    CaseStatus,
    EmailRequest,
    KpiClock,
    Recipients,
    SlaActions,
    Survey,
    SurveyStatus,
)


def next_wakeup(state: CaseState) -> datetime | None:
    """The earliest instant at which a timer of this case falls due; None when nothing waits."""
    instants = [due for clock in state.kpis if (due := sla.next_due(clock)) is not None]
    if state.status is CaseStatus.RESOLVED and state.resolved_at is not None:
        instants.append(state.resolved_at + state.timings.auto_close_after)
    if (survey_due := _survey_due(state)) is not None:
        instants.append(survey_due)
    return min(instants) if instants else None


def fire_timers(state: CaseState, now: datetime) -> list[tuple[str, Effects]]:
    """Carry out every timer that has fallen due, each as its own recorded transition."""
    fired: list[tuple[str, Effects]] = []
    for clock in state.kpis:
        effects = _fire_clock(state, clock, now)
        if effects is not None:
            fired.append(("sla", effects))
    if (effects := _fire_auto_close(state, now)) is not None:
        fired.append(("auto_close", effects))
    if (effects := _fire_survey(state, now)) is not None:
        fired.append(("survey", effects))
    return fired


def _fire_clock(state: CaseState, clock: KpiClock, now: datetime) -> Effects | None:
    due = {sla.WARNING: clock.warn_at, sla.FAILURE: clock.fail_at}
    fired = sla.fire_due(clock, state.policy.calendar, now)
    if not fired:
        return None
    effects = Effects()
    for what in fired:
        due_at = due[what]
        assert due_at is not None
        late = lateness(state, due_at, now)
        effects.event(
            f"sla_{what}",
            now,
            "system",
            f"SLA {what}: {clock.kpi} (instance {clock.instance})"
            + (f", late by {late}" if late else ""),
            kpi=str(clock.kpi),
            due_at=due_at.isoformat(),
            late_by=late,
        )
        effects.emails.append(_sla_email(state, clock, what, due_at, late))
        actions = state.policy.on_warning if what == sla.WARNING else state.policy.on_failure
        sla_escalation(state, clock, what, actions, now, effects)
    return effects


def _sla_recipients(state: CaseState, actions: SlaActions) -> Recipients:
    """Whom a warning or failure emails: the owner (the queue while there is none), the
    queue's members, the supervisors, as the policy says."""
    to = Recipients(supervisors=NOTIFY_SUPERVISORS in actions.notify)
    if NOTIFY_OWNER in actions.notify:
        if state.owner:
            to.agents.append(state.owner)
        else:
            to.queues.append(state.queue)
    if NOTIFY_QUEUE in actions.notify and state.queue not in to.queues:
        to.queues.append(state.queue)
    return to


def _sla_email(
    state: CaseState, clock: KpiClock, what: str, due_at: datetime, late: str
) -> EmailRequest:
    actions = state.policy.on_warning if what == sla.WARNING else state.policy.on_failure
    to = _sla_recipients(state, actions)
    fail_at = clock.fail_at or due_at
    return to_agents(
        state,
        key=f"{state.number}:sla-{what}:{clock.kpi}:{clock.instance}",
        template=f"sla_{what}",
        to=to,
        subject=f"SLA {what}: {clock.kpi.replace('_', ' ')} on {state.subject}",
        context={
            "kpi": str(clock.kpi),
            "due_at": due_at.isoformat(timespec="seconds"),
            "fail_at": fail_at.isoformat(timespec="seconds"),
            "late_by": late,
            "owner": state.owner or "",
        },
    )


def _fire_auto_close(state: CaseState, now: datetime) -> Effects | None:
    if state.status is not CaseStatus.RESOLVED or state.resolved_at is None:
        return None
    due = state.resolved_at + state.timings.auto_close_after
    if due > now + sla.DUE_TOLERANCE:
        return None
    effects = Effects()
    late = lateness(state, due, now)
    effects.event(
        "auto_closed",
        now,
        "system",
        "Closed automatically: no answer to the resolution",
        late_by=late,
    )
    close_case(state, now, effects, "system", "auto-closed")
    return effects


def survey_to_hand_off(state: CaseState) -> bool:
    """The case is closed with its survey still to send: from here the survey runs on its own
    (SurveyWorkflow), and the case's own workflow ends, so a running case is an open one."""
    survey = state.survey
    return (
        state.status is CaseStatus.CLOSED
        and survey is not None
        and survey.status is SurveyStatus.SCHEDULED
        and not state.finished
    )


def _survey_due(state: CaseState) -> datetime | None:
    survey = state.survey
    if survey is None:
        return None
    timings = state.timings
    if survey.status is SurveyStatus.SCHEDULED:
        return survey.send_at
    if survey.status in (SurveyStatus.SENT, SurveyStatus.REMINDED):
        assert survey.sent_at is not None and survey.expires_at is not None
        remind_at = survey.sent_at + timings.survey_reminder_after
        if survey.status is SurveyStatus.SENT and remind_at < survey.expires_at:
            return remind_at
        return survey.expires_at
    return None


def _fire_survey(state: CaseState, now: datetime) -> Effects | None:
    survey = state.survey
    due = _survey_due(state)
    if survey is None or due is None or due > now + sla.DUE_TOLERANCE:
        return None
    effects = Effects()
    late = lateness(state, due, now)
    if survey.status is SurveyStatus.SCHEDULED:
        survey.status = SurveyStatus.SENT
        survey.sent_at = now
        survey.expires_at = now + state.timings.survey_expires_after
        effects.event("survey_sent", now, "system", "Satisfaction survey sent", late_by=late)
        _survey_email(state, survey, effects, now, "survey", "How did we do?")
    elif survey.status is SurveyStatus.SENT and due != survey.expires_at:
        survey.status = SurveyStatus.REMINDED
        survey.reminded_at = now
        effects.event("survey_reminded", now, "system", "Survey reminder sent", late_by=late)
        _survey_email(state, survey, effects, now, "survey_reminder", "A minute for our survey?")
    else:
        survey.status = SurveyStatus.EXPIRED
        state.finished = True
        effects.event("survey_expired", now, "system", "Survey expired unanswered", late_by=late)
    return effects


def _survey_email(
    state: CaseState, survey: Survey, effects: Effects, now: datetime, template: str, subject: str
) -> None:
    email_customer(
        state,
        effects,
        now,
        template.replace("_", " "),
        key=f"{state.number}:{template.replace('_', '-')}:{survey.episode}",
        template=template,
        subject=subject,
        context={},
        link_purposes=["survey"],
        episode=survey.episode,
    )
