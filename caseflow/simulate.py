"""What-if: replay the recorded history of past cases against a draft SLA policy or calendar.

Touches nothing live. For each case created in the window, the status changes (audit trail),
public replies and customer emails (timeline) drive the workflow's own KPI table and clock rules
(`caseflow.workflows.kpis`, `sla`) twice: under the case's policy as saved now, and under the
draft. The report gives per-KPI compliance both ways and the cases whose outcome would change.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.store.models import AuditEntry, Case, CaseEvent
from caseflow.workflows import kpis, sla
from caseflow.workflows.calendar import CalendarSpec
from caseflow.workflows.model import CaseStatus, KpiClock, KpiName, KpiStatus, SlaPolicy

ENDED_UNRESOLVED = {CaseStatus.CANCELLED, CaseStatus.MERGED}


@dataclass(frozen=True)
class Happening:
    """One recorded thing that moves SLA clocks."""

    at: datetime
    kind: str  # status:<new status>, reply, customer_message
    status: str = ""


@dataclass
class Outcome:
    """A KPI instance's verdict: met (within fail-after), missed, or still open (running)."""

    kpi: KpiName
    instance: int
    verdict: str


@dataclass
class Report:
    since: datetime
    cases: int = 0
    now: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    draft: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    changed: list[tuple[str, str, str, str]] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"{self.cases} cases created since {self.since.isoformat(timespec='minutes')}"]
        lines.append(f"{'KPI':<16}{'now':>16}{'with the draft':>18}")
        for kpi in sorted(set(self.now) | set(self.draft)):
            lines.append(f"{kpi:<16}{_rate(self.now[kpi]):>16}{_rate(self.draft[kpi]):>18}")
        if self.changed:
            lines.append("cases that would change:")
            lines += [f"  {n} {kpi}: {a} → {b}" for n, kpi, a, b in self.changed]
        else:
            lines.append("no case would change")
        return "\n".join(lines)


def _rate(verdicts: list[str]) -> str:
    decided = [v for v in verdicts if v != "open"]
    if not decided:
        return "-"
    met = sum(1 for v in decided if v == "met")
    return f"{100 * met / len(decided):.1f}% of {len(decided)}"


def happenings(audit: list[AuditEntry], events: list[CaseEvent]) -> list[Happening]:
    """The recorded changes that matter to SLA clocks, in order."""
    found: list[tuple[datetime, int, Happening]] = []
    for entry in audit:
        status = (entry.changes or {}).get("status")
        if status and entry.action != "create":
            found.append((entry.at, entry.seq, Happening(entry.at, "status", status["to"])))
    for event in events:
        if event.kind == "replied":
            found.append((event.at, event.seq, Happening(event.at, "reply")))
        elif event.kind == "email_in" and _from_the_customer(event):
            found.append((event.at, event.seq, Happening(event.at, "customer_message")))
    return [h for _, _, h in sorted(found, key=lambda item: (item[0], item[1]))]


def _from_the_customer(event: CaseEvent) -> bool:
    data = event.data or {}
    return bool(
        data.get("mail_class", "human") == "human" and data.get("verified", "true") == "true"
    )


def replay(
    policy: SlaPolicy, created: datetime, history: list[Happening], now: datetime
) -> list[Outcome]:
    """The KPI outcomes of one case under `policy`, counted by the workflow's own KPI table."""
    clocks = kpis.opened(policy, created)
    status, responded = CaseStatus.NEW, False
    for h in history:
        if h.kind == "reply":
            kpis.met(clocks, policy, kpis.Happening.RESPONSE, h.at)
            responded = True
        elif h.kind == "customer_message":
            message = kpis.Happening.CUSTOMER_MESSAGE
            kpis.started(clocks, policy, message, h.at, status, responded)
        else:
            status = _move(clocks, policy, status, CaseStatus(h.status), h.at)
    return [Outcome(c.kpi, c.instance, _verdict(c, policy.calendar, now)) for c in clocks]


def _move(
    clocks: list[KpiClock], policy: SlaPolicy, old: CaseStatus, new: CaseStatus, at: datetime
) -> CaseStatus:
    if new is CaseStatus.RESOLVED:
        kpis.met(clocks, policy, kpis.Happening.RESOLVED, at)
    elif old is CaseStatus.RESOLVED and new is CaseStatus.OPEN:
        kpis.reopened(clocks, policy, kpis.Happening.REOPENED, at, "case reopened")
    elif new in ENDED_UNRESOLVED:
        kpis.ended(clocks, policy, at, f"case {new}")
    kpis.status_changed(clocks, policy, old, new, at, f"case is {new}")
    return new


def _verdict(clock: KpiClock, cal: CalendarSpec, now: datetime) -> str:
    if clock.status is KpiStatus.CANCELLED:
        return "cancelled"
    spent = clock.elapsed if not sla.is_active(clock) else sla.elapsed(clock, cal, now)
    if spent > clock.fail_after:
        return "missed"
    return "met" if not sla.is_active(clock) else "open"


def simulate(
    session: Session,
    draft: SlaPolicy,
    current: dict[str, SlaPolicy],
    since: timedelta,
    now: datetime,
    only_policy: str | None = None,
) -> Report:
    """Compare every case created in the window under its own policy and under `draft`."""
    start = now - since
    report = Report(since=start)
    query = select(Case).where(Case.created_at >= start).order_by(Case.created_at)
    if only_policy:
        query = query.where(Case.sla_policy == only_policy)
    for case in session.scalars(query):
        audit = list(
            session.scalars(select(AuditEntry).where(AuditEntry.case_number == case.number))
        )
        events = list(
            session.scalars(select(CaseEvent).where(CaseEvent.case_number == case.number))
        )
        history = happenings(audit, events)
        mine = current.get(case.sla_policy)
        if mine is None:
            continue
        report.cases += 1
        before = {
            (o.kpi, o.instance): o.verdict for o in replay(mine, case.created_at, history, now)
        }
        after = {
            (o.kpi, o.instance): o.verdict for o in replay(draft, case.created_at, history, now)
        }
        for (kpi, _), verdict in before.items():
            report.now[str(kpi)].append(verdict)
        for (kpi, _), verdict in after.items():
            report.draft[str(kpi)].append(verdict)
        for key in sorted(set(before) | set(after)):
            a, b = before.get(key, "-"), after.get(key, "-")
            if a != b:
                report.changed.append((case.number, f"{key[0]}#{key[1]}", a, b))
    return report
