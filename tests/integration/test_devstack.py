"""The development stack's parts that need no running stack: the database it prepares (the demo
agent) on a real SQLite file, and how it supervises child processes (real ones, quick policy)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from caseflow.devstack.processes import RestartPolicy
from caseflow.devstack.stack import (
    DEMO_AGENT,
    DEMO_PASSWORD,
    Stack,
    demo_token,
    prepare_database,
)
from caseflow.passwords import check_password
from caseflow.settings import Settings
from caseflow.signing import legacy_token_hash, token_hash
from caseflow.store import directory
from caseflow.store.db import make_engine, session_factory, transaction, upgrade
from caseflow.store.models import Agent


def demo_agent(settings: Settings) -> Agent:
    engine = make_engine(settings.effective_database_url)
    with transaction(session_factory(engine), writes=False) as session:
        agent = directory.agent_by_handle(session, DEMO_AGENT)
    engine.dispose()
    assert agent is not None
    return agent


def test_the_demo_agent_is_an_admin_marked_as_demo_with_a_name(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)

    token = prepare_database(settings)

    demo = demo_agent(settings)
    assert (demo.role, demo.is_demo, demo.display_name) == ("admin", True, "Demo Agent")
    assert demo.token_hash == token_hash(settings.secret_key.get_secret_value(), token)
    assert {q.name for q in demo.queues} == {"gold", "standard", "escalations"}
    assert demo.password_hash is not None and check_password(demo.password_hash, DEMO_PASSWORD)


def test_an_older_databases_demo_supervisor_becomes_the_demo_admin(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    with transaction(session_factory(engine)) as session:
        directory.create_agent(session, DEMO_AGENT, "demo@caseflow.test", "supervisor", [],
                               legacy_token_hash(demo_token(settings)))  # fmt: skip
    engine.dispose()

    prepare_database(settings)

    demo = demo_agent(settings)
    assert (demo.role, demo.is_demo, demo.display_name) == ("admin", True, "Demo Agent")
    assert demo.token_hash == token_hash(
        settings.secret_key.get_secret_value(), demo_token(settings)
    )


# -- supervision ----------------------------------------------------------------------------------

QUICK = RestartPolicy(first_delay=0.1, max_delay=0.4, stable_after=5, quick=2, give_up_after=3)
SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
FAILING = [sys.executable, "-c", "raise SystemExit(3)"]


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def stop_when(stack: Stack, done: threading.Event) -> None:
    """Ask the watching stack to stop once `done` is set, as Ctrl-C would."""

    def wait() -> None:
        done.wait(timeout=30)
        stack.stopping = True

    threading.Thread(target=wait, daemon=True).start()


def test_a_killed_child_is_started_again_and_stopping_leaves_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "caseflow.devstack.stack")
    stack = Stack(Settings(home=tmp_path), tmp_path, policy=QUICK)
    worker = stack.spawn("worker", SLEEPER)
    api = stack.spawn("api", SLEEPER)
    first = worker.process.pid
    restarted = threading.Event()

    def kill_then_wait_for_the_new_one() -> None:
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while worker.process.pid == first and time.monotonic() < deadline:
            time.sleep(0.05)
        restarted.set()

    threading.Thread(target=kill_then_wait_for_the_new_one, daemon=True).start()
    stop_when(stack, restarted)
    try:
        assert stack.watch() == 0
    finally:
        pids = [worker.process.pid, api.process.pid]
        stack.stop()

    assert worker.process.pid != first and api.process.pid == pids[1]
    assert "worker exited with signal SIGKILL" in caplog.text
    assert f"restarted worker (pid {worker.process.pid})" in caplog.text
    assert all(gone(pid) for pid in [first, *pids])


def test_a_child_that_keeps_dying_at_once_is_given_up_on_with_its_exit_code(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stack = Stack(Settings(home=tmp_path), tmp_path, policy=QUICK)
    stack.spawn("worker", FAILING)
    other = stack.spawn("api", SLEEPER)
    started = time.monotonic()

    try:
        code = stack.watch()
    finally:
        stack.stop()

    assert code == 3 and time.monotonic() - started < 20
    assert caplog.text.count("worker exited with code 3") == 2  # restarted twice, then given up
    assert "worker keeps dying right after it starts (3 times in a row, last with code 3)" in (
        caplog.text
    )
    assert gone(other.process.pid)
