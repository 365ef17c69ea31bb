"""`caseflow dev` supervises its children on the real stack: a worker killed with SIGKILL is
started again (the log says so) while the API goes on answering, the new worker carries on the
work, and Ctrl-C still leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_first_email import (
    CUSTOMER,
    Stack,
    _zombie,
    send_first_email,
    start_stack,
    wait_for_mail,
)
from tests.support.servers import free_port


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    ports = {name: free_port() for name in ("temporal", "ui", "smtp", "imap", "api")}
    running = start_stack(tmp_path / "home", ports)
    yield running
    running.stop()


def worker_pid(stack: Stack, role: bytes = b"activities") -> int | None:
    """The pid of the stack's `caseflow worker --role <role>` child, if one is running."""
    for pid in stack.children():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ours = b"caseflow.cli" in command and b"worker" in command and role in command
        if ours and not _zombie(pid):
            return pid
    return None


def test_a_killed_worker_is_restarted_while_the_api_answers(stack: Stack) -> None:
    killed = worker_pid(stack)
    assert killed is not None

    os.kill(killed, signal.SIGKILL)

    with httpx.Client(base_url=stack.api, timeout=10) as http:
        deadline = time.monotonic() + 30
        while (worker_pid(stack) in (None, killed)) and time.monotonic() < deadline:
            assert http.get("/health").status_code == 200  # the API was not taken down
            time.sleep(0.2)
        restarted = worker_pid(stack)
        assert restarted is not None and restarted != killed
        log = stack.log.read_text(errors="replace")
        assert re.search(
            r"worker exited with signal SIGKILL after \d+ s; restarting it in 1 s", log
        )
        assert f"restarted activity worker (pid {restarted})" in log
        auth = {"Authorization": f"Bearer {stack.token}"}
        assert http.get("/cases", headers=auth).status_code == 200

    send_first_email(stack.settings)  # the new worker does the work: an acknowledgement
    wait_for_mail(stack.settings, CUSTOMER, "We received your request", timeout=60)

    children = stack.children()
    assert worker_pid(stack, b"workflows") is not None  # the other role was left running
    assert len(children) == 6  # temporal, mail, workflow worker, activity worker, intake, api
    assert stack.stop() == 0
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists() and not _zombie(pid)]
