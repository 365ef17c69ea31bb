"""What `make run` prints: where the agents' pages and the portal are, and the demo sign-in."""

from __future__ import annotations

from pathlib import Path

from caseflow.devstack.stack import DEMO_AGENT, DEMO_PASSWORD, banner
from caseflow.settings import Settings


def test_the_banner_names_the_workspace_with_the_demo_password_and_the_portal() -> None:
    printed = banner(Settings(public_url="http://127.0.0.1:8000"), Path("home"), "token")

    lines = printed.splitlines()
    workspace = next(line for line in lines if "Agent pages" in line)
    portal = next(line for line in lines if "Portal" in line)
    assert "http://127.0.0.1:8000/agent" in workspace
    assert DEMO_AGENT in workspace and DEMO_PASSWORD in workspace
    assert "http://127.0.0.1:8000/portal" in portal
