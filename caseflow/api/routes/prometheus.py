"""`GET /metrics/prometheus`: what operators graph and alert on, in Prometheus' text format.

Read from the database at each scrape, so every API process answers the same figures whatever
the number of intake and worker processes: emails waiting to be sent and failed, mail in
quarantine and set aside as noise, mail taken in but not yet on a case, and the open cases by
state; with this API process's own (CPU, memory, open files). What happens inside the
workers (Temporal's task latencies, each case's state size, intake lag from an email reaching
the intake to its case, SLA emails' lateness from due to sent) each worker serves itself at
CASEFLOW_WORKER_METRICS_ADDRESS. For supervisors and admins (a Prometheus job sends one's API
token as its bearer credentials).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from caseflow.api.deps import SessionsDep, read
from caseflow.api.routes.quarantine import SupervisorDep
from caseflow.store import cases, messages

router = APIRouter(prefix="/metrics", tags=["metrics"])


class Figures(Collector):
    """The figures of one scrape, as metric families."""

    def __init__(self, mail: messages.MailCounts, open_cases: dict[str, int]) -> None:
        self.mail, self.open_cases = mail, open_cases

    def collect(self) -> Iterator[Metric]:
        mail = self.mail
        yield _gauge("caseflow_emails_waiting", "outgoing emails not yet sent", mail.emails_waiting)
        yield _gauge("caseflow_emails_failed", "outgoing emails given up on", mail.emails_failed)
        yield _gauge("caseflow_quarantine_size", "inbound mail in quarantine", mail.quarantined)
        yield _gauge("caseflow_noise_size", "automatic mail set aside, no case", mail.noise)
        waiting = "inbound mail taken in, not yet on a case"
        yield _gauge("caseflow_intake_waiting", waiting, mail.intake_waiting)
        by_state = GaugeMetricFamily(
            "caseflow_open_cases", "cases not yet closed, by state", labels=["state"]
        )
        for state, count in sorted(self.open_cases.items()):
            by_state.add_metric([state], count)
        yield by_state


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _figures(session: Session) -> Figures:
    return Figures(messages.mail_counts(session), cases.open_by_status(session))


def exposition(collectors: Iterable[Collector]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


@router.get("/prometheus", response_class=Response)
async def prometheus(_: SupervisorDep, sessions: SessionsDep) -> Response:
    """The operators' metrics in Prometheus' text exposition format."""
    figures = await read(sessions, _figures)
    body = exposition([figures, ProcessCollector(registry=None)])
    return Response(body, media_type=CONTENT_TYPE_LATEST)
