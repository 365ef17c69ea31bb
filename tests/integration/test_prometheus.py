"""Operators' metrics in Prometheus' text format: `GET /metrics/prometheus` of the API, read
from the database at each scrape (SQLite and PostgreSQL), for supervisors and admins; and what
a worker serves of its own (intake lag, SLA emails' lateness), scraped from its endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import temporalio.activity
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from caseflow.activities import email as email_activity
from caseflow.settings import DEVELOPMENT_SECRET, Settings
from caseflow.signing import token_hash
from caseflow.store import directory
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import InboundMessage, OutboundEmail
from caseflow.workflows.case import INTAKE_LAG_METRIC
from caseflow.workflows.model import EmailRequest, Recipients
from tests.support.api import bearer
from tests.support.harness import metered_client, running_worker
from tests.support.read_model import add_case
from tests.support.servers import SmtpSink

SAM, ANN = bearer("sam"), bearer("ann")


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    factory = session_factory(engine)
    with transaction(factory) as session:
        for handle, role in (("sam", "supervisor"), ("ann", "agent")):
            directory.create_agent(session, handle, f"{handle}@x.test", role, ["standard"],
                                   token_hash(DEVELOPMENT_SECRET, handle))  # fmt: skip
        for n, status in enumerate(["new", "new", "open", "resolved", "closed"], start=1):
            add_case(session, f"CAS-{n:06d}", status=status)
        for n, status in enumerate(["quarantined", "quarantined", "noise", "received"]):
            session.add(InboundMessage(dedup_key=f"k{n}", mailbox="support@caseflow.test",
                                       raw_sha256="0" * 64, status=status))  # fmt: skip
        for n, status in enumerate(["pending", "sending", "sent", "failed"]):
            row = {"key": f"e{n}", "message_id": f"<{n}@x>", "status": status}
            session.add(OutboundEmail(**row, case_number="CAS-000001", template="ack", subject="s"))
    yield factory
    engine.dispose()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_the_api_serves_what_waits_and_the_open_cases_in_prometheus_format(
    http: httpx.AsyncClient,
) -> None:
    answer = await http.get("/metrics/prometheus", headers=SAM)

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    samples = _samples(answer.text)
    assert samples[("caseflow_emails_waiting", ())] == 2
    assert samples[("caseflow_emails_failed", ())] == 1
    assert samples[("caseflow_quarantine_size", ())] == 2
    assert samples[("caseflow_noise_size", ())] == 1
    assert samples[("caseflow_intake_waiting", ())] == 1
    assert samples[("caseflow_open_cases", (("state", "new"),))] == 2
    assert samples[("caseflow_open_cases", (("state", "open"),))] == 1
    assert samples[("caseflow_open_cases", (("state", "resolved"),))] == 1
    assert samples[("caseflow_open_cases", (("state", "on_hold"),))] == 0
    assert not any(name == "caseflow_open_cases" and ("state", "closed") in labels
                   for name, labels in samples)  # fmt: skip
    assert samples[("process_resident_memory_bytes", ())] > 0


@pytest.mark.parametrize(("headers", "status"), [({}, 401), (ANN, 403)])
async def test_the_metrics_are_for_supervisors_and_admins(
    http: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    answer = await http.get("/metrics/prometheus", headers=headers)
    assert answer.status_code == status
    assert "caseflow_" not in answer.text


async def test_a_worker_serves_the_intake_lag_with_temporals_own_metrics(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    client, metered, port = await metered_client(dev_env, settings)
    async with running_worker(client, metered, smtp_sink) as harness:
        handle = await harness.open_case(customer=f"lag-{uuid.uuid4().hex[:6]}@example.org")
        await harness.settled(handle.id)
        async with httpx.AsyncClient() as scrape:
            text = (await scrape.get(f"http://127.0.0.1:{port}/metrics")).text
    samples = _samples(text)
    counts = [v for (name, _), v in samples.items() if name == f"{INTAKE_LAG_METRIC}_count"]
    assert counts and sum(counts) >= 1
    assert any(name.startswith("temporal_") for name, _ in samples)


class _Recorded:
    """A metric meter that keeps what is recorded (the SDK's is Rust's, behind the runtime)."""

    def __init__(self) -> None:
        self.values: list[tuple[str, dict[str, Any], float]] = []
        self._name = ""
        self._attributes: dict[str, Any] = {}

    def create_histogram_float(self, name: str, *_: str) -> _Recorded:
        self._name = name
        return self

    def with_additional_attributes(self, attributes: dict[str, Any]) -> _Recorded:
        self._attributes = attributes
        return self

    def record(self, value: float) -> None:
        self.values.append((self._name, self._attributes, value))


def test_an_sla_emails_lateness_is_from_its_due_instant_to_its_sending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    meter = _Recorded()
    monkeypatch.setattr(temporalio.activity, "metric_meter", lambda: meter)
    monkeypatch.setattr(temporalio.activity, "in_activity", lambda: True)
    due = datetime.now(UTC) - timedelta(seconds=42)

    def request(template: str, **context: str) -> EmailRequest:
        to = Recipients(queues=["standard"])
        return EmailRequest(key=f"k-{template}", case_number="CAS-000001", template=template,
                            to=to, subject="s", context=context)  # fmt: skip

    email_activity._record_lateness(request("sla_warning", due_at=due.isoformat()))
    email_activity._record_lateness(request("ack", due_at=due.isoformat()))  # not an SLA email
    email_activity._record_lateness(request("sla_failure", due_at="not a date"))

    [(name, attributes, late)] = meter.values
    assert name == email_activity.SLA_LATENESS_METRIC
    assert attributes == {"template": "sla_warning"}
    assert 42 <= late < 42 + 60
