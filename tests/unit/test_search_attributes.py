"""Every place that registers Caseflow's search attributes registers the same ones."""

from __future__ import annotations

import re
from pathlib import Path

from caseflow.workflows import search

SETUP_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "temporal" / "setup-namespace.sh"


def test_the_compose_setup_script_registers_what_the_code_registers() -> None:
    script = SETUP_SCRIPT.read_text(encoding="utf-8")
    listed = re.search(r'ATTRIBUTES="([^"]*)"', script)
    assert listed is not None
    pairs = dict(pair.split("=") for pair in listed.group(1).split())
    assert pairs == search.cli_types()


def test_the_dev_server_is_started_with_every_registered_attribute() -> None:
    args = search.dev_server_args()
    assert args[1::2] == [f"{name}={kind}" for name, kind in search.cli_types().items()]
