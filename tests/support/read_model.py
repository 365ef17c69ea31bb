"""A hand-built read model for the metrics tests: eight cases around March 2026, written as the
workflow writes them (case row, audit of status changes, timeline events, SLA instances).

The expected figures in the tests are computed by hand from the stories below:

- C1, created 02-27 10:00 (standard, ann, Billing, email): first response late (failed 02-27,
  given 03-01); resolved 03-02; closed; survey 5 on 03-05.
- C2, 03-10 09:00 (gold, ann, no product, phone): answered in 30 min; next responses: one late,
  two met; resolved 13:00; closed 04-05; survey 1 on 04-06.
- C3, 03-05 08:00 (standard, bob, Billing, email): first response late; resolved 03-06, reopened
  03-07, resolved 03-08 (resolution clock late); closed; survey 2 on 03-20.
- C4, 03-12 10:00 (gold, ann, Caseflow Cloud, web): answered in 10 min; resolved 03-13, reopened
  03-14, still open; its resolution clock failed 03-12 18:00.
- C5, 03-25 10:00 (standard, unassigned, Billing, email): never answered (failed 03-25 14:00);
  cancelled 04-02.
- C6, 03-15 09:00 (standard, bob, Caseflow Cloud, email): never answered (failed 03-15 13:00);
  cancelled 03-16.
- C7, 04-03 09:00 (standard, unassigned, no product, email): new.
- C8, 02-01 09:00 (gold, bob, no product, email): resolved 02-10, closed; survey 4 on 03-01 00:00.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from caseflow.store.models import AuditEntry, Case, CaseEvent, SlaInstance


def survey(when: str, rating: int) -> tuple[str, str, dict[str, str]]:
    return ("survey_answered", when, {"rating": str(rating)})


def at(text: str) -> datetime:
    """`03-10 09:00` in 2026, UTC."""
    return datetime.fromisoformat(f"2026-{text}").replace(tzinfo=UTC)


@dataclass
class Clock:
    kpi: str
    status: str
    started: str
    stopped: str | None = None
    failed: str | None = None
    elapsed: int = 0
    instance: int = 1
    # How it stopped, as the workflow records it: "succeeded" (a response) or "cancelled".
    stopped_by: str = "succeeded"

    def row(self) -> dict[str, Any]:
        history = [{"at": self.started, "event": "started"}]
        if self.failed:
            history.append({"at": self.failed, "event": "failed"})
        if self.stopped:
            history.append({"at": self.stopped, "event": self.stopped_by})
        return {
            "kpi": self.kpi,
            "instance": self.instance,
            "status": self.status,
            "started_at": at(self.started),
            "stopped_at": at(self.stopped) if self.stopped else None,
            "failed_at": at(self.failed) if self.failed else None,
            "elapsed_seconds": self.elapsed,
            "warn_after_seconds": 3600,
            "fail_after_seconds": 7200,
            "history": history,
        }


@dataclass
class Story:
    number: str
    created: str
    queue: str
    owner: str | None
    product: str | None
    channel: str
    statuses: list[tuple[str, str]]  # (at, status), in order; the last is the current one
    resolved: str | None = None
    closed: str | None = None
    events: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    clocks: list[Clock] = field(default_factory=list)
    other_changes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def last_change(self) -> datetime:
        times = [t for t, _ in self.statuses] + [t for _, t, _ in self.events]
        return max(at(t) for t in times + [t for t, _ in self.other_changes])


STORIES = [
    Story(
        "CAS-000001", "02-27 10:00", "standard", "ann", "Billing", "email",
        [("02-27 10:00", "new"), ("02-27 11:00", "open"), ("03-02 10:00", "resolved"),
         ("03-03 10:00", "closed")],
        resolved="03-02 10:00", closed="03-03 10:00",
        events=[("resolved", "03-02 10:00", {}), survey("03-05 12:00", 5)],
        clocks=[
            Clock("first_response", "noncompliant", "02-27 10:00", "03-01 10:00", "02-27 14:00",
                  28800),
            Clock("resolution", "succeeded", "02-27 10:00", "03-02 10:00", elapsed=36000),
        ],
    ),
    Story(
        "CAS-000002", "03-10 09:00", "gold", "ann", None, "phone",
        [("03-10 09:00", "new"), ("03-10 09:05", "open"), ("03-10 13:00", "resolved"),
         ("04-05 09:00", "closed")],
        resolved="03-10 13:00", closed="04-05 09:00",
        events=[("resolved", "03-10 13:00", {}), survey("04-06 10:00", 1)],
        clocks=[
            Clock("first_response", "succeeded", "03-10 09:00", "03-10 09:30", elapsed=1800),
            Clock("next_response", "noncompliant", "03-10 11:00", "03-10 12:30", "03-10 12:00",
                  5400),
            Clock("next_response", "succeeded", "03-10 12:35", "03-10 12:45", elapsed=600,
                  instance=2),
            Clock("next_response", "succeeded", "03-10 12:46", "03-10 12:50", elapsed=240,
                  instance=3),
            Clock("resolution", "succeeded", "03-10 09:00", "03-10 13:00", elapsed=14400),
        ],
    ),
    Story(
        "CAS-000003", "03-05 08:00", "standard", "bob", "Billing", "email",
        [("03-05 08:00", "new"), ("03-05 09:00", "open"), ("03-06 08:00", "resolved"),
         ("03-07 08:00", "open"), ("03-08 08:00", "resolved"), ("03-09 08:00", "closed")],
        resolved="03-08 08:00", closed="03-09 08:00",
        events=[("resolved", "03-06 08:00", {}), ("reopened", "03-07 08:00", {}),
                ("resolved", "03-08 08:00", {}), survey("03-20 10:00", 2)],
        clocks=[
            Clock("first_response", "noncompliant", "03-05 08:00", "03-05 14:00", "03-05 12:00",
                  21600),
            Clock("resolution", "noncompliant", "03-05 08:00", "03-08 08:00", "03-06 20:00",
                  90000),
        ],
    ),
    Story(
        "CAS-000004", "03-12 10:00", "gold", "ann", "Caseflow Cloud", "web",
        [("03-12 10:00", "new"), ("03-12 10:05", "open"), ("03-13 10:00", "resolved"),
         ("03-14 10:00", "open")],
        events=[("resolved", "03-13 10:00", {}), ("reopened", "03-14 10:00", {})],
        clocks=[
            Clock("first_response", "succeeded", "03-12 10:00", "03-12 10:10", elapsed=600),
            Clock("next_response", "succeeded", "03-14 11:00", "03-14 11:30", elapsed=1800),
            Clock("resolution", "noncompliant", "03-12 10:00", None, "03-12 18:00", 30000),
        ],
    ),
    Story(
        "CAS-000005", "03-25 10:00", "standard", None, "Billing", "email",
        [("03-25 10:00", "new"), ("04-02 10:00", "cancelled")],
        closed="04-02 10:00",
        other_changes=[("03-26 10:00", {"priority": {"from": 3, "to": 2}})],
        clocks=[
            Clock("first_response", "noncompliant", "03-25 10:00", "04-02 10:00", "03-25 14:00",
                  50000, stopped_by="cancelled"),
            Clock("resolution", "cancelled", "03-25 10:00", "04-02 10:00", elapsed=50000,
                  stopped_by="cancelled"),
        ],
    ),
    Story(
        "CAS-000006", "03-15 09:00", "standard", "bob", "Caseflow Cloud", "email",
        [("03-15 09:00", "new"), ("03-15 10:00", "open"), ("03-16 09:00", "cancelled")],
        closed="03-16 09:00",
        clocks=[
            Clock("first_response", "noncompliant", "03-15 09:00", "03-16 09:00", "03-15 13:00",
                  30000, stopped_by="cancelled"),
            Clock("resolution", "cancelled", "03-15 09:00", "03-16 09:00", elapsed=30000,
                  stopped_by="cancelled"),
        ],
    ),
    Story(
        "CAS-000007", "04-03 09:00", "standard", None, None, "email", [("04-03 09:00", "new")],
        clocks=[Clock("first_response", "in_progress", "04-03 09:00")],
    ),
    Story(
        "CAS-000008", "02-01 09:00", "gold", "bob", None, "email",
        [("02-01 09:00", "new"), ("02-01 10:00", "open"), ("02-10 09:00", "resolved"),
         ("02-11 09:00", "closed")],
        resolved="02-10 09:00", closed="02-11 09:00",
        events=[("resolved", "02-10 09:00", {}), survey("03-01 00:00", 4)],
        clocks=[
            Clock("first_response", "succeeded", "02-01 09:00", "02-01 09:10", elapsed=600),
            Clock("resolution", "succeeded", "02-01 09:00", "02-10 09:00", elapsed=50000),
        ],
    ),
]  # fmt: skip


def write_story(session: Session, story: Story) -> None:
    status = story.statuses[-1][1]
    session.add(
        Case(
            number=story.number,
            subject=f"Story {story.number}",
            channel=story.channel,
            status=status,
            stage="identify",
            priority=3,
            queue=story.queue,
            owner=story.owner,
            customer_email="carol@globex.example",
            product=story.product,
            created_at=at(story.created),
            updated_at=story.last_change(),
            resolved_at=at(story.resolved) if story.resolved else None,
            closed_at=at(story.closed) if story.closed else None,
            last_seq=len(story.statuses) + len(story.other_changes),
        )
    )
    changes = [(t, {"status": {"from": None, "to": s}}) for t, s in story.statuses]
    ordered = sorted(changes + story.other_changes, key=lambda c: at(c[0]))
    for seq, (when, change) in enumerate(ordered, start=1):
        session.add(
            AuditEntry(
                case_number=story.number, seq=seq, actor="test", action="x", at=at(when),
                changes=change,
            )
        )  # fmt: skip
    for seq, (kind, when, data) in enumerate(story.events, start=100):
        session.add(
            CaseEvent(
                case_number=story.number, seq=seq, position=0, kind=kind, at=at(when),
                actor="test", summary=kind, data=data,
            )
        )  # fmt: skip
    for clock in story.clocks:
        session.add(SlaInstance(case_number=story.number, **clock.row()))


def write_march(session: Session) -> None:
    for story in STORIES:
        write_story(session, story)
    session.flush()


def add_case(session: Session, number: str, **values: Any) -> Case:
    """A case row as the workflow would have written it: new, in `standard`, nobody's."""
    row: dict[str, Any] = {
        "subject": "Printer on fire", "channel": "email", "status": "new", "stage": "identify",
        "priority": 3, "queue": "standard", "customer_email": "alice@acme.example",
        "created_at": at("03-02 09:00"), "updated_at": at("03-02 09:00"), **values,
    }  # fmt: skip
    case = Case(number=number, **row)
    session.add(case)
    return case
