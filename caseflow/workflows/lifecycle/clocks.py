"""What responding and customer messages do to the SLA clocks of a case (`kpis` says which
KPI each meets or starts)."""

from __future__ import annotations

from datetime import datetime

from caseflow.workflows import kpis
from caseflow.workflows.kpis import Happening
from caseflow.workflows.model import CaseState


def respond(state: CaseState, now: datetime) -> None:
    """A public response meets the next-response clock; the first one, first response too."""
    kpis.met(state.kpis, state.policy, Happening.RESPONSE, now)
    state.responded = True


def await_next_response(state: CaseState, now: datetime) -> None:
    """A customer message on a worked case starts a next-response clock, unless one runs (or
    the first response is still owed: its own clock covers it)."""
    kpis.started(
        state.kpis, state.policy, Happening.CUSTOMER_MESSAGE, now, state.status, state.responded
    )
