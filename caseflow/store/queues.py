"""What agents pick from: the waiting cases of queues, most urgent first."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caseflow.store.cases import Scope, in_scope
from caseflow.store.models import Case

WAITING = "new"  # and no owner: nobody has picked it yet


def waiting_cases(
    session: Session, queues: list[str], limit: int, offset: int, scope: Scope | None = None
) -> tuple[list[Case], int]:
    """The new, unowned cases of these queues that the reader sees: by priority, then the SLA
    due time (cases without one last), then age."""
    if not queues:
        return [], 0
    waiting = (Case.queue.in_(queues), Case.status == WAITING, Case.owner.is_(None))
    query = select(Case).where(*waiting, in_scope(scope))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(
        Case.priority, Case.sla_due_at.is_(None), Case.sla_due_at, Case.created_at, Case.number
    )
    return list(session.scalars(page.limit(limit).offset(offset))), total
