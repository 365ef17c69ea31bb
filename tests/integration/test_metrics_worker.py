"""The metrics over what a real worker records: a case opened, answered, resolved, reopened,
resolved again, accepted and rated shows in /metrics/summary as the definitions say."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from caseflow.settings import Settings
from tests.support.api import api_client, bearer, link_token
from tests.support.harness import GOLD_CUSTOMER, Harness, running_worker
from tests.support.servers import SmtpSink

ANN, SAM = bearer("ann"), bearer("sam")
PROPOSED = "Proposed resolution"


@pytest.fixture
def worker_settings(database_url: str, smtp_sink: SmtpSink, tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        task_queue=f"caseflow-test-{uuid.uuid4().hex[:8]}",
        smtp_port=smtp_sink.port,
        survey_delay=timedelta(0),
        api_update_timeout=timedelta(seconds=30),
    )


@pytest.fixture
async def harness(
    dev_env: WorkflowEnvironment, worker_settings: Settings, smtp_sink: SmtpSink
) -> AsyncIterator[Harness]:
    async with running_worker(dev_env.client, worker_settings, smtp_sink) as h:
        yield h


@pytest.fixture
async def http(
    harness: Harness, dev_env: WorkflowEnvironment, worker_settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(worker_settings, dev_env.client) as client:
        yield client


# The stage fields a case created with its product still needs before it is resolved.
DIAGNOSED = {"category": "network", "diagnosis": "firmware"}


async def act(http: httpx.AsyncClient, number: str, action: str, **body: Any) -> None:
    response = await http.post(f"/cases/{number}/{action}", json=body or None, headers=ANN)
    assert response.status_code == 200, response.text


async def create(http: httpx.AsyncClient, product: str) -> str:
    new = {"customer_email": GOLD_CUSTOMER, "subject": "VPN drops", "product": product}
    response = await http.post("/cases", json=new, headers=ANN)
    assert response.status_code == 201, response.text
    return str(response.json()["number"])


async def test_a_case_worked_by_a_real_worker_shows_in_the_summary(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    number = await create(http, "Billing")
    await act(http, number, "pick")
    await act(http, number, "reply", body="Try the new client.")
    await act(http, number, "resolve", resolution="New client fixes it.", fields=DIAGNOSED)
    await act(http, number, "reopen", comment="It came back.")
    await act(http, number, "resolve", resolution="Firmware update.", fields=DIAGNOSED)
    mail = await harness.sink.arrived(
        lambda ms: sum(PROPOSED in str(m["Subject"]) for m in ms) == 2
    )
    second = [m for m in mail if PROPOSED in str(m["Subject"])][-1]
    accepted = await http.post(f"/resolution/{link_token(second, 'resolution')}",
                               data={"decision": "accept"})  # fmt: skip
    assert accepted.status_code == 200, accepted.text
    mail = await harness.sink.arrived(
        lambda ms: any("How did we do?" in str(m["Subject"]) for m in ms)
    )
    survey = link_token(next(m for m in mail if "How did we do?" in str(m["Subject"])), "survey")
    assert (await http.post(f"/survey/{survey}", data={"rating": "5"})).status_code == 200
    await create(http, "Billing")  # another, still new: in progress

    period = {
        "from": since.isoformat(),
        "to": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
    }
    summary = (await http.get("/metrics/summary", params=period, headers=SAM)).json()
    assert (summary["cases_opened"], summary["cases_resolved"], summary["cases_in_progress"]) == (
        2, 1, 1,
    )  # fmt: skip
    compliance = summary["sla_compliance"]
    assert compliance["by_kpi"]["first_response"] == {
        "succeeded": 1, "noncompliant": 0, "percent": 100.0,
    }  # fmt: skip
    assert compliance["by_kpi"]["resolution"]["succeeded"] == 1
    first, resolution = summary["mean_first_response"], summary["mean_resolution_time"]
    assert first["count"] == 1 and 0 <= first["wall_clock_seconds"] < 120
    assert first["business_count"] == 1  # the gold policy counts around the clock
    assert resolution["count"] == 1 and resolution["business_count"] == 1
    assert resolution["wall_clock_seconds"] >= first["wall_clock_seconds"]
    assert summary["csat"] == {"responses": 1, "mean_rating": 5.0, "satisfied_percent": 100.0}

    products = (await http.get("/metrics/products", params=period, headers=SAM)).json()
    billing = next(r for r in products["rows"] if r["name"] == "Billing")
    assert (billing["cases_opened"], billing["cases_resolved"], billing["cases_in_progress"]) == (
        2, 1, 1,
    )  # fmt: skip
    mine = await http.get("/metrics/summary", params={**period, "agent": "ann"}, headers=ANN)
    assert mine.json()["cases_resolved"] == 1
