"""End to end on the real stack (`caseflow dev`): from a customer's first email to the survey.

A customer emails over SMTP → the acknowledgement arrives in their IMAP mailbox → an agent picks,
replies and resolves over HTTP → the customer accepts through the link → the survey email
arrives → the survey is answered → the workflow has completed. Then Ctrl-C leaves no process
behind, and starting again keeps the case.
"""

from __future__ import annotations

import email
import os
import re
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from temporalio.client import WorkflowExecutionStatus

from caseflow.client import connect
from caseflow.devstack.stack import demo_token
from caseflow.settings import Settings
from tests.support.api import link_token
from tests.support.harness import STAGES_DONE
from tests.support.servers import free_port

CUSTOMER = "carol@globex.example"
STARTUP = 90.0


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    settings: Settings
    log: Path
    token: str

    @property
    def api(self) -> str:
        return self.settings.public_url

    def children(self) -> list[int]:
        found: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            found += [int(pid) for pid in task.read_text().split()]
        return found

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        return self.process.wait(timeout=60)


def start_stack(home: Path, ports: dict[str, int]) -> Stack:
    env = {
        **os.environ,
        "CASEFLOW_HOME": str(home),
        "CASEFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "CASEFLOW_TEMPORAL_UI_PORT": str(ports["ui"]),
        "CASEFLOW_SMTP_PORT": str(ports["smtp"]),
        "CASEFLOW_IMAP_PORT": str(ports["imap"]),
        "CASEFLOW_API_PORT": str(ports["api"]),
        "CASEFLOW_PUBLIC_URL": f"http://127.0.0.1:{ports['api']}",
        "CASEFLOW_SURVEY_DELAY": "PT2S",
        "CASEFLOW_IMAP_POLL_INTERVAL": "PT2S",
    }
    log = home.parent / f"stack-{time.monotonic_ns()}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "caseflow.cli", "dev"], env=env, stdout=out, stderr=out
        )
    values: dict[str, Any] = {
        k.removeprefix("CASEFLOW_").lower(): v for k, v in env.items() if k.startswith("CASEFLOW_")
    }
    settings = Settings(**values)
    stack = Stack(process, settings, log, demo_token(settings))
    deadline = time.monotonic() + STARTUP
    while "Caseflow is running" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            stack.stop()
            raise AssertionError(f"the stack did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return stack


@pytest.fixture
def ports() -> dict[str, int]:
    return {name: free_port() for name in ("temporal", "ui", "smtp", "imap", "api")}


@pytest.fixture
def stack(tmp_path: Path, ports: dict[str, int]) -> Iterator[Stack]:
    running = start_stack(tmp_path / "home", ports)
    yield running
    running.stop()


def wait_for_mail(
    settings: Settings, address: str, subject: str, timeout: float = 30
) -> EmailMessage:
    """The first message in the address's IMAP inbox whose subject contains `subject`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in inbox(settings, address):
            if subject in str(message["Subject"]):
                return message
        time.sleep(0.5)
    raise AssertionError(f"no mail with {subject!r} for {address}")


def inbox(settings: Settings, address: str) -> list[EmailMessage]:
    """The address's inbox; empty while the address has received nothing (no mailbox yet)."""
    with IMAPClient(settings.imap_host, settings.imap_port, ssl=False, timeout=10) as imap:
        try:
            imap.login(address, "caseflow")
        except LoginError:
            return []
        imap.select_folder("INBOX", readonly=True)
        fetched = imap.fetch(imap.search(), [b"BODY.PEEK[]"]).values()
        messages = [email.message_from_bytes(d[b"BODY[]"], policy=default_policy) for d in fetched]
        return [m for m in messages if isinstance(m, EmailMessage)]


def send_first_email(settings: Settings) -> None:
    message = EmailMessage()
    message["From"] = f"Carol Diaz <{CUSTOMER}>"
    message["To"] = settings.support_address
    message["Subject"] = "Invoice shows the wrong VAT"
    message["Message-ID"] = "<first-email@globex.example>"
    message.set_content("Our November invoice charges 21% VAT instead of 20%.")
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port) as smtp:
        smtp.send_message(message)


def call(http: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    response = http.request(method, path, **kwargs)
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


def test_first_email_to_answered_survey_on_the_real_stack(
    stack: Stack, tmp_path: Path, ports: dict[str, int]
) -> None:
    settings = stack.settings
    send_first_email(settings)
    ack = wait_for_mail(settings, CUSTOMER, "We received your request")
    number = re.search(r"\[(CAS-\d+)\]", str(ack["Subject"]))
    assert number is not None and ack["Auto-Submitted"] == "auto-replied"
    case_number = number.group(1)

    auth = {"Authorization": f"Bearer {stack.token}"}
    with httpx.Client(base_url=stack.api, headers=auth, timeout=30) as http:
        assert call(http, "GET", "/cases")["items"][0]["number"] == case_number
        call(http, "POST", f"/cases/{case_number}/pick")
        call(http, "POST", f"/cases/{case_number}/reply", json={"body": "We are checking."})
        resolved = call(
            http,
            "POST",
            f"/cases/{case_number}/resolve",
            json={"resolution": "Credit note sent.", "fields": STAGES_DONE},
        )
        assert resolved["status"] == "resolved"

        proposal = wait_for_mail(settings, CUSTOMER, "Proposed resolution")
        token = link_token(proposal, "resolution")
        accepted = http.post(f"/resolution/{token}", data={"decision": "accept"})
        assert accepted.status_code == 200, accepted.text

        survey = wait_for_mail(settings, CUSTOMER, "How did we do?")
        answered = http.post(f"/survey/{link_token(survey, 'survey')}", data={"rating": "5"})
        assert answered.status_code == 200, answered.text
        assert_workflow_completed(settings, case_number)
        final = call(http, "GET", f"/cases/{case_number}")
        assert (final["status"], final["survey"]["rating"]) == ("closed", 5)

    children = stack.children()
    assert len(children) == 6  # temporal, mail, workflow worker, activity worker, intake, api
    assert stack.stop() == 0
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists() and not _zombie(pid)]

    again = start_stack(tmp_path / "home", ports)  # same home: every case is kept
    try:
        with httpx.Client(base_url=again.api, headers=auth, timeout=30) as http:
            assert [c["number"] for c in call(http, "GET", "/cases")["items"]] == [case_number]
        assert_workflow_completed(again.settings, case_number)
    finally:
        assert again.stop() == 0


def assert_workflow_completed(settings: Settings, number: str) -> None:
    import asyncio

    async def status() -> WorkflowExecutionStatus | None:
        client = await connect(settings.temporal_address)
        for _ in range(50):
            described = await client.get_workflow_handle(number).describe()
            if described.status == WorkflowExecutionStatus.COMPLETED:
                return described.status
            await asyncio.sleep(0.2)
        return described.status

    assert asyncio.run(status()) == WorkflowExecutionStatus.COMPLETED


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_ctrl_c_while_starting_stops_everything_at_once(
    tmp_path: Path, ports: dict[str, int]
) -> None:
    env = {**os.environ, "CASEFLOW_HOME": str(tmp_path / "home")}
    env |= {
        "CASEFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "CASEFLOW_TEMPORAL_UI_PORT": str(ports["ui"]),
        "CASEFLOW_SMTP_PORT": str(ports["smtp"]),
        "CASEFLOW_IMAP_PORT": str(ports["imap"]),
        "CASEFLOW_API_PORT": str(ports["api"]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "caseflow.cli", "dev"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack = Stack(process, Settings(), tmp_path / "none.log", "")
    deadline = time.monotonic() + 30
    while not stack.children() and time.monotonic() < deadline:
        time.sleep(0.05)  # until the first child (the Temporal dev server) is starting
    children = stack.children()
    started = time.monotonic()
    assert stack.stop() == 0
    assert time.monotonic() - started < 15
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists() and not _zombie(pid)]
