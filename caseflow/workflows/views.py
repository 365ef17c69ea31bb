"""Views of a case: the read-model snapshot, the update answer, and what ops see in the UI."""

from __future__ import annotations

import copy
import hashlib
import re
from datetime import datetime, timedelta

from caseflow.workflows import sla
from caseflow.workflows.model import CaseSnapshot, CaseState, CaseView, KpiClock, KpiView

SUMMARY_LIMIT = 200


def snapshot(state: CaseState) -> CaseSnapshot:
    # Copies, not references: a record waits in the queue while later actions change the clocks.
    return CaseSnapshot(
        number=state.number,
        subject=state.subject,
        description=state.description,
        channel=state.channel,
        status=state.status,
        stage=state.stage,
        priority=state.priority,
        queue=state.queue,
        routed_by=state.routed_by,
        owner=state.owner,
        customer=state.customer,
        product=state.product,
        fields=dict(state.fields),
        entitlement_id=state.entitlement.id if state.entitlement else None,
        sla_policy=state.policy.name,
        sla_status=sla.overall_status(state.kpis),
        sla_due_at=sla.due_at(state.kpis),
        follow_up_of=state.follow_up_of,
        created_at=state.created_at,
        updated_at=state.updated_at or state.created_at,
        resolved_at=state.resolved_at,
        closed_at=state.closed_at,
        resolution=state.resolution,
        survey=copy.deepcopy(state.survey),
        kpis=copy.deepcopy(state.kpis),
        participants=list(state.participants),
        mailbox=state.mailbox,
        activities=copy.deepcopy(state.activities),
        parent=state.parent,
        merged_into=state.merged_into,
    )


def changes(state: CaseState) -> CaseSnapshot:
    """The snapshot of what changed since the last record: every field of the case row, the
    running clocks (one per KPI at most) and the clocks and activities that changed, the
    description only when it did. 200 emails leave dozens of met next-response clocks, sent
    once each instead of with every later record."""
    full = snapshot(state)
    full.kpis = [
        c for c in full.kpis
        if _changed(state, f"kpi:{c.kpi}#{c.instance}", c) or sla.is_active(c)
    ]  # fmt: skip
    full.activities = [a for a in full.activities if _changed(state, f"activity:{a.id}", a)]
    if not _changed(state, "description", full.description):
        full.description = None
    return full


def _changed(state: CaseState, key: str, value: object) -> bool:
    """Whether `value` differs from what the read model last got under `key` (and remember)."""
    digest = hashlib.blake2b(repr(value).encode(), digest_size=8).hexdigest()
    if state.recorded.get(key) == digest:
        return False
    state.recorded[key] = digest
    return True


def kpi_view(clock: KpiClock) -> KpiView:
    return KpiView(
        kpi=clock.kpi,
        status=clock.status,
        warn_at=clock.warn_at,
        fail_at=clock.fail_at,
        elapsed_seconds=int(clock.elapsed.total_seconds()),
        met_by_seconds=_seconds(clock.met_by),
        missed_by_seconds=_seconds(clock.missed_by),
    )


def view(state: CaseState) -> CaseView:
    return CaseView(
        number=state.number,
        subject=state.subject,
        status=state.status,
        stage=state.stage,
        priority=state.priority,
        queue=state.queue,
        owner=state.owner,
        channel=state.channel,
        customer_email=state.customer.email,
        product=state.product,
        sla_status=sla.overall_status(state.kpis),
        sla_due_at=sla.due_at(state.kpis),
        kpis=[kpi_view(clock) for clock in state.kpis],
        episode=state.episode,
        survey_status=state.survey.status if state.survey else None,
        follow_up_of=state.follow_up_of,
        updated_at=state.updated_at,
    )


def summary(number: str, subject: str) -> str:
    """The one line the Temporal UI lists for a case."""
    line = " ".join(f"{number}: {subject}".split())
    return line if len(line) <= SUMMARY_LIMIT else line[: SUMMARY_LIMIT - 1] + "…"


def _plain(text: str) -> str:
    """Customer text shown as itself in Markdown: no links, images or formatting of theirs."""
    return re.sub(r"([\\`*_\[\]<>!|~])", r"\\\1", text)


def details(state: CaseState) -> str:
    """Markdown the Temporal UI shows as the case's current details."""
    paragraphs = [
        f"**{_plain(summary(state.number, state.subject))}**",
        f"**{state.status}** · stage {state.stage} · priority {state.priority}",
        f"Queue **{state.queue}** · owner **{state.owner or 'unassigned'}** · "
        f"channel {state.channel}",
        f"SLA **{sla.overall_status(state.kpis)}** (policy {state.policy.name})",
        "\n".join(f"- {clock.kpi}: {clock.status}{_due_text(clock)}" for clock in state.kpis),
    ]
    if state.survey is not None:
        paragraphs.append(f"Survey: {state.survey.status}")
    if state.follow_up_of:
        paragraphs.append(f"Follow-up of {state.follow_up_of}")
    if state.parent:
        paragraphs.append(f"Child of {state.parent}")
    if state.children:
        paragraphs.append(f"Parent of {', '.join(state.children)}")
    if state.merged_into:
        paragraphs.append(f"Merged into {state.merged_into}")
    return "\n\n".join(p for p in paragraphs if p)


def visibility(state: CaseState) -> dict[str, str | int | datetime | None]:
    """Values of the search attributes; no personal data goes here."""
    return {
        "CaseState": str(state.status),
        "CaseStage": str(state.stage),
        "CaseQueue": state.queue,
        "CaseOwner": state.owner,
        "CaseChannel": str(state.channel),
        "CaseProduct": state.product,
        "SlaStatus": sla.overall_status(state.kpis),
        "CasePriority": state.priority,
        "SlaDueAt": sla.due_at(state.kpis),
    }


def _due_text(clock: KpiClock) -> str:
    if clock.fail_at is not None:
        return f", due {clock.fail_at.isoformat(timespec='seconds')}"
    if clock.met_by is not None:
        return f", met with {int(clock.met_by.total_seconds())} s to spare"
    if clock.missed_by is not None:
        return f", missed by {int(clock.missed_by.total_seconds())} s"
    return ""


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())
